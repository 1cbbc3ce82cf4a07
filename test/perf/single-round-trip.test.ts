// Performance properties that are pass/fail (the figures themselves are in bench/, not in tests):
//  - 1,000 concurrent admissions of one uncached image: ONE registry round trip (each manifest and
//    blob fetched once), counted at a proxy in front of the real registry;
//  - registry calls only on cache misses;
//  - no apiserver call per admission: during the admissions the proxy in front of the real
//    kube-apiserver sees no new request at all (no list, no get; the open watches carry everything).
// Through the real HTTPS webhook (startServer: both listeners, real TLS, the informers, the registry
// inspector), the real kube-apiserver + etcd and the real docker-registry.
import t from 'tap'
import http2 from 'node:http2'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify as toYaml } from 'yaml'
import { parseServeOptions } from '../../src/config/serve-options.js'
import { startServer } from '../../src/commands/serve.js'
import { startControlPlane, controlPlaneToolsAvailable } from '../harness/control-plane.js'
import { registryAvailable, startRegistry } from '../harness/registry.js'
import { Pusher, bytesOf } from '../harness/push.js'
import { WASM_MODULE } from '../harness/sample-images.js'
import { issueServingCert, makeCa } from '../helpers/tls.js'
import { logSink } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { startApiserverProxy, startCountingProxy } from './proxies.js'

const CONCURRENT = 1000

const skip = !controlPlaneToolsAvailable() ? 'control-plane tools not built: run scripts/build-tools.sh' : !registryAvailable() ? 'docker-registry not installed: run scripts/install-system-deps.sh' : false

