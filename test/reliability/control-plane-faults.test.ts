/**
 * Control-plane faults under load, on the REAL kube-apiserver + etcd (test/harness/control-plane.ts):
 *
 * 1. kube-apiserver restart and etcd restart while reviews run against the in-process webhook with
 *    the real InformerClusterSource. Policy (docs/failure-semantics.md): cluster caches that stop
 *    updating are still used -- decisions continue on the last known cluster state, and /readyz
 *    reports the staleness (so a Deployment stops routing new connections to a replica whose view is
 *    stale only when every replica is affected is it a real outage, and even then answers continue).
 *    Asserted: no review fails, no decision differs from the expected one (no pod admitted wrongly),
 *    readiness shows `stale` during the apiserver outage, and the caches recover (an object created
 *    after each restart reaches the webhook's view).
 * 2. SIGTERM to one of two `node dist/src/cli.js serve --reuse-port` processes sharing one port, under
 *    load: no admission fails. The client behaves like the kube-apiserver's webhook client: HTTP/2,
 *    long-lived connections, ONE attempt per review at the application level (client-go's rest
 *    client never retries a non-GET on connection reset or EOF -- k8s.io/client-go/rest/request.go,
 *    "We are not automatically retrying write operations"; the admission dispatchers call
 *    r.Do(ctx) once), and only the transport-level retry Go's http2 transport does for a request
 *    the server provably did not process (canRetryError: connection unusable, GOAWAY received,
 *    RST_STREAM REFUSED_STREAM) -- golang.org/x/net/http2/transport.go -- up to 6 times, with its backoff.
 * 3. Certificate rotation under heavy load (heavier than test/http/lifecycle.test.ts): many fresh
 *    TLS connections over HTTP/1.1 and HTTP/2 through five rotations; every handshake is counted and
 *    none fails.
 */
import t from 'tap'
import http2 from 'node:http2'
import https from 'node:https'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, existsSync, statSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { KubeConfig } from '@kubernetes/client-node'
import { InformerClusterSource } from '../../src/facts/cluster/informers.js'
import { NoClusterFacts } from '../../src/facts/placeholders.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { getHealth, post2 } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { linux, wasm } from '../helpers/facts.js'
import { issueServingCert, makeCa } from '../helpers/tls.js'
import { freePort } from '../harness/registry.js'
import { seedPlane, startPlane } from '../facts/cluster/plane.js'
import { SEED_FILE } from '../facts/cluster/helpers.js'
import { eventually, Ledger, startReliabilityServer } from './helpers.js'

const ledger = new Ledger('control-plane-faults')
t.teardown(() => ledger.flush())
const ROOT = join(import.meta.dirname, '..', '..')

function decodePatch(r: AdmissionReview): Array<{ op: string; path: string; value?: unknown }> {
  return r.response?.patch ? JSON.parse(Buffer.from(r.response.patch, 'base64').toString('utf8')) : []
}

// ------------------------------------------------------------------ 1. apiserver and etcd restarts

