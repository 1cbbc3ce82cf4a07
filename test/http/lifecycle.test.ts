/**
 * Certificate rotation, policy hot reload and graceful shutdown, on the real listeners.
 */
import t from 'tap'
import https from 'node:https'
import http2 from 'node:http2'
import { writeFileSync, mkdtempSync, rmSync, renameSync, symlinkSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { getHealth, post1, post2, startTestServer, until } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { issueServingCert } from '../helpers/tls.js'
import type { ImageFactsSource } from '../../src/domain/facts.js'
import { NoClusterFacts } from '../../src/facts/placeholders.js'
import { linux } from '../helpers/facts.js'
import { runServe } from '../../src/commands/serve.js'
import { makeCa } from '../helpers/tls.js'
import { logSink } from '../helpers/server.js'

t.test('certificate files replaced on disk: new connections get the new certificate, no request fails', async (t) => {
  const s = await startTestServer()
  t.teardown(() => s.server.shutdown('test end'))
  const firstFp = new X509Certificate(s.server.certificates.current()!.cert).fingerprint256
  const seen = new Set<string>()
  let failures = 0
  let requests = 0
  let stop = false
  // A client that keeps opening new TLS connections, as the apiserver does after idle timeouts.
  const client = (async () => {
    while (!stop) {
      try {
        const r = await post1(s.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]))), s.ca.caPem)
        requests++
        if (r.status !== 200 || r.body?.response?.uid === undefined) failures++
        if (r.fingerprint) seen.add(r.fingerprint)
      } catch {
        failures++
      }
    }
  })()
  await until('some requests with the first certificate', () => requests >= 5)
  // kubelet-style swap: new files are written, then renamed into place.
  const next = issueServingCert(s.ca, s.tlsDir, 'wasm-admission-rotated')
  const nextFp = new X509Certificate(next.cert).fingerprint256
  t.not(nextFp, firstFp)
  await until('a connection sees the new certificate', () => seen.has(nextFp))
  const after = requests
  await until('more requests after rotation', () => requests >= after + 5)
  stop = true
  await client
  t.ok(seen.has(firstFp) && seen.has(nextFp), 'both certificates were served')
  t.equal(failures, 0, `no request failed (${requests} sent)`)
  t.match(s.logs.filter((l) => l['msg'] === 'serving certificate loaded').length, 2)
})

t.test('kubelet-style symlink swap of a mounted Secret directory is picked up', async (t) => {
  // Layout of a projected Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..2026_x (atomic rename of ..data).
  const ca = makeCa()
  const mount = mkdtempSync(join(tmpdir(), 'wa-mount-'))
  const v1 = join(mount, '..v1')
  issueServingCert(ca, v1)
  symlinkSync('..v1', join(mount, '..data'))
  symlinkSync('..data/tls.crt', join(mount, 'tls.crt'))
  symlinkSync('..data/tls.key', join(mount, 'tls.key'))
  const s = await startTestServer({ ca, tlsDir: mount, withCert: false })
  t.teardown(() => s.server.shutdown('test end'))
  const before = s.server.certificates.current()!.fingerprint
  const v2 = join(mount, '..v2')
  mkdirSync(v2)
  issueServingCert(ca, v2, 'swapped')
  symlinkSync('..v2', join(mount, '..data_tmp'))
  renameSync(join(mount, '..data_tmp'), join(mount, '..data'))
  await until('certificate reloaded after the symlink swap', () => s.server.certificates.current()!.fingerprint !== before)
  const r = await post1(s.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]))), ca.caPem)
  t.equal(r.fingerprint, s.server.certificates.current()!.fingerprint, 'new connections use the swapped certificate')
})

