// The answer leaves before the review's bookkeeping: when the request line is written, the reply
// has already been sent (the line and the metrics are nothing the apiserver has to wait for).
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { FastifyReply } from 'fastify'
import { buildWebhookApp } from '../../src/http/webhook-app.js'
import { WebhookMetrics } from '../../src/metrics/metrics.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import type { ClusterFactsSource, ImageFactsSource } from '../../src/domain/facts.js'
import { SEED_RCS, cluster, wasm } from '../helpers/facts.js'
import { pod, review } from '../helpers/reviews.js'
import { issueServingCert, makeCa } from '../helpers/tls.js'

t.test('the request line is written after the answer was sent, for /mutate and /validate', async (t) => {
  const tlsDir = mkdtempSync(join(tmpdir(), 'wa-order-'))
  const tls = issueServingCert(makeCa(), tlsDir)
  const images: ImageFactsSource = { lookup: async (image) => wasm(image, 'spin', { hasEntrypoint: false }), readiness: () => ({ ready: true, detail: 'test' }) }
  const clusterFacts: ClusterFactsSource = { snapshot: () => cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 2, wasm1: 4 } }), readiness: () => ({ ready: true, detail: 'plain values' }) }
  let current: FastifyReply | undefined
  const sentWhenLogged: Array<{ msg: string; sent: boolean | undefined }> = []
  const requestLogger = pino({}, { write: (line: string) => void sentWhenLogged.push({ msg: JSON.parse(line).msg, sent: current?.sent }) })
  const app = buildWebhookApp({
    tls,
    deps: { images, cluster: clusterFacts, policy: defaultPolicy, deadlineMs: 5_000 },
    logger: pino({ level: 'silent' }),
    requestLogger,
    metrics: new WebhookMetrics({ defaultMetrics: false }),
    now: () => performance.now(),
  })
  app.addHook('onRequest', (_request, reply, done) => {
    current = reply
    done()
  })
  t.teardown(() => app.close())
  for (const endpoint of ['mutate', 'validate']) {
    const r = await app.inject({ method: 'POST', url: `/${endpoint}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review(pod([{ name: 'a', image: 'registry.example/spin:1' }]), { uid: `u-${endpoint}` })) })
    t.equal(r.statusCode, 200, endpoint)
    t.equal(r.json().response.uid, `u-${endpoint}`, endpoint)
  }
  t.same(sentWhenLogged, [
    { msg: 'admission review', sent: true },
    { msg: 'admission review', sent: true },
  ])
})
