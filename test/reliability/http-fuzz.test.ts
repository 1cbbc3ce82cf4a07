/**
 * HTTP fuzzing of the real HTTPS webhook listener (fastify, HTTP/2 + HTTP/1.1, real TLS) in this
 * process: malformed, truncated, deeply nested, huge (just over and far over the 7 MiB limit) and
 * slow-drip bodies, slow headers, silent TLS clients, idle keep-alive connections, and a slowloris
 * crowd while ordinary reviews keep being answered.
 *
 * Asserted: no crash (the server answers a normal review at the end and /livez is 200), every
 * /mutate and /validate answer is an AdmissionReview (uid when the body had one), memory growth
 * stays under a generous bound (peak RSS sampled during the whole file), and every misbehaving
 * connection is answered or closed once the configured limit has passed (limit + check interval +
 * a fixed slack as the polling deadline). The limits here are short versions of WEBHOOK_TIMEOUTS
 * (src/http/webhook-app.ts) passed through ServeIO.webhookTimeouts; production values are documented
 * there. Budget: WASM_ADMISSION_FUZZ_RUNS (default 300) fuzz bodies per protocol.
 */
import t from 'tap'
import fc from 'fast-check'
import tls from 'node:tls'
import net from 'node:net'
import https from 'node:https'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import http2 from 'node:http2'
import { getHealth, post1, post2 } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { cluster, linux, SEED_RCS, wasm } from '../helpers/facts.js'
import { REVIEW_BODY_LIMIT } from '../../src/http/body.js'
import type { WebhookTimeouts } from '../../src/http/webhook-app.js'
import { eventually, Ledger, mib, startReliabilityServer } from './helpers.js'

const RUNS = Number(process.env.WASM_ADMISSION_FUZZ_RUNS ?? '300')
const ledger = new Ledger('http-fuzz')
const LIMITS: Partial<WebhookTimeouts> = { handshakeMs: 1500, headersMs: 1500, requestMs: 3000, keepAliveMs: 1500, connectionMs: 4000, http2SessionMs: 5000, checkIntervalMs: 250 }
/** Polling deadline after a limit has passed: the limit, node's check interval, and slack for a loaded 2-core machine. */
const SLACK_MS = 5000
const within = (limitMs: number): number => limitMs + LIMITS.checkIntervalMs! + SLACK_MS

const s = await startReliabilityServer({
  sources: {
    images: { lookup: async (i) => (i.startsWith('spin') ? wasm(i, 'spin', { hasEntrypoint: false }) : linux(i)), readiness: () => ({ ready: true, detail: '' }) },
    cluster: { snapshot: () => cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2 } }), readiness: () => ({ ready: true, detail: '' }) },
  },
  timeouts: LIMITS,
})
const port = s.server.webhookPort
t.teardown(async () => {
  clearInterval(sampler)
  ledger.flush()
  await s.server.shutdown('test end')
})

// ------------------------------------------------------------------ memory: sampled for the whole file

// A forced GC for the end-of-file measurement (tap runs without --expose-gc).
v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
// Warm up first (code paths compiled, pools allocated) so the baseline is a serving process.
{
  const h2 = http2.connect(s.url, { ca: s.ca.caPem })
  for (let i = 0; i < 50; i++) {
    const body = JSON.stringify(review(pod([{ name: 'a', image: i % 2 ? 'spin-app:v1' : 'nginx' }])))
    await post1(s.url, i % 2 ? '/mutate' : '/validate', body, s.ca.caPem)
    await post2(h2, '/mutate', body)
  }
  h2.close()
}
gc()
const baseline = process.memoryUsage()
let peakRss = baseline.rss
let peakHeap = baseline.heapUsed
const sampler = setInterval(() => {
  const m = process.memoryUsage()
  peakRss = Math.max(peakRss, m.rss)
  peakHeap = Math.max(peakHeap, m.heapUsed)
}, 20)

// ------------------------------------------------------------------ helpers

function isReview(body: unknown, uid?: string): boolean {
  const b = body as { kind?: string; response?: { uid?: unknown; allowed?: unknown } } | undefined
  return b?.kind === 'AdmissionReview' && typeof b.response?.allowed === 'boolean' && typeof b.response?.uid === 'string' && (uid === undefined || b.response.uid === uid)
}