t.test('kube-apiserver and etcd restarts while reviews run: decisions continue on the cached view, readiness shows staleness, caches recover', async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  await seedPlane(cp, SEED_FILE)
  const kc = new KubeConfig()
  kc.loadFromFile(cp.kubeconfigPath)
  const cluster = new InformerClusterSource({ kubeConfig: kc, policy: defaultPolicy, staleAfterMs: 1000, backoffBaseMs: 100, backoffMaxMs: 1000, inactivityMs: 5000, startWaitMs: 30_000 })
  const s = await startReliabilityServer({
    args: ['--kubeconfig', cp.kubeconfigPath],
    sources: { images: { lookup: async (i) => (i.startsWith('spin') ? wasm(i, 'spin', { hasEntrypoint: false }) : linux(i)), readiness: () => ({ ready: true, detail: '' }) }, cluster },
  })
  t.teardown(() => s.server.shutdown('test end'))
  await eventually(() => s.server.ready(), 30_000)
  t.ok(s.server.ready(), 'ready once the informers synced')

  // What each review must answer, whatever the state of the control plane.
  const cases = [
    { name: 'mutate spin pod', endpoint: '/mutate', body: () => review(pod([{ name: 'app', image: 'spin-app:v1' }])), check: (r: AdmissionReview) => r.response?.allowed === true && decodePatch(r).some((p) => p.path === '/spec/runtimeClassName' && p.value === 'spin-test') },
    { name: 'validate spin pod under spin-test', endpoint: '/validate', body: () => review(pod([{ name: 'app', image: 'spin-app:v1', command: ['/'] }], { runtimeClassName: 'spin-test' })), check: (r: AdmissionReview) => r.response?.allowed === true },
    { name: 'deny spin pod under wasm1 (wrong handler)', endpoint: '/validate', body: () => review(pod([{ name: 'app', image: 'spin-app:v1' }], { runtimeClassName: 'wasm1' })), check: (r: AdmissionReview) => r.response?.allowed === false && /handler/.test(r.response.status?.message ?? '') },
    { name: 'deny a missing RuntimeClass', endpoint: '/validate', body: () => review(pod([{ name: 'app', image: 'nginx' }], { runtimeClassName: 'no-such-class' })), check: (r: AdmissionReview) => r.response?.allowed === false && /does not exist/.test(r.response.status?.message ?? '') },
  ]
  let session = http2.connect(s.url, { ca: s.ca.caPem })
  t.teardown(() => session.close())
  const stats = { sent: 0, failed: 0, wrong: 0, wronglyAdmitted: 0, duringFault: 0, whileNotReady: 0 }
  let inFault = false
  let stop = false
  const failures: string[] = []
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      const c = cases[i % cases.length]!
      stats.sent++
      if (inFault) stats.duringFault++
      if (!s.server.ready()) stats.whileNotReady++
      try {
        if (session.closed || session.destroyed) session = http2.connect(s.url, { ca: s.ca.caPem })
        const r = await post2(session, c.endpoint, JSON.stringify(c.body()))
        if (r.status !== 200) {
          stats.failed++
          failures.push(`${c.name}: HTTP ${r.status}`)
        } else if (!c.check(r.body as AdmissionReview)) {
          stats.wrong++
          if (c.endpoint === '/validate' && c.name.startsWith('deny') && (r.body as AdmissionReview).response?.allowed) stats.wronglyAdmitted++
          failures.push(`${c.name}: ${JSON.stringify(r.body).slice(0, 300)}`)
        }
      } catch (e) {
        stats.failed++
        failures.push(`${c.name}: ${(e as Error).message}`)
      }
    }
  })()
  const readiness: string[] = []
  const watchReadiness = async (): Promise<void> => {
    const r = await getHealth(s.server.healthPort, '/readyz')
    readiness.push(`${r.status} ${r.body}`)
  }

  await eventually(() => stats.sent >= 40, 30_000)
  // apiserver restart: watches and lists fail until it is back
  for (const fault of ['apiserver', 'etcd'] as const) {
    const seen = readiness.length
    inFault = true
    ledger.add('faults')
    const poller = setInterval(() => void watchReadiness().catch(() => undefined), 100)
    if (fault === 'apiserver') await cp.restartApiserver()
    else await cp.restartEtcd()
    // the cache recovers: an object created after the restart reaches the webhook's view (a non-Wasm
    // handler, so it changes no decision of the load)
    const rcName = `after-${fault}`
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: rcName }, handler: 'runsc' }) })
    t.ok(await eventually(() => cluster.snapshot().runtimeClass(rcName) !== undefined, 60_000), `${fault} restart: the informer cache saw RuntimeClass ${rcName} created afterwards`)
    t.ok(await eventually(() => s.server.ready(), 60_000), `${fault} restart: ready again`)
    clearInterval(poller)
    inFault = false
    const during = readiness.slice(seen)
    const stale = during.filter((l) => /stale|not synced/.test(l))
    if (fault === 'apiserver') t.ok(stale.length > 0, `apiserver restart: /readyz reported the staleness (${stale.length} of ${during.length} polls), e.g. ${stale[0]?.slice(0, 200)}`)
    else t.comment(`etcd restart: /readyz stale in ${stale.length} of ${during.length} polls (the apiserver's watch cache may hide a short etcd restart)`)
    const sentAt = stats.sent
    await eventually(() => stats.sent >= sentAt + 20, 30_000)
  }
  stop = true
  await load
  ledger.add('requestsDuringFaults', stats.duringFault)
  ledger.add('requestsFailed', stats.failed)
  ledger.add('wronglyAdmitted', stats.wronglyAdmitted)
  t.ok(stats.duringFault > 0, `${stats.duringFault} reviews sent during the restarts (${stats.whileNotReady} while /readyz said not ready), ${stats.sent} in all`)
  t.equal(stats.failed, 0, `no review failed: ${failures.slice(0, 3).join(' | ')}`)
  t.equal(stats.wrong, 0, 'every decision was the expected one (stale-but-present caches keep being used)')
  t.equal(stats.wronglyAdmitted, 0, 'no pod admitted wrongly')
})