t.test('policy: hot reload, and an invalid file keeps the old policy and names the field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wa-policy-'))
  const file = join(dir, 'policy.yaml')
  writeFileSync(file, 'defaultMode: enforce\n')
  const s = await startTestServer({ args: ['--policy', file], sources: { images: { lookup: async (i) => linux(i), readiness: () => ({ ready: true, detail: '' }) }, cluster: new NoClusterFacts() } })
  t.teardown(() => s.server.shutdown('test end'))
  t.equal(s.server.policy.current().defaultMode, 'enforce')

  writeFileSync(file, 'defaultMode: warn\n')
  await until('new policy loaded', () => s.server.policy.current().defaultMode === 'warn')

  writeFileSync(file, 'defaultMode: warn\nfamilies:\n  spin:\n    handlers: spin\n    runtimeClas: x\n')
  await until('bad policy reported', () => s.server.policy.error() !== undefined)
  t.equal(s.server.policy.current().defaultMode, 'warn', 'old policy stays in force')
  const msg = s.server.policy.error()!.message
  t.match(msg, /families\.spin\.handlers: must be array/)
  t.match(msg, /families\.spin\.runtimeClas: unknown field/)
  const log = s.logs.find((l) => l['code'] === 'WA_ERR_POLICY_INVALID')
  t.ok(log, 'logged with its code')
  const metrics = await getHealth(s.server.healthPort, '/metrics')
  t.match(metrics.body, /wasm_admission_policy_reload_errors_total 1/)
  const ready = await getHealth(s.server.healthPort, '/readyz')
  t.match(JSON.parse(ready.body).checks.policy.detail, /policy reload rejected, previous policy in force: .*runtimeClas: unknown field/)

  writeFileSync(file, 'defaultMode: audit\n')
  await until('good policy after a bad one', () => s.server.policy.current().defaultMode === 'audit')
  t.equal(s.server.policy.error(), undefined)
})

t.test('SIGTERM during in-flight reviews: readiness goes false, every review completes, then exit', async (t) => {
  // Image lookups are held until the test releases them, so reviews are in flight for sure.
  const held: Array<() => void> = []
  const images: ImageFactsSource = {
    lookup: (image) => new Promise((resolve) => held.push(() => resolve(linux(image)))),
    readiness: () => ({ ready: true, detail: 'held' }),
  }
  const ca = makeCa()
  const tlsDir = mkdtempSync(join(tmpdir(), 'wa-tls-'))
  issueServingCert(ca, tlsDir)
  const sink = logSink()
  let healthPort = 0
  let webhookPort = 0
  const exit = runServe(['--tls-dir', tlsDir, '--port', '0', '--health-port', '0', '--host', '127.0.0.1', '--no-cluster', '--shutdown-delay-seconds', '1', '--webhook-timeout-seconds', '30'], {
    env: {},
    stdout: () => {},
    stderr: () => {},
    signals: process,
    logDestination: sink.stream as never,
    onHealthListening: (p) => (healthPort = p),
    factsSources: async () => ({ images, cluster: new NoClusterFacts() }),
  })
  await until('webhook listening', () => sink.lines.some((l) => l['msg'] === 'wasm-admission serving'))
  webhookPort = sink.lines.find((l) => l['msg'] === 'wasm-admission serving')!['webhookPort'] as number
  const url = `https://127.0.0.1:${webhookPort}`
  const agent = new https.Agent({ keepAlive: true, ca: ca.caPem })
  const session = http2.connect(url, { ca: ca.caPem })
  t.teardown(() => {
    agent.destroy()
    session.destroy()
  })
  const inflight = [
    ...[1, 2, 3].map((i) => post1(url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: `img-${i}` }]), { uid: `h1-${i}` })), ca.caPem, { agent })),
    ...[1, 2, 3].map((i) => post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: `img2-${i}` }]), { uid: `h2-${i}` })))),
  ]
  await until('six reviews in flight', () => held.length === 6)
  process.kill(process.pid, 'SIGTERM')
  await until('readiness false', async () => (await getHealth(healthPort, '/readyz')).status === 503)
  for (const release of held) release()
  const answers = await Promise.all(inflight)
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200], 'all in-flight reviews answered')
  t.same(answers.map((a) => a.body.response.uid), ['h1-1', 'h1-2', 'h1-3', 'h2-1', 'h2-2', 'h2-3'])
  t.equal(await exit, 0, 'serve returned exit code 0')
  t.ok(sink.lines.some((l) => l['msg'] === 'shut down'))
  rmSync(tlsDir, { recursive: true, force: true })
})
