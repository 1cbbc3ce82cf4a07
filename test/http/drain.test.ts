/**
 * Graceful drain of kept-alive connections at shutdown (src/http/connection-drain.ts), on the real
 * listeners with real clients.
 *
 * The client of the main case behaves like the kube-apiserver calling a Service webhook: HTTP/1.1,
 * a pool of kept-alive connections reused most recently used first (Go's net/http; node's agent with
 * scheduling 'lifo'), the Service resolved to an endpoint only when a connection is dialled (here:
 * replica A until its /readyz says not ready, then replica B), and no retry of a POST once its bytes
 * went out. Before the drain existed, replica A answered on its kept-alive connections forever after
 * SIGTERM (node keeps an HTTP/1.1 connection open after server.close() as long as requests come),
 * so its shutdown never finished until the kubelet's SIGKILL reset every connection.
 */
import t from 'tap'
import http2 from 'node:http2'
import https from 'node:https'
import tls from 'node:tls'
import type { Socket } from 'node:net'
import { getHealth, post2, startTestServer, until, type TestServer } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { makeCa, type TestCa } from '../helpers/tls.js'
import { linux } from '../helpers/facts.js'
import { NoClusterFacts } from '../../src/facts/placeholders.js'
import type { ImageFactsSource } from '../../src/domain/facts.js'
import { DRAIN_IDLE_CLOSE_MS } from '../../src/http/connection-drain.js'

interface Answer {
  status: number
  uid: string | undefined
  connection: string | undefined
  fingerprint: string | undefined
  reusedSocket: boolean
}