// ------------------------------------------------------------------ 2. SIGTERM to one of two processes behind one port

function ensureBuilt(): void {
  const newest = (dir: string): number => readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith('.ts')).reduce((m, e) => Math.max(m, statSync(join(e.parentPath, e.name)).mtimeMs), 0)
  const cli = join(ROOT, 'dist', 'src', 'cli.js')
  if (!existsSync(cli) || statSync(cli).mtimeMs < newest(join(ROOT, 'src'))) execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
}

interface Proc {
  child: ChildProcess
  healthPort: number
  out: () => string
  exited: Promise<number | null>
}

async function startServeProcess(port: number, tlsDir: string): Promise<Proc> {
  const healthPort = await freePort()
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve', '--port', String(port), '--health-port', String(healthPort), '--host', '127.0.0.1', '--tls-dir', tlsDir, '--no-cluster', '--no-registry', '--reuse-port', '--shutdown-delay-seconds', '2', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  const ok = await eventually(async () => (await getHealth(healthPort, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30_000)
  if (!ok) throw new Error(`serve did not become ready: ${out}`)
  return { child, healthPort, out: () => out, exited }
}

async function reviewsServed(p: Proc): Promise<number> {
  const m = await getHealth(p.healthPort, '/metrics').catch(() => ({ body: '' }))
  return [...m.body.matchAll(/^wasm_admission_requests_total\{[^}]*\} (\d+)/gm)].reduce((a, x) => a + Number(x[1]), 0)
}

/**
 * How often Go's http2 transport retries one request: `if err != nil && retry <= 6` in RoundTripOpt
 * (golang.org/x/net http2/transport_common.go; the same loop in v0.49.0, which k8s.io/apiserver v0.36.3
 * requires), i.e. up to 7 attempts.
 */
const GO_MAX_RETRY = 6