interface RawResult {
  closed: boolean
  /** ms from connect to close (or to the deadline). */
  ms: number
  received: string
}

/** A raw TLS connection (ALPN http/1.1 unless told) whose fate is recorded. */
function rawTls(alpn: string[] = ['http/1.1']): Promise<{ sock: tls.TLSSocket; result: Promise<RawResult>; isClosed: () => boolean; received: () => string }> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    let received = ''
    let closed = false
    const sock = tls.connect({ host: '127.0.0.1', port, ca: s.ca.caPem, servername: 'localhost', ALPNProtocols: alpn }, () => resolve({ sock, result, isClosed: () => closed, received: () => received }))
    const result = new Promise<RawResult>((r) => sock.once('close', () => { closed = true; r({ closed: true, ms: Date.now() - started, received }) }))
    sock.on('data', (d: Buffer) => (received += d.toString('latin1')))
    sock.on('error', () => undefined)
    sock.once('error', (e) => { if (!sock.encrypted || !closed) reject(e) })
  })
}

/** Writes one byte every `everyMs` until the socket closes or `maxBytes` are written (a slow-drip client). */
function drip(sock: { write(b: string): unknown; destroyed?: boolean }, byte: string, everyMs: number, maxBytes: number): () => number {
  let sent = 0
  const timer = setInterval(() => {
    if (sock.destroyed || sent >= maxBytes) return clearInterval(timer)
    try {
      sock.write(byte)
      sent++
    } catch {
      clearInterval(timer)
    }
  }, everyMs)
  return () => {
    clearInterval(timer)
    return sent
  }
}

async function expectClosed(t: Tap.Test, what: string, isClosed: () => boolean, limitMs: number, started: number): Promise<number> {
  const ok = await eventually(isClosed, within(limitMs))
  const ms = Date.now() - started
  t.ok(ok, `${what}: closed by the server (after ${ms} ms; limit ${limitMs} ms)`)
  return ms
}
declare namespace Tap {
  type Test = import('tap').Test
}

/** Streams `total` bytes as a body (valid review prefix with a uid, then padding), HTTP/1.1. */
function postHuge1(total: number, declareLength: boolean, uid: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${s.url}/validate`, { method: 'POST', ca: s.ca.caPem, agent: false, headers: { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(total) } : {}) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }))
    })
    req.on('error', reject)
    writeHugeBody(req, uid, total)
  })
}

/** Streams `total` bytes of a review whose uid comes first, 1 MiB at a time, honouring back-pressure. */
function writeHugeBody(req: NodeJS.WritableStream, uid: string, total: number): void {
  const prefix = Buffer.from(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${uid}","pad":"`)
  const chunk = Buffer.alloc(1024 * 1024, 0x61)
  let sent = 0
  const pump = (): void => {
    if (sent === 0) {
      req.write(prefix)
      sent = prefix.length
    }
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent)
      sent += n
      if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        req.once('drain', pump)
        return
      }
    }
    req.end()
  }
  pump()
}

function postHuge2(session: http2.ClientHttp2Session, total: number, uid: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' })
    let status = 0
    const chunks: Buffer[] = []
    req.on('response', (h) => (status = Number(h[':status'])))
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      resolve({ status, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') })
      req.destroy() // the server answers at the limit and resets the stream; the unsent rest is dropped
    })
    req.on('error', reject)
    writeHugeBody(req, uid, total)
  })
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca: s.ca.caPem })
t.teardown(() => agent.destroy())

// ------------------------------------------------------------------ fuzzed bodies

