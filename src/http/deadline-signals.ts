import { setMaxListeners } from 'node:events'

/** The deadline of one review: its signal, and release() once the review has its answer. */
export interface DeadlineLease {
  readonly signal: AbortSignal
  /** The review is answered: nothing waits on the signal for it any more (idempotent). */
  release(): void
}

interface Slot {
  index: number
  controller: AbortController
  timer: NodeJS.Timeout
  /** Reviews of the slot not released yet. */
  active: number
}

/**
 * Deadline signals for reviews, shared by the reviews that start within the same `granularityMs`:
 * one AbortController and one timer per slot instead of one per review (at thousands of reviews a
 * second the per-review AbortController + setTimeout + clearTimeout was a measurable share of the
 * warm path, which never waits on the signal: docs/benchmarks.md). A slot's signal aborts at the
 * slot's start + deadlineMs, so a review's deadline comes at most `granularityMs` early, never late.
 * Only the timer aborts a slot's signal, so sharing it between reviews is safe. The timer does not
 * keep the process alive.
 *
 * A slot whose reviews have all been released, and that no new review can join (a later slot has
 * started), has its timer cleared: nothing waits on its signal, and aborting it would only cost a
 * DOMException with its stack trace and the event dispatch. At a low rate every review has a slot of
 * its own, so that abort came once per review, seconds after its answer (docs/benchmarks.md, "Third
 * round"). A slot whose timer fires with no review in it is not aborted either.
 */
export class DeadlineSignals {
  private current: Slot | undefined

  constructor(
    private readonly deadlineMs: number,
    private readonly granularityMs = 10,
    private readonly now: () => number = Date.now,
  ) {}

  /** The deadline of a review starting now: its signal aborts within (deadlineMs - granularityMs, deadlineMs] from now, unless released first. */
  acquire(): DeadlineLease {
    const now = this.now()
    const index = Math.floor(now / this.granularityMs)
    let s = this.current
    if (s === undefined || s.index !== index || s.controller.signal.aborted) {
      if (s !== undefined && s.active === 0) clearTimeout(s.timer)
      s = this.open(index, now)
    }
    s.active++
    const slot = s
    let released = false
    return {
      signal: slot.controller.signal,
      release: () => {
        if (released) return
        released = true
        slot.active--
        if (slot.active === 0 && slot !== this.current) clearTimeout(slot.timer)
      },
    }
  }

  private open(index: number, now: number): Slot {
    const controller = new AbortController()
    // Every review of the slot may listen (image lookups in flight): not a leak.
    setMaxListeners(0, controller.signal)
    const slot: Slot = { index, controller, active: 0, timer: undefined as unknown as NodeJS.Timeout }
    slot.timer = setTimeout(() => {
      if (this.current === slot) this.current = undefined
      if (slot.active > 0) controller.abort()
    }, Math.max(0, index * this.granularityMs + this.deadlineMs - now))
    slot.timer.unref()
    this.current = slot
    return slot
  }
}
