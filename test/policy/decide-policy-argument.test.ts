/**
 * Issue 12: decide() has no hidden input. Node eligibility is a function of the policy passed to
 * decide(), not of the policy the cluster index captured when it built its snapshot. Here the index
 * and decide() disagree on `trustRuntimeClassNodeSelector`; before the fix the index's policy won.
 */
import t from 'tap'
import { decide } from '../../src/policy/decide.js'
import { ClusterIndex } from '../../src/facts/cluster/cluster-index.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import { podTemplateOf } from '../../src/domain/workload.js'
import type { Policy } from '../../src/domain/policy.js'
import { cluster, imagesOf, SEED_RCS, wasm } from '../helpers/facts.js'
import { pod } from '../helpers/reviews.js'
import { node, rc } from '../facts/cluster/helpers.js'

const SPIN = 'registry.example/app/spin-hello:v1'
const trusting: Policy = { ...defaultPolicy(), trustRuntimeClassNodeSelector: true }
const distrusting: Policy = { ...defaultPolicy(), trustRuntimeClassNodeSelector: false }

/** A node that shows the spin shim only by matching the RuntimeClass's nodeSelector. */
function snapshotBuiltUnder(policy: Policy) {
  const idx = new ClusterIndex(() => policy)
  idx.setKnown(true)
  idx.upsertRuntimeClass(rc('spin-test', 'spin', { spin: 'yes' }))
  idx.upsertNode(node('n1', { labels: { spin: 'yes' } }))
  return idx.snapshot()
}

function validate(facts: Parameters<typeof decide>[1], policy: Policy) {
  const obj = pod([{ name: 'app', image: SPIN }], { runtimeClassName: 'spin-test' })
  const kind = { group: '', version: 'v1', kind: 'Pod' }
  return decide({ endpoint: 'validate', operation: 'CREATE', kind, namespace: 'default', isPod: true, template: podTemplateOf(kind, obj)! }, facts, policy)
}

t.test("eligibility follows decide()'s policy, whatever policy the snapshot was built under", async (t) => {
  const images = imagesOf(wasm(SPIN, 'spin', { hasEntrypoint: false }))
  for (const [built, name] of [[trusting, 'trusting'], [distrusting, 'distrusting']] as const) {
    const snapshot = snapshotBuiltUnder(built)
    const underTrust = validate({ images, cluster: snapshot }, trusting)
    t.equal(underTrust.allowed, true, `snapshot built ${name}, decide() trusts the RuntimeClass nodeSelector: n1 is eligible`)
    const underDistrust = validate({ images, cluster: snapshot }, distrusting)
    t.equal(underDistrust.allowed, false, `snapshot built ${name}, decide() does not trust it: no node shows the shim`)
    t.match(underDistrust.violations.map((v) => v.message).join('\n'), /0\/1 nodes can run RuntimeClass spin-test \(handler spin\): 1 lacks the spin shim; fix: provision the "spin" shim on a node/)
  }
})

t.test('the snapshot answers for the policy it is asked about, and remembers answers per policy', async (t) => {
  const snapshot = snapshotBuiltUnder(distrusting)
  const p = { nodeSelector: {}, requiredNodeAffinity: [], tolerations: [] }
  t.equal(snapshot.eligibility('spin-test', p, trusting).eligibleNodes, 1)
  t.equal(snapshot.eligibility('spin-test', p, distrusting).eligibleNodes, 0)
  t.equal(snapshot.eligibility('spin-test', p, trusting).eligibleNodes, 1, 'the memo is keyed by policy too')
  t.same(snapshot.placement('spin-test', p, trusting), { targeted: 1, ineligible: 0, ineligibleNames: [] })
  t.same(snapshot.placement('spin-test', p, distrusting), { targeted: 1, ineligible: 1, ineligibleNames: ['n1'] })
})

t.test('the plain-value fake refuses an eligibility question without a policy', async (t) => {
  const fake = cluster({ runtimeClasses: SEED_RCS, eligible: { 'spin-test': 1 } })
  const p = { nodeSelector: {}, requiredNodeAffinity: [], tolerations: [] }
  t.throws(() => (fake.eligibility as (n: string, p: unknown) => unknown)('spin-test', p), /without the policy/)
  t.equal(fake.eligibility('spin-test', p, trusting).eligibleNodes, 1)
})