/** One POST /validate over HTTP/1.1 with the given agent; rejects on any transport error (no retry). */
function post(url: string, agent: https.Agent, ca: string, uid: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/validate`, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      const fingerprint = (res.socket as tls.TLSSocket).getPeerCertificate?.()?.fingerprint256
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        let body: any
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        } catch {
          body = undefined
        }
        resolve({ status: res.statusCode ?? 0, uid: body?.response?.uid, connection: res.headers.connection, fingerprint, reusedSocket: req.reusedSocket })
      })
    })
    req.on('timeout', () => req.destroy(new Error('client timeout')))
    req.on('error', reject)
    req.end(JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid })))
  })
}

const linuxImages: ImageFactsSource = { lookup: async (image) => linux(image), readiness: () => ({ ready: true, detail: 'test' }) }

/** Image lookups held until the test releases them, so reviews are in flight for sure. */
function heldImages(): { images: ImageFactsSource; held: Array<() => void> } {
  const held: Array<() => void> = []
  return { held, images: { lookup: (image) => new Promise((resolve) => held.push(() => resolve(linux(image)))), readiness: () => ({ ready: true, detail: 'held' }) } }
}

async function replica(ca: TestCa, images: ImageFactsSource, args: string[] = []): Promise<TestServer> {
  return startTestServer({ ca, args, sources: { images, cluster: new NoClusterFacts() } })
}

t.test('HTTP/1.1 keep-alive load across a replica shutdown, apiserver-style client: no review fails, the shutdown finishes', async (t) => {
  const ca = makeCa()
  // A's shutdown delay is the time the endpoint removal gets to reach the client (1 s here).
  const a = await replica(ca, linuxImages, ['--shutdown-delay-seconds', '1'])
  const b = await replica(ca, linuxImages)
  t.teardown(() => b.server.shutdown('test end'))
  const fpA = a.server.certificates.current()!.fingerprint
  const fpB = b.server.certificates.current()!.fingerprint
  t.not(fpA, fpB)

  // Dial-time resolution: A while it is ready, then B (the endpoints without A).
  let aReady = true
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4, scheduling: 'lifo' })
  ;(agent as unknown as { createConnection: (o: tls.ConnectionOptions, cb?: () => void) => Socket }).createConnection = (o) =>
    tls.connect({ ...o, port: aReady ? a.server.webhookPort : b.server.webhookPort })
  t.teardown(() => agent.destroy())

  const answers: Answer[] = []
  const failures: string[] = []
  let shutdownStarted = false
  const afterShutdown: Answer[] = []
  let stop = false
  let n = 0
  const loop = async (): Promise<void> => {
    while (!stop) {
      const uid = `load-${n++}`
      try {
        const r = await post(a.url, agent, ca.caPem, uid)
        if (r.status !== 200 || r.uid !== uid) failures.push(`${uid}: HTTP ${r.status} uid ${r.uid}`)
        answers.push(r)
        if (shutdownStarted) afterShutdown.push(r)
      } catch (e) {
        failures.push(`${uid}: ${(e as Error).message}`)
      }
    }
  }
  const loops = [loop(), loop(), loop(), loop()]
  await until('replica A answers on kept-alive connections', () => answers.filter((r) => r.fingerprint === fpA && r.reusedSocket).length >= 20)

  const shutdown = a.server.shutdown('SIGTERM')
  shutdownStarted = true
  await until('A not ready', async () => (await getHealth(a.server.healthPort, '/readyz')).status === 503)
  aReady = false
  await shutdown
  await a.server.closed
  const served = answers.length
  await until('B keeps answering', () => answers.length >= served + 20)
  stop = true
  await Promise.all(loops)

  t.same(failures, [], `no review failed (${answers.length} sent)`)
  const fromA = afterShutdown.filter((r) => r.fingerprint === fpA)
  t.ok(fromA.length > 0, `A answered on its kept-alive connections after SIGTERM (${fromA.length})`)
  t.ok(fromA.every((r) => r.connection === 'close' || r.connection === 'keep-alive'), 'answers carry a Connection header')
  t.ok(fromA.some((r) => r.connection === 'close'), 'A closed its connections with Connection: close answers')
  t.ok(answers.slice(-10).every((r) => r.fingerprint === fpB), 'the load moved to B')
  const drained = a.logs.find((l) => l['msg'] === 'connections drained')
  t.ok(drained, 'drain logged')
  t.equal(drained?.['idleClosedAtDeadline'], 0, 'no connection was left for the deadline')
})

t.test('HTTP/1.1: an answer in flight when the drain starts carries Connection: close and its connection closes', async (t) => {
  const { images, held } = heldImages()
  const s = await replica(makeCa(), images)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const first = post(s.url, agent, s.ca.caPem, 'in-flight')
  await until('a review in flight', () => held.length === 1)
  const socket = Object.values(agent.sockets).flat()[0]!
  let socketClosed = false
  socket.once('close', () => (socketClosed = true))
  const shutdown = s.server.shutdown('SIGTERM')
  await until('readiness false', async () => (await getHealth(s.server.healthPort, '/readyz')).status === 503)
  held[0]!()
  const r = await first
  t.equal(r.status, 200)
  t.equal(r.uid, 'in-flight')
  t.equal(r.connection, 'close', 'the answer tells the client not to reuse the connection')
  await until('the connection closed', () => socketClosed)
  await shutdown
  t.equal(s.server.ready(), false)
})

t.test('HTTP/1.1: a connection left idle during the drain is closed by the server, then the shutdown finishes', async (t) => {
  const s = await replica(makeCa(), linuxImages)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const r = await post(s.url, agent, s.ca.caPem, 'before')
  t.equal(r.connection, 'keep-alive', 'before the drain connections are kept alive')
  const idle = Object.values(agent.freeSockets).flat()[0]!
  t.ok(idle, 'the agent keeps the connection idle')
  // The agent keeps a free socket open as long as the server does (no client-side timeout here).
  let closed = false
  idle.once('close', () => (closed = true))
  await s.server.shutdown('SIGTERM')
  await until('the idle connection closed', () => closed)
  const drained = s.logs.find((l) => l['msg'] === 'connections drained')
  t.equal(drained?.['connections'], 1)
  t.equal(drained?.['idleClosedAtDeadline'], 0, `closed once idle for ${DRAIN_IDLE_CLOSE_MS} ms, not at the deadline`)
})

t.test('HTTP/2: GOAWAY on drain, the stream in flight is answered, new streams go to a new connection', async (t) => {
  const { images, held } = heldImages()
  const s = await replica(makeCa(), images)
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.destroy())
  let goaway: { code: number; lastStreamID: number } | undefined
  session.on('goaway', (code, lastStreamID) => (goaway = { code, lastStreamID }))
  const inflight = post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'x' }]), { uid: 'h2-in-flight' })))
  await until('a review in flight', () => held.length === 1)
  const shutdown = s.server.shutdown('SIGTERM')
  await until('GOAWAY received', () => goaway !== undefined)
  t.equal(goaway!.code, http2.constants.NGHTTP2_NO_ERROR)
  t.equal(goaway!.lastStreamID, 1, 'the GOAWAY says stream 1 (in flight) is processed')
  held[0]!()
  const r = await inflight
  t.equal(r.status, 200)
  t.equal(r.body.response.uid, 'h2-in-flight')
  await shutdown
  await until('the session closed', () => session.closed || session.destroyed)
  const drained = s.logs.find((l) => l['msg'] === 'connections drained')
  t.equal(drained?.['connections'], 1)
})

t.test('HTTP/2: a session opened during the drain answers its first stream, then GOAWAY (one answer per connection)', async (t) => {
  const { images, held } = heldImages()
  const s = await replica(makeCa(), images)
  // Session A keeps the drain going: its review is held until the end of the test.
  const a = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => a.destroy())
  let goawayA = false
  a.on('goaway', () => (goawayA = true))
  const inflightA = post2(a, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'x' }]), { uid: 'a-1' })))
  await until('a review in flight on A', () => held.length === 1)
  const shutdown = s.server.shutdown('SIGTERM')
  await until('A has its GOAWAY: the drain has started', () => goawayA)
  // Session B is opened while draining (a client whose endpoint list is late, or SO_REUSEPORT).
  const b = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => b.destroy())
  let goawayB: { code: number; lastStreamID: number } | undefined
  b.on('goaway', (code, lastStreamID) => (goawayB = { code, lastStreamID }))
  const firstB = post2(b, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'y' }]), { uid: 'b-1' })))
  await until("B's first review reached the pipeline", () => held.length === 2)
  await until('GOAWAY on B', () => goawayB !== undefined)
  t.equal(goawayB!.code, http2.constants.NGHTTP2_NO_ERROR)
  t.equal(goawayB!.lastStreamID, 1, "the GOAWAY names B's first stream as processed (not 0: it is not refused)")
  for (const release of held) release()
  const rb = await firstB
  t.equal(rb.status, 200)
  t.equal(rb.body.response.uid, 'b-1', "B's first review is answered")
  t.equal((await inflightA).body.response.uid, 'a-1')
  await shutdown
})