const validBody = (uid: string): string => JSON.stringify(review(pod([{ name: 'a', image: 'spin-app:v1' }, { name: 'b', image: 'nginx' }]), { uid }))
const bodyArb = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((b) => ({ kind: 'bytes', body: Buffer.from(b), uid: undefined as string | undefined })),
  fc.tuple(fc.uuid(), fc.nat()).map(([uid, cut]) => {
    const full = validBody(uid)
    return { kind: 'truncated', body: Buffer.from(full.slice(0, cut % full.length)), uid: undefined as string | undefined }
  }),
  fc.jsonValue({ maxDepth: 6 }).map((v) => ({ kind: 'json', body: Buffer.from(JSON.stringify(v)), uid: undefined as string | undefined })),
  fc.tuple(fc.uuid(), fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('object', 'kind', 'operation', 'oldObject', 'namespace', 'userInfo')).map(([uid, v, field]) => {
    const b = JSON.parse(validBody(uid)) as { request: Record<string, unknown> }
    b.request[field] = v
    return { kind: 'mangled-field', body: Buffer.from(JSON.stringify(b)), uid }
  }),
  fc.tuple(fc.uuid(), fc.constantFrom('\uD800', '\u0000', '\uFFFF', 'é', '\u202E')).map(([uid, ch]) => ({ kind: 'odd-unicode', body: Buffer.from(validBody(uid).replace('"a"', JSON.stringify(`a${ch}`))), uid })),
  fc.uuid().map((uid) => ({ kind: 'invalid-utf8', body: Buffer.concat([Buffer.from(validBody(uid).slice(0, -2)), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('}}')]), uid: undefined as string | undefined })),
)
const contentTypeArb = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', '*/*', 'application/json;;;;')

t.test('fuzzed bodies over HTTP/1.1 keep-alive and HTTP/2: every answer is an AdmissionReview', async (t) => {
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  const kinds: Record<string, number> = {}
  const statuses: Record<number, number> = {}
  await fc.assert(
    fc.asyncProperty(bodyArb, contentTypeArb, fc.constantFrom('/mutate', '/validate'), fc.boolean(), async (b, contentType, path, h2) => {
      ledger.add('inputs')
      kinds[b.kind] = (kinds[b.kind] ?? 0) + 1
      let status: number
      let body: unknown
      if (h2) {
        const r = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType })
          let st = 0
          const chunks: Buffer[] = []
          req.on('response', (h) => (st = Number(h[':status'])))
          req.on('data', (c: Buffer) => chunks.push(c))
          req.on('end', () => {
            try {
              resolve({ status: st, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
            } catch (e) {
              reject(new Error(`HTTP ${st}: not JSON: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`, { cause: e }))
            }
          })
          req.on('error', reject)
          req.end(b.body)
        })
        status = r.status
        body = r.body
      } else {
        const r = await post1(s.url, path, b.body, s.ca.caPem, { agent, contentType })
        status = r.status
        body = r.body
      }
      statuses[status] = (statuses[status] ?? 0) + 1
      if (![200, 400, 413].includes(status)) throw new Error(`${b.kind} (${contentType}) answered HTTP ${status}: ${JSON.stringify(body)}`)
      if (!isReview(body, b.uid)) throw new Error(`${b.kind} (${contentType}) answered something else than an AdmissionReview with uid ${b.uid}: ${JSON.stringify(body)}`)
    }),
    { numRuns: RUNS * 2 },
  )
  t.pass(`${RUNS * 2} fuzz bodies answered; kinds ${JSON.stringify(kinds)}; HTTP statuses ${JSON.stringify(statuses)}`)
})

t.test('deeply nested JSON (100k levels) as the body and inside the object', async (t) => {
  const deep = 100_000
  const cases: Array<[string, string, string | undefined]> = [
    ['100k unterminated [', '['.repeat(deep), undefined],
    ['100k balanced [ ]', '['.repeat(deep) + ']'.repeat(deep), undefined],
    ['100k nested objects', '{"a":'.repeat(deep) + '1' + '}'.repeat(deep), undefined],
  ]
  const uid = 'deep-uid'
  const p = pod([{ name: 'a', image: 'spin-app:v1' }]) as { spec: { containers: Array<Record<string, unknown>> } }
  const inner = JSON.stringify(p).replace('"resources":{}', `"resources":{},"args":${'['.repeat(deep)}"x"${']'.repeat(deep)}`)
  const reviewText = JSON.stringify(review(null, { uid })).replace('"object":null', `"object":${inner}`)
  cases.push(['review whose pod holds 100k nested arrays', reviewText, uid])
  for (const [what, body, wantUid] of cases) {
    for (const path of ['/mutate', '/validate']) {
      ledger.add('inputs')
      const r = await post1(s.url, path, body, s.ca.caPem)
      t.ok([200, 400].includes(r.status), `${what} ${path}: HTTP ${r.status}`)
      t.ok(isReview(r.body, wantUid), `${what} ${path}: an AdmissionReview${wantUid ? ' with the uid' : ''}`)
    }
  }
})

t.test('huge bodies: just over and far over the 7 MiB limit, declared and chunked, HTTP/1.1 and HTTP/2', async (t) => {
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  const sizes: Array<[string, number]> = [
    ['just over', REVIEW_BODY_LIMIT + 1],
    ['far over', 64 * 1024 * 1024],
  ]
  for (const [what, size] of sizes) {
    for (const declared of [true, false]) {
      const uid = `huge-${size}-${declared}`
      ledger.add('inputs')
      const r = await postHuge1(size, declared, uid)
      t.equal(r.status, 413, `${what} (${mib(size)}, ${declared ? 'content-length' : 'chunked'}): 413`)
      t.ok(isReview(r.body, uid), 'an AdmissionReview with the uid from the first bytes')
      t.equal(r.body?.response?.allowed, false)
    }
    const uid = `huge2-${size}`
    ledger.add('inputs')
    const r2 = await postHuge2(session, size, uid)
    t.equal(r2.status, 413, `${what} (${mib(size)}) over HTTP/2: 413`)
    t.ok(isReview(r2.body, uid), 'HTTP/2: an AdmissionReview with the uid')
  }
  const exact = JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'at-limit' }))
  const padded = exact.replace('"dryRun":false', `"dryRun":false,"pad":"${'x'.repeat(REVIEW_BODY_LIMIT - exact.length - 10)}"`)
  t.ok(Buffer.byteLength(padded) <= REVIEW_BODY_LIMIT, `a body of ${mib(Buffer.byteLength(padded))} (under the limit)`)
  const ok = await post1(s.url, '/validate', padded, s.ca.caPem)
  t.equal(ok.status, 200, 'just under the limit is reviewed')
  t.ok(isReview(ok.body, 'at-limit'))
})

interface PausedAnswer {
  status: number
  body: any
  /** HTTP/2: the server reset the stream (RST_STREAM) after answering, with this code (0 = NO_ERROR). */
  resetCode?: number
}

