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
  // The first review is released before it asks for its signal (no slot: what it is given later never
  // aborts); the second slot is released after a later slot started (its timer is cleared). Neither
  // aborts; a slot with a review still in it does.
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
  void held.signal // slot 2 starts: slot 1 can no longer be joined
  second.release()
  t.notOk(second.signal.aborted, 'one review of the slot is still running')
  sharer.release()
  await whileAlive(once(held.signal, 'abort'))
  t.notOk(first.signal.aborted, 'released before asking: never aborts')
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

t.test('a review that never asks for its signal opens no slot (no AbortController, no timer)', async (t) => {
  let now = 0
  const d = new DeadlineSignals(30, 10, () => now)
  for (let k = 0; k < 5; k++, now += 10) d.acquire().release()
  t.equal(d.opened, 0)
  const l = d.acquire()
  void l.signal
  l.release()
  t.equal(d.opened, 1, 'asking opens its slot')
})

t.test("a signal asked for late keeps the deadline of the review's start; the current slot stays", async (t) => {
  let now = 0
  const d = new DeadlineSignals(30, 10, () => now)
  const early = d.acquire() // starts in slot 0
  now = 20
  const later = d.acquire() // slot 2, asks at once
  const laterSignal = later.signal
  const earlySignal = early.signal // asked at 20 ms for slot 0: its timer fires 30 - 20 = 10 ms from now
  t.not(earlySignal, laterSignal)
  t.equal(d.acquire().signal, laterSignal, 'slot 2 is still the one new reviews join')
  await whileAlive(once(earlySignal, 'abort'))
  t.notOk(laterSignal.aborted, 'the later slot aborts later')
})

t.test('a signal first asked for after release never aborts and opens no slot', async (t) => {
  const d = new DeadlineSignals(0, 10)
  const l = d.acquire()
  l.release()
  const s = l.signal
  t.equal(d.opened, 0, 'no slot, so no timer that could abort it')
  t.notOk(s.aborted)
  t.equal(l.signal, s, 'the same signal when asked again')
})