/** Errors after which Go's http2 transport retries (the server provably did not process the request). */
function goWouldRetry(e: unknown, stream?: http2.ClientHttp2Stream): boolean {
  const code = (e as { code?: string }).code
  if (code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION') return true // errClientConnGotGoAway / errClientConnUnusable
  if (stream !== undefined && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return true // RST_STREAM REFUSED_STREAM
  return false
}

t.test('SIGTERM to one of two webhook processes sharing a port (SO_REUSEPORT) under load: no admission fails', async (t) => {
  ensureBuilt()
  const ca = makeCa()
  const tlsDir = mkdtempSync(join(tmpdir(), 'wa-reuse-'))
  issueServingCert(ca, tlsDir)
  const port = await freePort()
  const a = await startServeProcess(port, tlsDir)
  t.teardown(() => void a.child.kill('SIGKILL'))
  const b = await startServeProcess(port, tlsDir)
  t.teardown(() => void b.child.kill('SIGKILL'))
  const url = `https://127.0.0.1:${port}`

  // like the apiserver: a few long-lived HTTP/2 connections, replaced when they go away
  const sessions: http2.ClientHttp2Session[] = []
  const open = (): http2.ClientHttp2Session => {
    const sess = http2.connect(url, { ca: ca.caPem })
    sess.on('error', () => undefined)
    sess.on('goaway', () => sess.close())
    return sess
  }
  for (let i = 0; i < 8; i++) sessions.push(open())
  t.teardown(() => sessions.forEach((x) => x.destroy()))
  const stats = { sent: 0, ok: 0, failed: 0, retried: 0, duringFault: 0 }
  const failures: string[] = []
  let phase: 'before' | 'fault' | 'after' = 'before'
  const once = (sess: http2.ClientHttp2Session, body: string): Promise<{ status: number; review?: AdmissionReview }> =>
    new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream
      try {
        stream = sess.request({ ':method': 'POST', ':path': '/validate', 'content-type': 'application/json' })
      } catch (e) {
        return reject(e)
      }
      let status = 0
      const chunks: Buffer[] = []
      stream.on('response', (h) => (status = Number(h[':status'])))
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        try {
          resolve({ status, review: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        } catch (e) {
          reject(Object.assign(e as Error, { stream }))
        }
      })
      stream.on('error', (e) => reject(Object.assign(e, { stream })))
      stream.on('close', () => {
        if (status === 0) reject(Object.assign(new Error(`stream closed without a response (rst ${stream.rstCode})`), { stream }))
      })
      stream.end(body)
    })
  let stop = false
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const slot = (w + i) % sessions.length
      const uid = `w${w}-${i}`
      const body = JSON.stringify(review(pod([{ name: 'a', image: 'registry.example/app:v1' }]), { uid }))
      stats.sent++
      if (phase === 'fault') stats.duringFault++
      let attempt = 0
      for (;;) {
        let sess = sessions[slot]!
        if (sess.closed || sess.destroyed) sess = sessions[slot] = open()
        try {
          const r = await once(sess, body)
          if (r.status === 200 && r.review?.response?.uid === uid && r.review.response.allowed === true) stats.ok++
          else {
            stats.failed++
            failures.push(`${uid}: HTTP ${r.status} ${JSON.stringify(r.review).slice(0, 200)}`)
          }
          break
        } catch (e) {
          const stream = (e as { stream?: http2.ClientHttp2Stream }).stream
          if (attempt <= GO_MAX_RETRY && goWouldRetry(e, stream)) {
            // RoundTripOpt: the first retry at once, then 2^(retry-1) s plus up to 10 % jitter.
            if (attempt > 0) await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1) * (1 + 0.1 * Math.random())))
            attempt++
            stats.retried++
            sessions[slot] = open()
            continue
          }
          stats.failed++
          failures.push(`${uid}: ${(e as { code?: string }).code ?? ''} ${(e as Error).message}`)
          break
        }
      }
    }
  }
  const workers = Array.from({ length: 8 }, (_, w) => worker(w))
  // both processes must be serving before the fault
  let extra = 0
  while (!((await reviewsServed(a)) > 0 && (await reviewsServed(b)) > 0) && extra < 64) {
    sessions.push(open())
    extra++
    await eventually(() => stats.ok > 50 * (extra + 1), 10_000)
  }
  const servedA = await reviewsServed(a)
  const servedB = await reviewsServed(b)
  t.ok(servedA > 0 && servedB > 0, `both processes were serving before SIGTERM (${servedA} and ${servedB} reviews)`)
  phase = 'fault'
  ledger.add('faults')
  a.child.kill('SIGTERM')
  const code = await a.exited
  phase = 'after'
  t.equal(code, 0, 'the terminated process exited cleanly after finishing its reviews')
  const okAt = stats.ok
  await eventually(() => stats.ok >= okAt + 200, 30_000)
  stop = true
  await Promise.all(workers)
  ledger.add('requestsDuringFaults', stats.duringFault)
  ledger.add('requestsFailed', stats.failed)
  ledger.add('transportRetries', stats.retried)
  t.ok(stats.duringFault > 0, `${stats.duringFault} reviews sent between SIGTERM and exit (${stats.sent} in all, ${stats.retried} transport-level retries of unprocessed requests)`)
  t.equal(stats.failed, 0, `no admission failed: ${failures.slice(0, 3).join(' | ')}`)
  t.ok((await reviewsServed(b)) > servedB, 'the remaining process took over')
})

