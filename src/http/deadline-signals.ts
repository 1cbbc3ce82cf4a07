import { setMaxListeners } from 'node:events'

/** The deadline of one review: its signal, and release() once the review has its answer. */
export interface DeadlineLease {
  /** Aborts at the review's deadline. Made on first use: a review that never asks for it costs no timer. */
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

/** The signal of a lease first asked for after its release: nothing waits on it, it never aborts. */
const NEVER = new AbortController().signal

/**
 * Deadline signals for reviews, shared by the reviews that start within the same `granularityMs`:
 * one AbortController and one timer per slot instead of one per review (at thousands of reviews a
 * second the per-review AbortController + setTimeout + clearTimeout was a measurable share of the
 * warm path: docs/benchmarks.md). A slot's signal aborts at the slot's start + deadlineMs, so a
 * review's deadline comes at most `granularityMs` early, never late. Only the timer aborts a slot's
 * signal, so sharing it between reviews is safe. The timer does not keep the process alive.
 *
 * A review joins its slot only when it first asks for its signal (an image lookup that goes to a
 * registry); the slot is the one of the review's start, so asking late does not move the deadline.
 * A review answered from the caches never asks: at the apiserver's pace, where every review would
 * have a slot of its own, that saves an AbortController, a timer and its clearing per review, 18-75 us
 * of CPU with cold caches (two sets of 3 runs) (docs/benchmarks.md, "Fourth round").
 *
 * A slot whose reviews have all been released, and that no new review can join (a later slot has
 * started), has its timer cleared: nothing waits on its signal, and aborting it would only cost a
 * DOMException with its stack trace and the event dispatch. A slot whose timer fires with no review
 * in it is not aborted either.
 */
export class DeadlineSignals {
  private current: Slot | undefined
  private slots = 0

  constructor(
    private readonly deadlineMs: number,
    private readonly granularityMs = 10,
    private readonly now: () => number = Date.now,
  ) {}

  /** Slots opened so far (an AbortController and a timer each). */
  get opened(): number {
    return this.slots
  }

  /** The deadline of a review starting now: its signal aborts within (deadlineMs - granularityMs, deadlineMs] from now, unless released first. */
  acquire(): DeadlineLease {
    const index = Math.floor(this.now() / this.granularityMs)
    let slot: Slot | undefined
    let released = false
    const join = (): AbortSignal => {
      if (slot === undefined) {
        if (released) return NEVER
        slot = this.slotOf(index)
        slot.active++
      }
      return slot.controller.signal
    }
    return {
      get signal() {
        return join()
      },
      release: () => {
        if (released) return
        released = true
        if (slot === undefined) return
        slot.active--
        if (slot.active === 0 && slot !== this.current) clearTimeout(slot.timer)
      },
    }
  }

  /** The slot of `index`: the current one when it is that slot and not aborted, else a new one. */
  private slotOf(index: number): Slot {
    const s = this.current
    if (s !== undefined && s.index === index && !s.controller.signal.aborted) return s
    const slot = this.open(index)
    // A review asking late for an earlier slot's signal does not displace the current slot.
    if (s === undefined || index >= s.index || s.controller.signal.aborted) {
      if (s !== undefined && s.active === 0) clearTimeout(s.timer)
      this.current = slot
    }
    return slot
  }

  private open(index: number): Slot {
    this.slots++
    const controller = new AbortController()
    // Every review of the slot may listen (image lookups in flight): not a leak.
    setMaxListeners(0, controller.signal)
    const slot: Slot = { index, controller, active: 0, timer: undefined as unknown as NodeJS.Timeout }
    slot.timer = setTimeout(() => {
      if (this.current === slot) this.current = undefined
      if (slot.active > 0) controller.abort()
    }, Math.max(0, index * this.granularityMs + this.deadlineMs - this.now()))
    slot.timer.unref()
    return slot
  }
}
