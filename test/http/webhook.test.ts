import t from 'tap'
import http2 from 'node:http2'
import { getHealth, post1, post2, startTestServer, until } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { issueServingCert, makeCa } from '../helpers/tls.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClusterFactsSource, ImageFactsSource } from '../../src/domain/facts.js'
import { NoClusterFacts } from '../../src/facts/placeholders.js'
import { SEED_RCS, cluster, wasm } from '../helpers/facts.js'

const SPIN = 'registry.example/spin:1'

/** Every review answer must be this shape. */
function assertReview(t: Tap.Test, body: any, uid: string, apiVersion = 'admission.k8s.io/v1') {
  t.equal(body?.kind, 'AdmissionReview', 'kind AdmissionReview')
  t.equal(body?.apiVersion, apiVersion, 'apiVersion echoed')
  t.equal(body?.response?.uid, uid, 'uid echoed')
  t.type(body?.response?.allowed, 'boolean', 'allowed is boolean')
}
declare namespace Tap {
  type Test = import('tap').Test
}

// Image facts: every image is a Spin image, so /mutate has something to do.
const spinImages: ImageFactsSource = { lookup: async (image) => wasm(image, 'spin', { hasEntrypoint: false }), readiness: () => ({ ready: true, detail: 'test' }) }

t.test('reviews over a real HTTPS listener', async (t) => {
  const seedCluster: ClusterFactsSource = { snapshot: () => cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2, wasm1: 4 } }), readiness: () => ({ ready: true, detail: 'plain values' }) }
  const s = await startTestServer({ sources: { images: spinImages, cluster: seedCluster } })
  t.teardown(() => s.server.shutdown('test end'))
  const ca = s.ca.caPem

  await t.test('v1 review answered in v1 with the uid', async (t) => {
    const r = await post1(s.url, '/mutate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'u-v1' })), ca)
    t.equal(r.status, 200)
    assertReview(t, r.body, 'u-v1')
  })

  await t.test('v1beta1 review answered in v1beta1', async (t) => {
    const r = await post1(s.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'u-beta', apiVersion: 'admission.k8s.io/v1beta1' })), ca)
    assertReview(t, r.body, 'u-beta', 'admission.k8s.io/v1beta1')
  })

  await t.test('HTTP/2 (as the kube-apiserver negotiates it)', async (t) => {
    const session = http2.connect(s.url, { ca })
    t.teardown(() => session.close())
    const answers = await Promise.all(['h2-a', 'h2-b', 'h2-c'].map((uid) => post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid })))))
    answers.forEach((a, i) => {
      t.equal(a.status, 200)
      assertReview(t, a.body, ['h2-a', 'h2-b', 'h2-c'][i]!)
    })
    t.equal(session.alpnProtocol, 'h2', 'negotiated h2')
    const bad = await new Promise<{ status: number; headers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' })
      req.on('response', (headers) => resolve({ status: Number(headers[':status']), headers }))
      req.on('error', reject)
      req.resume()
      req.end('{not json')
    })
    t.equal(bad.status, 400, 'malformed body on h2: 400')
    t.notOk('connection' in bad.headers, 'no connection header on h2')
    const after = await post2(session, '/validate', JSON.stringify(review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'h2-after' })))
    assertReview(t, after.body, 'h2-after')
  })

  await t.test('unparseable body: 400 with a clear message', async (t) => {
    const r = await post1(s.url, '/mutate', '{"apiVersion": "admission.k8s.io/v1", "kind": ', ca)
    t.equal(r.status, 400)
    t.match(r.body.response.status.message, /request body is not valid JSON/)
    t.equal(r.body.response.allowed, false)
    const empty = await post1(s.url, '/validate', '', ca)
    t.equal(empty.status, 400)
    t.match(empty.body.response.status.message, /body is empty/)
  })

  await t.test('JSON that is not an AdmissionReview: review answer with the uid', async (t) => {
    const r = await post1(s.url, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: { uid: 'u-wrong' } }), ca)
    assertReview(t, r.body, 'u-wrong')
    t.equal(r.body.response.allowed, false)
    t.match(r.body.response.status.message, /not an AdmissionReview/)
    const noUid = await post1(s.url, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }), ca)
    t.match(noUid.body.response.status.message, /WA_ERR_NO_UID/)
    const badVersion = await post1(s.url, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v2', kind: 'AdmissionReview', request: { uid: 'u-v2' } }), ca)
    assertReview(t, badVersion.body, 'u-v2')
    t.match(badVersion.body.response.status.message, /unsupported AdmissionReview apiVersion/)
  })

  await t.test('a kind this endpoint does not handle is allowed unchanged', async (t) => {
    const r = await post1(s.url, '/mutate', JSON.stringify(review({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: 'c2VjcmV0' } }, { uid: 'u-secret' })), ca)
    assertReview(t, r.body, 'u-secret')
    t.equal(r.body.response.allowed, true)
    t.notOk(r.body.response.patch)
  })

  await t.test('a Pod with a malformed spec is answered, not crashed on', async (t) => {
    const r = await post1(s.url, '/mutate', JSON.stringify(review({ apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: 'nope' }, { uid: 'u-malformed' })), ca)
    assertReview(t, r.body, 'u-malformed')
    t.match(r.body.response.status.message, /WA_ERR_OBJECT_MALFORMED/)
  })

  await t.test('oversized body: answered with the uid', async (t) => {
    const big = review(pod([{ name: 'a', image: 'nginx' }]), { uid: 'u-big' })
    ;(big['request'] as any).object.metadata.annotations = { filler: 'x'.repeat(8 * 1024 * 1024) }
    const r = await post1(s.url, '/validate', JSON.stringify(big), ca)
    t.equal(r.status, 413)
    assertReview(t, r.body, 'u-big')
    t.match(r.body.response.status.message, /exceeds 7340032 bytes/)
  })

  await t.test('a real mutation: base64 JSON patch', async (t) => {
    const r = await post1(s.url, '/mutate', JSON.stringify(review(pod([{ name: 'app', image: SPIN }]), { uid: 'u-mut' })), ca)
    assertReview(t, r.body, 'u-mut')
    t.equal(r.body.response.patchType, 'JSONPatch')
    const ops = JSON.parse(Buffer.from(r.body.response.patch, 'base64').toString('utf8'))
    t.same(ops.sort((a: any, b: any) => a.path.localeCompare(b.path)), [
      { op: 'add', path: '/spec/containers/0/command', value: ['/'] },
      { op: 'add', path: '/spec/nodeSelector', value: { spin: 'yes' } },
      { op: 'add', path: '/spec/runtimeClassName', value: 'spin-test' },
    ])
  })

  await t.test('request log lines carry the fixed fields and never the object', async (t) => {
    const line = s.logs.find((l) => l['uid'] === 'u-mut')
    t.ok(line)
    t.same(Object.keys(line!).filter((k) => !['level', 'time', 'service', 'msg'].includes(k)).sort(), ['decision', 'duration_ms', 'endpoint', 'kind', 'mode', 'name', 'namespace', 'operation', 'uid', 'user'])
    t.notOk(s.logs.some((l) => JSON.stringify(l).includes('c2VjcmV0')), 'secret data never logged')
  })

  await t.test('metrics count reviews by endpoint, operation, decision and mode', async (t) => {
    const m = await getHealth(s.server.healthPort, '/metrics')
    t.match(m.body, /wasm_admission_requests_total\{endpoint="mutate",operation="CREATE",decision="mutated",mode="enforce"\} 2/)
    t.match(m.body, /wasm_admission_request_duration_seconds_bucket/)
    t.equal((await getHealth(s.server.healthPort, '/livez')).status, 200)
    t.equal((await getHealth(s.server.healthPort, '/readyz')).status, 200)
  })
})

