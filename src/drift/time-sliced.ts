/**
 * forEachTimeSliced: runs an async function over a list with bounded concurrency, giving the event
 * loop back after every time slice.
 *
 * Why: the drift controller evaluates on the webhook's own event loop. With warm caches an
 * evaluation (gatherStored + decide) resolves in microtasks only, so a batch of thousands of
 * workloads, a plain `await` loop, would be one long task: no admission request, probe or Lease
 * renewal is read until it ends (bench/drift.ts: 10,000 workloads are ~2.5 CPU-seconds). After each
 * slice the workers wait for `setImmediate`, which runs after the poll phase: pending I/O is served
 * between slices, and a slice is at most `sliceMs` plus one evaluation.
 */
export interface TimeSliceOptions {
  /** Items in flight at once (their image lookups may wait on the registry). */
  concurrency: number
  /** Longest run of work before the loop is given back, ms. */
  sliceMs: number
  /** Monotonic clock, ms. */
  now: () => number
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export async function forEachTimeSliced<T>(items: readonly T[], fn: (item: T) => Promise<void>, o: TimeSliceOptions): Promise<void> {
  let next = 0
  let sliceStart = o.now()
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      await fn(items[next++]!)
      if (o.now() - sliceStart >= o.sliceMs) {
        await nextTurn()
        sliceStart = o.now()
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker))
}
