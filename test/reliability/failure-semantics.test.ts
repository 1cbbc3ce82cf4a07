/**
 * Failure semantics (docs/failure-semantics.md), through the real HTTPS listener and the real image
 * inspector: what happens to a pod when its registry is unreachable (a real registry, stopped:
 * connection refused) or too slow (a stalled fault server: the review deadline cuts the lookup),
 * for onUnknownImage allow and deny, in each namespace mode (enforce, warn, audit, off), on
 * /mutate and /validate. The webhook-down half (failurePolicy) is tested end to end on the real
 * control plane in test/e2e/modes.test.ts ('webhook process stopped: chart defaults').
 */
import t from 'tap'
import http2 from 'node:http2'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImageInspector } from '../../src/facts/images/inspector.js'
import { MODE_LABEL, MODES, type Mode } from '../../src/domain/policy.js'
import type { AdmissionReview } from '../../src/admission/types.js'
import { post2 } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { cluster, SEED_RCS } from '../helpers/facts.js'
import { startFaultServer } from '../harness/fault-server.js'
import { registryAvailable, startRegistry } from '../harness/registry.js'
import { Ledger, startReliabilityServer } from './helpers.js'

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')
const ledger = new Ledger('failure-semantics')
t.teardown(() => ledger.flush())

const dead = await startRegistry()
const deadHost = dead.host
await dead.stop() // nothing listens there any more: connection refused
let stalls = 0
const slow = await startFaultServer({ '/v2/': () => void stalls++ })
t.teardown(() => slow.stop())

const namespaces = Object.fromEntries(MODES.map((m) => [`ns-${m}`, { [MODE_LABEL]: m }]))
const clusterSource = { snapshot: () => cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 1, wasm1: 1 }, namespaces }), readiness: () => ({ ready: true, detail: '' }) }

interface Expect {
  allowed: boolean
  /** A warning mentioning the image was not inspected. */
  warning: boolean
  /** auditAnnotations.violations includes unknown-image (every mode that found the violation records it). */
  audited: boolean
}
/** The policy, as a table: validation of a pod whose image cannot be inspected. */
const VALIDATE: Record<'allow' | 'deny', Record<Mode, Expect>> = {
  allow: {
    enforce: { allowed: true, warning: true, audited: false },
    warn: { allowed: true, warning: true, audited: false },
    audit: { allowed: true, warning: true, audited: false },
    off: { allowed: true, warning: false, audited: false },
  },
  deny: {
    enforce: { allowed: false, warning: false, audited: true },
    warn: { allowed: true, warning: true, audited: true },
    audit: { allowed: true, warning: false, audited: true },
    off: { allowed: true, warning: false, audited: false },
  },
}

for (const onUnknownImage of ['allow', 'deny'] as const) {
  t.test(`onUnknownImage: ${onUnknownImage}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'wa-fs-'))
    writeFileSync(join(dir, 'policy.yaml'), `onUnknownImage: ${onUnknownImage}\n`)
    const images = new ImageInspector({ plainHttp: [deadHost, slow.host], ssrf: { allow: ['127.0.0.0/8'] }, cache: false })
    const s = await startReliabilityServer({ args: ['--policy', join(dir, 'policy.yaml'), '--webhook-timeout-seconds', '2', '--deadline-margin-ms', '1000'], sources: { images, cluster: clusterSource } })
    t.teardown(async () => {
      await s.server.shutdown('test end')
      await images.close()
    })
    const session = http2.connect(s.url, { ca: s.ca.caPem })
    t.teardown(() => session.close())
    for (const [fault, image, code] of [
      ['registry unreachable (connection refused)', `${deadHost}/apps/spin:v1`, 'connection refused'],
      ['registry too slow (review deadline)', `${slow.host}/apps/spin:v1`, 'admission deadline'],
    ] as const) {
      for (const mode of MODES) {
        for (const withRc of [false, true]) {
          const p = pod([{ name: 'app', image }], withRc ? { runtimeClassName: 'spin-test' } : {}, { namespace: `ns-${mode}` })
          const what = `${fault}, ${mode}, ${withRc ? 'runtimeClassName spin-test' : 'no runtimeClassName'}`
          ledger.add('faults')
          // mutate: fails open in every mode -- an image that cannot be read is not mutated
          const m = (await post2(session, '/mutate', JSON.stringify(review(p, { namespace: `ns-${mode}`, uid: `m-${mode}` })))).body as AdmissionReview
          ledger.add('requestsDuringFaults')
          t.equal(m.response?.allowed, true, `${what}: /mutate allows`)
          t.equal(m.response?.patch, undefined, `${what}: /mutate does not patch`)
          const v = (await post2(session, '/validate', JSON.stringify(review(p, { namespace: `ns-${mode}`, uid: `v-${mode}` })))).body as AdmissionReview
          ledger.add('requestsDuringFaults')
          const want = VALIDATE[onUnknownImage][mode]
          t.equal(v.response?.allowed, want.allowed, `${what}: /validate ${want.allowed ? 'allows' : 'denies'}`)
          if (want.allowed === true && onUnknownImage === 'deny' && mode === 'enforce') ledger.add('wronglyAdmitted')
          const warned = (v.response?.warnings ?? []).some((w) => w.includes('could not be inspected') && w.includes(image) && w.includes(code))
          t.equal(warned, want.warning, `${what}: ${want.warning ? `a warning names the image and says "${code}"` : 'no warning'}: ${JSON.stringify(v.response?.warnings ?? [])}`)
          t.equal((v.response?.auditAnnotations?.['violations'] ?? '').includes('unknown-image'), want.audited, `${what}: ${want.audited ? 'recorded in auditAnnotations' : 'no audit record'}`)
          if (!want.allowed) {
            t.match(v.response?.status?.message ?? '', new RegExp(`could not be inspected.*${code}`), `${what}: the denial says why`)
            t.match(v.response?.status?.message ?? '', /fix: make the registry reachable, or set onUnknownImage: allow/, `${what}: and how to fix it`)
          }
        }
      }
    }
    t.ok(stalls > 0, `the stalled registry was asked (${stalls} requests) and the reviews were answered within the deadline anyway`)
  })
}