// ------------------------------------------------------------------ 3. certificate rotation under heavy load

t.test('certificate rotation under heavy load: five rotations, every handshake counted, none fails', async (t) => {
  const s = await startReliabilityServer({ sources: { images: { lookup: async (i) => linux(i), readiness: () => ({ ready: true, detail: '' }) }, cluster: new NoClusterFacts() } })
  t.teardown(() => s.server.shutdown('test end'))
  const stats = { handshakes: 0, handshakeFailures: 0, requests: 0, failed: 0 }
  const seen = new Map<string, number>()
  const failures: string[] = []
  let stop = false
  const body = JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'rot' }))
  const h1 = async (): Promise<void> => {
    while (!stop) {
      await new Promise<void>((resolve) => {
        const req = https.request(`${s.url}/validate`, { method: 'POST', ca: s.ca.caPem, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
          const fp = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256
          seen.set(fp, (seen.get(fp) ?? 0) + 1)
          let raw = ''
          res.on('data', (c) => (raw += c))
          res.on('end', () => {
            stats.requests++
            if (res.statusCode !== 200 || !raw.includes('"uid":"rot"')) {
              stats.failed++
              failures.push(`HTTP ${res.statusCode}`)
            }
            resolve()
          })
        })
        req.on('socket', (sock) => sock.once('secureConnect', () => stats.handshakes++))
        req.on('error', (e) => {
          stats.failed++
          if (/certificate|handshake|TLS|SSL|socket hang up|ECONNRESET/i.test(e.message)) stats.handshakeFailures++
          failures.push(e.message)
          resolve()
        })
        req.end(body)
      })
    }
  }
  const h2 = async (): Promise<void> => {
    while (!stop) {
      // a fresh HTTP/2 connection for a burst of 10 reviews (the apiserver reconnects after idle timeouts)
      let sess: http2.ClientHttp2Session
      try {
        sess = await new Promise<http2.ClientHttp2Session>((resolve, reject) => {
          const x = http2.connect(s.url, { ca: s.ca.caPem })
          x.once('connect', () => {
            stats.handshakes++
            resolve(x)
          })
          x.once('error', reject)
        })
      } catch (e) {
        stats.handshakeFailures++
        stats.failed++
        failures.push((e as Error).message)
        continue
      }
      const fp = (sess.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256
      seen.set(fp, (seen.get(fp) ?? 0) + 1)
      for (let i = 0; i < 10 && !stop; i++) {
        try {
          const r = await post2(sess, '/validate', body)
          stats.requests++
          if (r.status !== 200) stats.failed++
        } catch (e) {
          stats.failed++
          failures.push((e as Error).message)
        }
      }
      sess.close()
    }
  }
  const clients = [...Array.from({ length: 6 }, h1), ...Array.from({ length: 4 }, h2)]
  const fingerprints = [new X509Certificate(s.server.certificates.current()!.cert).fingerprint256]
  await eventually(() => stats.requests >= 100, 30_000)
  for (let r = 1; r <= 5; r++) {
    const next = issueServingCert(s.ca, s.tlsDir, `wasm-admission-rotation-${r}`)
    const fp = new X509Certificate(next.cert).fingerprint256
    fingerprints.push(fp)
    ledger.add('faults')
    t.ok(await eventually(() => (seen.get(fp) ?? 0) >= 50, 60_000), `rotation ${r}: 50 new connections got the new certificate`)
  }
  stop = true
  await Promise.all(clients)
  ledger.add('handshakes', stats.handshakes)
  ledger.add('requestsDuringFaults', stats.requests)
  ledger.add('requestsFailed', stats.failed)
  t.equal(new Set(fingerprints).size, 6, 'six distinct certificates')
  t.ok(fingerprints.every((fp) => (seen.get(fp) ?? 0) > 0), 'each certificate served connections')
  t.ok(stats.handshakes >= 200, `${stats.handshakes} TLS handshakes during five rotations, ${stats.requests} reviews`)
  t.equal(stats.handshakeFailures, 0, 'no failed handshake')
  t.equal(stats.failed, 0, `no failed review: ${failures.slice(0, 3).join(' | ')}`)
})
