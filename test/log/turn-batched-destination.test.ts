// The log destination: the lines of one event-loop turn reach the writer as one chunk, in order,
// after the turn; nothing is written before the scheduled flush; a turn with no line writes nothing.
import t from 'tap'
import pino from 'pino'
import { turnBatchedDestination } from '../../src/log/turn-batched-destination.js'

function harness() {
  const writes: string[] = []
  const queue: Array<() => void> = []
  const dest = turnBatchedDestination({ write: (c) => writes.push(c) }, (f) => void queue.push(f))
  const endTurn = () => queue.splice(0).forEach((f) => f())
  return { writes, queue, dest, endTurn }
}

t.test('lines of one turn: one write at the end of the turn, in order', async (t) => {
  const h = harness()
  h.dest.write('a\n')
  h.dest.write('b\n')
  h.dest.write('c\n')
  t.same(h.writes, [], 'nothing written during the turn')
  t.equal(h.queue.length, 1, 'one flush scheduled for the turn')
  h.endTurn()
  t.same(h.writes, ['a\nb\nc\n'])
})

t.test('lines of separate turns: one write each', async (t) => {
  const h = harness()
  h.dest.write('1\n')
  h.endTurn()
  h.dest.write('2\n')
  h.endTurn()
  h.endTurn()
  t.same(h.writes, ['1\n', '2\n'], 'a turn without lines writes nothing')
})

t.test('with pino and setImmediate: a line is out after the turn that logged it', async (t) => {
  const writes: string[] = []
  const logger = pino({ base: null, timestamp: false }, turnBatchedDestination({ write: (c) => writes.push(c) }))
  logger.info({ uid: 'u1' }, 'first')
  logger.info({ uid: 'u2' }, 'second')
  t.same(writes, [])
  await new Promise((r) => setImmediate(r))
  t.equal(writes.length, 1)
  t.same(writes[0]!.trim().split('\n').map((l) => JSON.parse(l).msg), ['first', 'second'])
})
