import t from 'tap'
import { once } from 'node:events'
import { DeadlineSignals } from '../../src/http/deadline-signals.js'

t.test('reviews starting in the same slot share one signal; a new slot gets a new one', async (t) => {
  let now = 1_000_000
  const d = new DeadlineSignals(60_000, 10, () => now)
  const a = d.signal()
  now += 9
  t.equal(d.signal(), a, 'same 10 ms slot')
  now += 1
  const b = d.signal()
  t.not(b, a, 'next slot')
  t.notOk(a.aborted || b.aborted, 'not aborted before the deadline')
})

t.test('the signal aborts (by its timer, once the deadline has passed)', async (t) => {
  const d = new DeadlineSignals(20, 10)
  const s = d.signal()
  t.notOk(s.aborted)
  // The slot's timer is unref'd (it must not keep the webhook alive): a referenced handle keeps this
  // test's event loop running until the abort, or tap ends the test as unfinished.
  const alive = setInterval(() => {}, 1_000)
  await once(s, 'abort')
  clearInterval(alive)
  t.ok(s.aborted)
  t.not(d.signal(), s, 'a review starting after the abort gets a fresh signal')
  t.notOk(d.signal().aborted)
})

t.test('many listeners on one slot signal are not reported as a leak', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => void warnings.push(w.name)
  process.on('warning', onWarning)
  const s = new DeadlineSignals(60_000, 60_000).signal()
  for (let k = 0; k < 50; k++) s.addEventListener('abort', () => {}, { once: true })
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  t.same(warnings, [])
})