t.test('one registry round trip for 1,000 concurrent admissions; no apiserver call per admission', { skip }, async (t) => {
  const [cp, registry] = await Promise.all([startControlPlane({}), startRegistry()])
  t.teardown(() => cp.stop())
  t.teardown(() => registry.stop())
  const regProxy = await startCountingProxy({ host: '127.0.0.1', port: registry.port })
  t.teardown(() => regProxy.stop())
  const apiProxy = await startApiserverProxy(cp)
  t.teardown(() => apiProxy.stop())

  // One Spin node and the spin-test RuntimeClass, so that admissions are mutated.
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'spin-1', labels: { spin: 'yes' } } }
  const rc = { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-test' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } }
  await cp.kubectl(['apply', '-f', '-'], { input: [node, rc].map((o) => JSON.stringify(o)).join('\n---\n') })
  await cp.kubectl(['patch', 'node', 'spin-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True' }], runtimeHandlers: [{ name: 'runc' }, { name: 'spin' }] } })])
  await cp.kubectl(['taint', 'node', 'spin-1', 'node.kubernetes.io/not-ready:NoSchedule-'], { allowFailure: true })

  // Unique Spin images (a fresh config each), pushed straight to the registry; pods name them
  // through the counting proxy.
  const pusher = new Pusher(registry.host)
  const pushSpin = async (repo: string): Promise<string> => {
    const wasm = await pusher.pushBlob(repo, WASM_MODULE, 'application/vnd.wasm.content.layer.v1+wasm')
    const cfg = await pusher.pushBlob(repo, bytesOf({ spin_lock_version: 0, triggers: [], components: [{ id: repo }] }), 'application/vnd.fermyon.spin.application.v1+config')
    await pusher.pushImageManifest(repo, 'v1', { config: cfg, layers: [wasm] })
    return `${regProxy.host}/${repo}:v1`
  }
  const image = await pushSpin('perf/one')
  const other = await pushSpin('perf/other')

  const dir = mkdtempSync(join(tmpdir(), 'wa-perf-'))
  const ca = makeCa()
  issueServingCert(ca, join(dir, 'tls'))
  writeFileSync(join(dir, 'registry.yaml'), toYaml({ plainHttp: [regProxy.host], allowHosts: ['127.0.0.0/8'] }))
  const opts = parseServeOptions(
    ['--tls-dir', join(dir, 'tls'), '--port', '0', '--health-port', '0', '--host', '127.0.0.1', '--shutdown-delay-seconds', '0', '--kubeconfig', apiProxy.kubeconfigPath, '--registry-config', join(dir, 'registry.yaml'), '--log-level', 'warn',
      // The property is the registry round trip, not speed: the longest timeout Kubernetes allows keeps the
      // per-review deadline (which starts when a review arrives, before the gate opens) out of the way on a
      // loaded machine, where 1,000 reviews can take longer than the default 4 s to all reach the cache.
      '--webhook-timeout-seconds', '30'],
    {},
  )
  const sink = logSink()
  const server = await startServer(opts, { env: {}, stdout: () => {}, stderr: () => {}, logDestination: sink.stream as unknown as import('pino').DestinationStream })
  t.teardown(() => server.shutdown('test end'))
  t.ok(server.ready(), 'ready: informers synced')

  const sessions = Array.from({ length: 10 }, () => http2.connect(`https://127.0.0.1:${server.webhookPort}`, { ca: ca.caPem }))
  t.teardown(() => sessions.forEach((s) => s.close()))
  const admit = (img: string, uid: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const req = sessions[Number(uid.replace(/\D/g, '')) % sessions.length]!.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' })
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))))
      req.on('error', reject)
      req.end(JSON.stringify(review(pod([{ name: 'app', image: img }]), { uid, namespace: 'default' })))
    })
  const cacheRequests = async (result: string): Promise<number> => {
    const m = (await server.metrics.registry.getSingleMetricAsString('wasm_admission_image_cache_requests_total')).split('\n')
    return Number(m.find((l) => l.includes(`result="${result}"`))?.split(' ').pop() ?? 0)
  }
  // Baseline once the three watches are open (they start right after the initial lists).
  for (const until = Date.now() + 30_000; apiProxy.openWatches() < 3; ) {
    if (Date.now() > until) throw new Error('watches did not open')
    await new Promise((r) => setTimeout(r, 20))
  }
  const apiRequestsAfterSync = apiProxy.requests.length
  const apiNonWatchAfterSync = apiProxy.count((r) => !r.watch)

  await t.test(`${CONCURRENT} concurrent admissions of one uncached image: one registry round trip`, async (t) => {
    // Hold the registry's answers until every admission has asked the cache, so they overlap for sure.
    const gate = regProxy.gate(/^\/v2\/perf\/one\//)
    const before = (await cacheRequests('hit')) + (await cacheRequests('miss'))
    const answers = Promise.all(Array.from({ length: CONCURRENT }, (_, i) => admit(image, `uid-${i}`)))
    const until = Date.now() + 60_000
    while ((await cacheRequests('hit')) + (await cacheRequests('miss')) - before < CONCURRENT || gate.waiting() === 0) {
      if (Date.now() > until) throw new Error('admissions did not all reach the image cache')
      await new Promise((r) => setTimeout(r, 20))
    }
    t.ok(gate.waiting() >= 1, 'the lookup is waiting at the registry')
    gate.open()
    const all = await answers
    t.equal(all.filter((a) => a.response?.allowed === true && typeof a.response.patch === 'string').length, CONCURRENT, 'every admission allowed and mutated')
    const patch = JSON.parse(Buffer.from(all[0].response.patch, 'base64').toString('utf8'))
    t.ok(patch.some((op: { path: string; value: unknown }) => op.path === '/spec/runtimeClassName' && op.value === 'spin-test'), 'runtimeClassName injected')
    const reqs = regProxy.requests.filter((r) => r.path.startsWith('/v2/perf/one/'))
    const byPath = new Map<string, number>()
    for (const r of reqs) byPath.set(`${r.method} ${r.path}`, (byPath.get(`${r.method} ${r.path}`) ?? 0) + 1)
    t.ok(reqs.some((r) => r.path.includes('/manifests/')), 'the manifest was fetched')
    t.same([...byPath.values()].filter((n) => n > 1), [], `each registry resource fetched once: ${[...byPath.keys()].join(', ')}`)
    t.equal(await cacheRequests('miss'), 1, 'one cache miss')
  })

  await t.test('registry calls only on cache misses', async (t) => {
    const before = regProxy.requests.length
    const missesBefore = await cacheRequests('miss')
    const warm = await Promise.all(Array.from({ length: 200 }, (_, i) => admit(image, `uid-warm-${i}`)))
    t.equal(warm.filter((a) => a.response?.patch).length, 200)
    t.equal(regProxy.requests.length, before, 'no registry request for cached images')
    t.equal(await cacheRequests('miss'), missesBefore, 'no miss')
    await admit(other, 'uid-other-1')
    t.ok(regProxy.requests.length > before, 'a new image goes to the registry')
    t.equal(await cacheRequests('miss'), missesBefore + 1, 'exactly one more miss')
    const after = regProxy.requests.length
    await admit(other, 'uid-other-2')
    t.equal(regProxy.requests.length, after, 'and is cached afterwards')
  })

  await t.test('no apiserver call per admission: only the watches opened at start', async (t) => {
    t.equal(apiProxy.count((r) => !r.watch), apiNonWatchAfterSync, 'no list or get during the admissions')
    t.equal(apiProxy.requests.length, apiRequestsAfterSync, 'no new request at all')
    t.equal(apiProxy.openWatches(), 3, 'nodes, runtimeclasses and namespaces are watched')
    t.ok(apiNonWatchAfterSync >= 3, 'the initial lists went through the proxy')
  })
})