/**
 * Writes the uid prefix and `bytes` of padding, then pauses: the body never ends, so only a server
 * that answers as soon as the limit is passed can answer at all (one that reads to the end waits
 * until its request timer cancels the stream: status 0 over HTTP/2, 408 over HTTP/1.1). This is the
 * "far over" case without its race between the transfer and the request timer, whatever the load.
 * HTTP/2 resolves once the answer has ended and the server has reset the stream ('aborted': node's
 * client, its writes still buffered, does not close the stream by itself, so it is destroyed here).
 */
function postPaused(proto: 1 | 2, session: http2.ClientHttp2Session, bytes: number, uid: string): Promise<PausedAnswer> {
  const prefix = Buffer.from(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${uid}","pad":"`)
  const body = Buffer.concat([prefix, Buffer.alloc(bytes, 0x61)])
  return new Promise((resolve, reject) => {
    let status = 0
    const chunks: Buffer[] = []
    const parse = (): unknown => JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null')
    if (proto === 2) {
      const req = session.request({ ':method': 'POST', ':path': '/validate', 'content-type': 'application/json' })
      let ended = false
      let resetCode: number | undefined
      const settle = (): void => {
        if (!ended || resetCode === undefined) return
        resolve({ status, body: parse(), resetCode })
        req.destroy()
      }
      req.on('response', (h) => (status = Number(h[':status'])))
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => ((ended = true), settle()))
      req.on('aborted', () => ((resetCode = req.rstCode), settle()))
      req.on('error', () => undefined)
      req.on('close', () => resolve({ status, body: parse(), ...(resetCode === undefined ? {} : { resetCode }) }))
      req.write(body)
      return
    }
    const req = https.request(`${s.url}/validate`, { method: 'POST', ca: s.ca.caPem, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) } }, (res) => {
      status = res.statusCode ?? 0
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        resolve({ status, body: parse() })
        req.destroy()
      })
    })
    req.on('error', (e) => (status === 0 ? reject(e) : undefined))
    req.write(body)
  })
}

t.test('a body past the limit whose sender pauses: 413 at once (not a reset or a 408 when the request timer fires)', async (t) => {
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  for (const proto of [2, 1] as const) {
    const uid = `paused-${proto}`
    ledger.add('inputs')
    const started = Date.now()
    const r = await postPaused(proto, session, REVIEW_BODY_LIMIT + 1024 * 1024, uid)
    const ms = Date.now() - started
    t.equal(r.status, 413, `HTTP/${proto === 2 ? '2' : '1.1'}: 413 while the body is still open (answered after ${ms} ms)`)
    t.ok(isReview(r.body, uid), `HTTP/${proto === 2 ? '2' : '1.1'}: an AdmissionReview with the uid`)
    if (proto === 2) t.equal(r.resetCode, http2.constants.NGHTTP2_NO_ERROR, 'HTTP/2: after the answer the server resets the stream with NO_ERROR (RFC 9113 8.1: stop sending, no error)')
  }
  const r = await post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'after-paused' })))
  t.ok(isReview(r.body, 'after-paused'), 'the same HTTP/2 session answers the next review')
})

t.test('slow-drip body (HTTP/1.1, raw TLS, a byte every 100 ms): answered 408 or closed after requestTimeout', async (t) => {
  const { sock, isClosed, result } = await rawTls()
  const started = Date.now()
  sock.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`)
  const stop = drip(sock, ' ', 100, 100_000)
  ledger.add('faults')
  await expectClosed(t, 'slow-drip HTTP/1.1 body', isClosed, LIMITS.requestMs!, started)
  const sent = stop()
  const r = await result
  t.match(r.received, /^(HTTP\/1\.1 408|)/, 'a 408 or nothing (connection closed)')
  t.ok(sent < 1000, `the drip was cut off after ${sent} bytes`)
})

