import t from 'tap'
import { once } from 'node:events'
import { DeadlineSignals } from '../../src/http/deadline-signals.js'

/** Keeps this test's event loop alive while it waits for an unref'd slot timer (the webhook must not be kept alive by it). */
async function whileAlive<T>(p: Promise<T>): Promise<T> {
  const alive = setInterval(() => {}, 1_000)
  try {
    return await p
  } finally {
    clearInterval(alive)
  }
}

t.test('reviews starting in the same slot share one signal; a new slot gets a new one', async (t) => {
  let now = 1_000_000
  const d = new DeadlineSignals(60_000, 10, () => now)
  const a = d.acquire()
  now += 9
  t.equal(d.acquire().signal, a.signal, 'same 10 ms slot')
  now += 1
  const b = d.acquire()
  t.not(b.signal, a.signal, 'next slot')
  t.notOk(a.signal.aborted || b.signal.aborted, 'not aborted before the deadline')
})

t.test('the signal of a review still running aborts (by its timer, once the deadline has passed)', async (t) => {
  const d = new DeadlineSignals(20, 10)
  const lease = d.acquire()
  t.notOk(lease.signal.aborted)
  await whileAlive(once(lease.signal, 'abort'))
  t.ok(lease.signal.aborted)
  t.not(d.acquire().signal, lease.signal, 'a review starting after the abort gets a fresh signal')
  t.notOk(d.acquire().signal.aborted)
})

t.test('a slot whose reviews were all released is not aborted at its deadline', async (t) => {
  // The first slot is released while still the current one (its timer stays until a later slot
  // starts or it fires); the second is released after a later slot started (its timer is cleared).
  // Neither aborts; a slot with a review still in it does.
  let now = 0
  const d = new DeadlineSignals(30, 10, () => now)
  const first = d.acquire()
  first.release()
  first.release() // idempotent: must not make the count negative
  now = 10
  const second = d.acquire()
  const sharer = d.acquire()
  t.equal(sharer.signal, second.signal)
  now = 20
  const held = d.acquire()
  second.release()
  t.notOk(second.signal.aborted, 'one review of the slot is still running')
  sharer.release()
  // first's timer has the same duration as held's and was armed before it: node runs it first
  await whileAlive(once(held.signal, 'abort'))
  t.notOk(first.signal.aborted, 'released while current: the timer fired on an empty slot')
  t.notOk(second.signal.aborted, 'released after a later slot started')
  t.ok(held.signal.aborted, 'held past its deadline')
})

t.test('many listeners on one slot signal are not reported as a leak', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => void warnings.push(w.name)
  process.on('warning', onWarning)
  const s = new DeadlineSignals(60_000, 60_000).acquire().signal
  for (let k = 0; k < 50; k++) s.addEventListener('abort', () => {}, { once: true })
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  t.same(warnings, [])
})
