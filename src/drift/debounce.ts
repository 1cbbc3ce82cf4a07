/**
 * debounceDelay: when the next evaluation round starts, given a new change.
 *
 * A change waits for `quietMs` without further changes (a node pool replaced node by node is one
 * round), but never more than `maxWaitMs` after the first change still waiting: in a cluster that
 * creates a pod every few hundred milliseconds the quiet time never comes, and a plain debounce
 * would postpone every evaluation for as long as the churn lasts. Pure.
 */
export interface DebounceState {
  /** Now, ms (monotonic). */
  now: number
  /** When the first change still waiting arrived, or undefined when nothing waits. */
  waitingSince: number | undefined
  /** The quiet time asked for, ms. */
  quietMs: number
  /** The longest a waiting change may wait, ms. */
  maxWaitMs: number
}

/** ms from now until the round starts. */
export function debounceDelay(s: DebounceState): number {
  if (s.waitingSince === undefined) return s.quietMs
  const left = s.waitingSince + s.maxWaitMs - s.now
  return Math.max(0, Math.min(s.quietMs, left))
}
