import { setMaxListeners } from 'node:events'

/**
 * Deadline signals for reviews, shared by the reviews that start within the same `granularityMs`:
 * one AbortController and one timer per slot instead of one per review (at thousands of reviews a
 * second the per-review AbortController + setTimeout + clearTimeout was a measurable share of the
 * warm path, which never waits on the signal: docs/benchmarks.md). A slot's signal aborts at the
 * slot's start + deadlineMs, so a review's deadline comes at most `granularityMs` early, never late.
 * Only the timer aborts a slot's signal, so sharing it between reviews is safe. The timer does not
 * keep the process alive.
 */
export class DeadlineSignals {
  private slot = -1
  private current: AbortSignal | undefined

  constructor(
    private readonly deadlineMs: number,
    private readonly granularityMs = 10,
    private readonly now: () => number = Date.now,
  ) {}

  /** The signal of a review starting now: aborted within (deadlineMs - granularityMs, deadlineMs] from now. */
  signal(): AbortSignal {
    const now = this.now()
    const slot = Math.floor(now / this.granularityMs)
    if (slot !== this.slot || this.current === undefined || this.current.aborted) {
      const controller = new AbortController()
      // Every review of the slot may listen (image lookups in flight): not a leak.
      setMaxListeners(0, controller.signal)
      const timer = setTimeout(() => controller.abort(), Math.max(0, slot * this.granularityMs + this.deadlineMs - now))
      timer.unref()
      this.slot = slot
      this.current = controller.signal
    }
    return this.current
  }
}
