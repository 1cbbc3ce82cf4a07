// forEachTimeSliced (src/drift/time-sliced.ts): every item once, bounded concurrency, and the event
// loop given back between slices even when every item resolves in microtasks only.
import t from 'tap'
import { forEachTimeSliced } from '../../src/drift/time-sliced.js'

/** A clock that advances 1 ms per reading: slices are counted in readings, not in real time. */
const tickingClock = (): (() => number) => {
  let ms = 0
  return () => ms++
}
const items = Array.from({ length: 200 }, (_, i) => i)

t.test('every item exactly once, at most `concurrency` in flight', async (t) => {
  const seen: number[] = []
  let inFlight = 0
  let most = 0
  await forEachTimeSliced(items, async (i) => {
    inFlight++
    most = Math.max(most, inFlight)
    await Promise.resolve()
    seen.push(i)
    inFlight--
  }, { concurrency: 8, sliceMs: 5, now: tickingClock() })
  t.same([...seen].sort((a, b) => a - b), items, 'each item processed once')
  t.equal(most, 8, 'eight in flight at most, and eight reached')
})

/** How many items were done when a callback queued with setImmediate before the batch ran. */
async function doneWhenLoopRan(sliceMs: number): Promise<number> {
  let done = 0
  let at = -1
  setImmediate(() => (at = done))
  // Microtask-only work: what a warm-cache evaluation is.
  await forEachTimeSliced(items, async () => {
    await Promise.resolve()
    done++
  }, { concurrency: 8, sliceMs, now: tickingClock() })
  if (at === -1) await new Promise((r) => setImmediate(r))
  return at
}

t.test('microtask-only work gives the loop back after each slice', async (t) => {
  const at = await doneWhenLoopRan(5)
  t.ok(at > 0 && at < items.length, `the queued callback ran in the middle of the batch (after ${at} of ${items.length})`)
  const unsliced = await doneWhenLoopRan(Number.POSITIVE_INFINITY)
  t.equal(unsliced, items.length, 'without slices it runs only after the whole batch (what the slices prevent)')
})

t.test('an item that fails rejects the batch', async (t) => {
  await t.rejects(forEachTimeSliced([1, 2, 3], async (i) => {
    if (i === 2) throw new Error('boom')
  }, { concurrency: 2, sliceMs: 5, now: tickingClock() }), /boom/)
})

t.test('an empty list resolves', async (t) => {
  let calls = 0
  await forEachTimeSliced([], async () => {
    calls++
  }, { concurrency: 8, sliceMs: 5, now: tickingClock() })
  t.equal(calls, 0)
})