t.test('slow-drip body over HTTP/2: the stream is cancelled after requestMs; the session stays usable', async (t) => {
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  const req = session.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' })
  let closed = false
  let rstCode: number | undefined
  req.on('close', () => {
    closed = true
    rstCode = req.rstCode
  })
  req.on('error', () => undefined)
  const started = Date.now()
  req.write('{')
  const stop = drip(req as unknown as { write(b: string): unknown; destroyed: boolean }, ' ', 100, 100_000)
  ledger.add('faults')
  await expectClosed(t, 'slow-drip HTTP/2 stream', () => closed, LIMITS.requestMs!, started)
  stop()
  t.equal(rstCode, http2.constants.NGHTTP2_CANCEL, 'RST_STREAM CANCEL from the server')
  const r = await post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'after-drip' })))
  t.ok(isReview(r.body, 'after-drip'), 'the same session answers the next review')
  t.ok(s.logs.some((l) => /HTTP\/2 request not complete/.test(String(l['msg']))), 'the cancellation is logged')
})

t.test('slow headers (a header byte every 100 ms): closed after headersTimeout', async (t) => {
  const { sock, isClosed, result } = await rawTls()
  const started = Date.now()
  sock.write('POST /validate HTTP/1.1\r\nHost: localhost\r\nX-Slow: ')
  const stop = drip(sock, 'a', 100, 100_000)
  ledger.add('faults')
  await expectClosed(t, 'slow headers', isClosed, LIMITS.headersMs!, started)
  const sent = stop()
  const r = await result
  t.match(r.received, /^(HTTP\/1\.1 408|)/, 'a 408 or nothing')
  t.ok(sent < 500, `cut off after ${sent} header bytes`)
})

t.test('a TCP client that never starts TLS, and a TLS client that never sends a request', async (t) => {
  const raw = net.connect({ host: '127.0.0.1', port })
  let rawClosed = false
  raw.on('close', () => (rawClosed = true))
  raw.on('error', () => undefined)
  const started = Date.now()
  ledger.add('faults')
  await expectClosed(t, 'no TLS handshake', () => rawClosed, LIMITS.handshakeMs!, started)

  const { isClosed } = await rawTls()
  const s2 = Date.now()
  ledger.add('faults')
  await expectClosed(t, 'TLS but no request (HTTP/1.1)', isClosed, Math.max(LIMITS.headersMs!, LIMITS.connectionMs!), s2)

  const h2 = await rawTls(['h2'])
  const s3 = Date.now()
  ledger.add('faults')
  await expectClosed(t, 'TLS h2 but no preface', h2.isClosed, Math.max(LIMITS.connectionMs!, LIMITS.http2SessionMs!), s3)
})