t.test('a facts source that throws, and one that hangs past the deadline', async (t) => {
  const throwing: ClusterFactsSource = { snapshot: () => { throw new Error('boom from the cluster view') }, readiness: () => ({ ready: true, detail: '' }) }
  const hanging: ImageFactsSource = { lookup: () => new Promise(() => {}), readiness: () => ({ ready: true, detail: '' }) }
  const s1 = await startTestServer({ sources: { images: spinImages, cluster: throwing } })
  t.teardown(() => s1.server.shutdown('test end'))
  const m = await post1(s1.url, '/mutate', JSON.stringify(review(pod([{ name: 'a', image: SPIN }]), { uid: 'u-throw-m' })), s1.ca.caPem)
  assertReview(t, m.body, 'u-throw-m')
  t.equal(m.body.response.allowed, true, 'mutation fails open')
  t.match(m.body.response.warnings[0], /did not mutate.*boom from the cluster view.*WA_ERR_INTERNAL/)
  const v = await post1(s1.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: SPIN }]), { uid: 'u-throw-v' })), s1.ca.caPem)
  assertReview(t, v.body, 'u-throw-v')
  t.equal(v.body.response.allowed, false, 'validation fails closed')
  t.equal(v.body.response.status.code, 500)

  // Webhook timeout 2 s, margin 1 s: the review must be answered before the apiserver's 2 s would expire.
  const s2 = await startTestServer({ args: ['--webhook-timeout-seconds', '2', '--deadline-margin-ms', '1000'], sources: { images: hanging, cluster: new NoClusterFacts() } })
  t.teardown(() => s2.server.shutdown('test end'))
  const h = await post1(s2.url, '/validate', JSON.stringify(review(pod([{ name: 'a', image: SPIN }]), { uid: 'u-hang' })), s2.ca.caPem, { timeoutMs: 2000 })
  assertReview(t, h.body, 'u-hang')
  t.equal(h.body.response.allowed, true, 'onUnknownImage: allow')
  t.match(h.body.response.warnings.join('\n'), /did not finish before the admission deadline/)
})

t.test('readiness is false until the certificate is loaded', async (t) => {
  let healthPort = 0
  const ca = makeCa()
  const tlsDir = mkdtempSync(join(tmpdir(), 'wa-tls-'))
  const pending = startTestServer({ withCert: false, ca, tlsDir, onHealthListening: (p) => (healthPort = p) })
  await until('health port listening', () => healthPort !== 0)
  const before = await getHealth(healthPort, '/readyz')
  t.equal(before.status, 503)
  t.match(JSON.parse(before.body).checks.tls, { ready: false, detail: /no valid key pair/ })
  issueServingCert(ca, tlsDir)
  const s = await pending
  t.teardown(() => s.server.shutdown('test end'))
  t.equal((await getHealth(healthPort, '/readyz')).status, 200)
})
