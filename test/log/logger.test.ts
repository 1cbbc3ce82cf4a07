import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { createLogger, isoTimeOncePerMs, requestLineLogger } from '../../src/log/logger.js'

function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(l)
      cb()
    },
  })
  return { stream, lines }
}
const flush = (): Promise<void> => new Promise((r) => setImmediate(r))

const fields = { uid: 'u-1', kind: 'Pod', namespace: 'ns', name: 'p', operation: 'CREATE', user: 'system:admin', endpoint: 'mutate', mode: 'enforce', decision: 'mutated', duration_ms: 0.4 }

t.test('isoTimeOncePerMs writes what pino.stdTimeFunctions.isoTime writes', async (t) => {
  for (let k = 0; k < 50; k++) {
    const before = Date.now()
    const ours = isoTimeOncePerMs()
    const theirs = pino.stdTimeFunctions.isoTime()
    const after = Date.now()
    if (before !== after) continue // the millisecond turned between the calls
    t.equal(ours, theirs)
  }
  const m = /^,"time":"(.*)"$/.exec(isoTimeOncePerMs())
  t.ok(m && !Number.isNaN(Date.parse(m[1]!)), 'an ISO time field')
})

t.test('the request line logger: same format and fields as the base logger, no redaction', async (t) => {
  const s = sink()
  const base = createLogger('info', s.stream as never)
  base.info(fields, 'admission review')
  requestLineLogger(base).info(fields, 'admission review')
  await flush()
  t.equal(s.lines.length, 2)
  const [a, b] = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  delete a!['time']
  delete b!['time']
  t.same(b, a, 'identical lines apart from the time')
  t.same(Object.keys(b!), ['level', 'time', 'service', ...Object.keys(fields), 'msg'].filter((k) => k !== 'time'))
})

t.test('the base logger still redacts (error lines go through it)', async (t) => {
  const s = sink()
  const base = createLogger('info', s.stream as never)
  requestLineLogger(base) // making the child changes nothing on the parent
  base.error({ object: { secret: 'c2VjcmV0' }, err: { token: 'tkn', auth: 'x' }, password: 'p' }, 'failed')
  await flush()
  t.equal(s.lines.length, 1)
  t.notMatch(s.lines[0]!, /c2VjcmV0|tkn|"p"/)
  t.match(s.lines[0]!, /"object":"\[redacted\]"/)
  t.match(s.lines[0]!, /"password":"\[redacted\]"/)
})

t.test('the request line logger follows the base logger level', async (t) => {
  const s = sink()
  const base = createLogger('warn', s.stream as never)
  requestLineLogger(base).info(fields, 'admission review')
  await flush()
  t.equal(s.lines.length, 0)
})