t.test('an idle HTTP/1.1 keep-alive connection is closed after keepAliveTimeout', async (t) => {
  const { sock, isClosed, result, received } = await rawTls()
  const body = JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'keepalive' }))
  sock.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  t.ok(await eventually(() => /"uid":"keepalive"/.test(received()), 10_000), 'answered')
  const started = Date.now()
  ledger.add('faults')
  await expectClosed(t, 'idle keep-alive', isClosed, LIMITS.keepAliveMs!, started)
  const r = await result
  t.match(r.received, /HTTP\/1\.1 200/, 'the request was answered before the idle close')
  t.match(r.received, /"uid":"keepalive"/)
})

t.test('slowloris crowd: 40 slow HTTP/1.1 bodies, 20 slow header sockets and 10 slow HTTP/2 streams while 100 reviews are answered', async (t) => {
  const crowd: Array<{ isClosed: () => boolean; stop: () => number }> = []
  for (let i = 0; i < 40; i++) {
    const c = await rawTls()
    c.sock.write(`POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n\r\n{`)
    crowd.push({ isClosed: c.isClosed, stop: drip(c.sock, ' ', 200, 50_000) })
  }
  for (let i = 0; i < 20; i++) {
    const c = await rawTls()
    c.sock.write('POST /mutate HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    crowd.push({ isClosed: c.isClosed, stop: drip(c.sock, 'b', 200, 50_000) })
  }
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  for (let i = 0; i < 10; i++) {
    const req = session.request({ ':method': 'POST', ':path': '/validate', 'content-type': 'application/json' })
    let closed = false
    req.on('close', () => (closed = true))
    req.on('error', () => undefined)
    req.write('{')
    crowd.push({ isClosed: () => closed, stop: drip(req as unknown as { write(b: string): unknown; destroyed: boolean }, ' ', 200, 50_000) })
  }
  ledger.add('faults', crowd.length)
  const started = Date.now()
  let answered = 0
  let failed = 0
  const h2 = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => h2.close())
  await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const uid = `crowd-${i}`
      const body = JSON.stringify(review(pod([{ name: 'a', image: i % 2 ? 'spin-app:v1' : 'nginx' }]), { uid }))
      try {
        const r = i % 2 ? await post2(h2, '/mutate', body) : await post1(s.url, '/mutate', body, s.ca.caPem, { agent })
        if (r.status === 200 && isReview(r.body, uid)) answered++
        else failed++
      } catch {
        failed++
      }
    }),
  )
  ledger.add('requestsDuringFaults', 100)
  ledger.add('requestsFailed', failed)
  t.equal(answered, 100, 'every ordinary review was answered during the slowloris crowd')
  t.equal(failed, 0)
  const allClosed = await eventually(() => crowd.every((c) => c.isClosed()), within(LIMITS.requestMs!))
  const bytes = crowd.map((c) => c.stop()).reduce((a, b) => a + b, 0)
  t.ok(allClosed, `all ${crowd.length} slow clients were cut off (${Date.now() - started} ms, ${bytes} bytes dripped in total)`)
})

t.test('after everything: no crash, live, and memory growth bounded', async (t) => {
  const r = await post1(s.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'final' })), s.ca.caPem)
  t.ok(isReview(r.body, 'final'), 'still answering')
  t.equal((await getHealth(s.server.healthPort, '/livez')).status, 200, '/livez')
  gc()
  const end = process.memoryUsage()
  const peakGrowth = peakRss - baseline.rss
  const endGrowth = end.rss - baseline.rss
  t.ok(peakGrowth < 200 * 1024 * 1024, `peak RSS growth ${mib(peakGrowth)} < 200 MiB (baseline ${mib(baseline.rss)}, peak ${mib(peakRss)}, peak heap ${mib(peakHeap)})`)
  t.ok(endGrowth < 200 * 1024 * 1024, `RSS growth at the end ${mib(endGrowth)} < 200 MiB`)
  const heapGrowth = end.heapUsed - baseline.heapUsed
  t.ok(heapGrowth < 50 * 1024 * 1024, `heap retained after GC grew ${mib(heapGrowth)} < 50 MiB (no body, socket or stream kept)`)
  ledger.add('heapRetainedGrowthMiB', Math.round(heapGrowth / 1024 / 1024))
  ledger.add('peakRssGrowthMiB', Math.round(peakGrowth / 1024 / 1024))
})
