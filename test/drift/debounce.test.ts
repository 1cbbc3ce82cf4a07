// debounceDelay (src/drift/debounce.ts): quiet time, bounded by the longest wait.
import t from 'tap'
import { debounceDelay } from '../../src/drift/debounce.js'

t.test('the first change waits the quiet time', async (t) => {
  t.equal(debounceDelay({ now: 100, waitingSince: undefined, quietMs: 1000, maxWaitMs: 10_000 }), 1000)
  t.equal(debounceDelay({ now: 100, waitingSince: undefined, quietMs: 0, maxWaitMs: 10_000 }), 0, 'an immediate round stays immediate')
})

t.test('a later change restarts the quiet time while the longest wait allows', async (t) => {
  t.equal(debounceDelay({ now: 3000, waitingSince: 0, quietMs: 1000, maxWaitMs: 10_000 }), 1000)
  t.equal(debounceDelay({ now: 9500, waitingSince: 0, quietMs: 1000, maxWaitMs: 10_000 }), 500, 'cut to what is left of the longest wait')
  t.equal(debounceDelay({ now: 12_000, waitingSince: 0, quietMs: 1000, maxWaitMs: 10_000 }), 0, 'past it: at once')
})

t.test('a change every 300 ms for a minute: no change waits more than 10 s for its round', async (t) => {
  // What the controller does with it: waitingSince is set by the first change, cleared by the round.
  let waitingSince: number | undefined
  let due: number | undefined
  const rounds: number[] = []
  const changes: number[] = []
  for (let now = 0; now <= 72_000; now += 100) {
    if (due !== undefined && now >= due) {
      rounds.push(now)
      due = undefined
      waitingSince = undefined
    }
    if (now % 300 === 0 && now < 60_000) {
      changes.push(now)
      due = now + debounceDelay({ now, waitingSince, quietMs: 1000, maxWaitMs: 10_000 })
      waitingSince ??= now
    }
  }
  t.ok(rounds.length >= 5, `${rounds.length} rounds during the churn (a plain debounce: 1, after it)`)
  const waits = changes.map((c) => (rounds.find((r) => r >= c) ?? Infinity) - c)
  t.ok(Math.max(...waits) <= 10_000, `longest wait of a change ${Math.max(...waits)} ms`)
})
