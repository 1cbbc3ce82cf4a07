import t from 'tap'
import { ClusterIndex } from '../../../src/facts/cluster/cluster-index.js'
import { node, pod, rc, taint, testPolicy } from './helpers.js'

const spinTest = rc('spin-test', 'spin', { spin: 'yes' })

function index() {
  const idx = new ClusterIndex(() => testPolicy())
  idx.setKnown(true)
  idx.upsertRuntimeClass(spinTest)
  idx.upsertNode(node('spin-1', { labels: { spin: 'yes' }, runtimeHandlers: ['spin'] }))
  idx.upsertNode(node('spin-2', { labels: { spin: 'yes' }, runtimeHandlers: ['spin'], ready: false }))
  idx.upsertNode(node('runc-1', { runtimeHandlers: ['runc'] }))
  idx.upsertNode(node('runc-2', { runtimeHandlers: ['runc'], labels: { pool: 'gpu' } }))
  idx.upsertNode(node('tainted', { runtimeHandlers: ['runc'], taints: [taint('dedicated', 'db', 'NoSchedule')] }))
  return idx.snapshot()
}

t.test('spec.nodeName: only the named node can be chosen', async (t) => {
  const s = index()
  t.equal(s.eligibility('spin-test', pod({ nodeName: 'spin-1' })).eligibleNodes, 1)
  const e = s.eligibility('spin-test', pod({ nodeName: 'runc-1' }))
  t.equal(e.eligibleNodes, 0)
  t.equal(e.message, "0/5 nodes can run RuntimeClass spin-test (handler spin): 3 lack the spin shim, 2 are not the pod's spec.nodeName runc-1")
  t.equal(e.reasons.find((r) => r.code === 'podNodeName')?.key, 'runc-1')
})

t.test('placement: the nodes a DaemonSet template targets that cannot run the class', async (t) => {
  const s = index()
  t.same(s.placement('spin-test', pod()), { targeted: 4, ineligible: 2, ineligibleNames: ['runc-1', 'runc-2'] }, 'the tainted node is not targeted; the not-ready spin node is not a miss')
  t.same(s.placement('spin-test', pod({ nodeSelector: { spin: 'yes' } })), { targeted: 2, ineligible: 0, ineligibleNames: [] })
  t.same(s.placement('spin-test', pod({ nodeSelector: { pool: 'gpu' } })), { targeted: 1, ineligible: 1, ineligibleNames: ['runc-2'] })
  t.same(s.placement('missing', pod()), { targeted: 0, ineligible: 0, ineligibleNames: [] })
})

t.test('placement follows the DaemonSet controller (NodeShouldRunDaemonPod), not the scheduler', async (t) => {
  const idx = new ClusterIndex(() => testPolicy())
  idx.setKnown(true)
  // The RuntimeClass tolerates `dedicated`; the DaemonSet controller never looks at the RuntimeClass.
  idx.upsertRuntimeClass(rc('spin-test', 'spin', { spin: 'yes' }, { tolerations: [{ key: 'dedicated', operator: 'Exists' }] }))
  idx.upsertNode(node('cordoned-runc', { runtimeHandlers: ['runc'], unschedulable: true }))
  idx.upsertNode(node('tainted-runc', { runtimeHandlers: ['runc'], taints: [taint('dedicated', 'db', 'NoSchedule')] }))
  idx.upsertNode(node('not-ready-spin', { runtimeHandlers: ['spin'], labels: { spin: 'yes' }, ready: false, taints: [taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')] }))
  idx.upsertNode(node('pressure-spin', { runtimeHandlers: ['spin'], labels: { spin: 'yes' }, taints: [taint('node.kubernetes.io/disk-pressure', undefined, 'NoSchedule')] }))
  const s = idx.snapshot()
  t.same(
    s.placement('spin-test', pod()),
    { targeted: 3, ineligible: 1, ineligibleNames: ['cordoned-runc'] },
    'cordoned, not-ready and pressured nodes get pods (DaemonSet tolerations); the RuntimeClass toleration does not make the tainted node a target',
  )
  t.same(s.placement('spin-test', pod({ tolerations: [{ key: 'dedicated', operator: 'Exists' }] })), { targeted: 4, ineligible: 2, ineligibleNames: ['cordoned-runc', 'tainted-runc'] }, "the template's own toleration does")
  t.same(s.placement('spin-test', pod({ nodeName: 'pressure-spin' })), { targeted: 1, ineligible: 0, ineligibleNames: [] }, "a template's spec.nodeName limits the targets")
})
