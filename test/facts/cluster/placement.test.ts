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
  t.equal(e.message, "0/5 nodes can run RuntimeClass spin-test (handler spin): 1 is not ready, 3 lack the spin shim, 1 is not the pod's spec.nodeName runc-1")
})

t.test('placement: the nodes a DaemonSet template targets that cannot run the class', async (t) => {
  const s = index()
  t.same(s.placement('spin-test', pod()), { targeted: 4, ineligible: 2, ineligibleNames: ['runc-1', 'runc-2'] }, 'the tainted node is not targeted; the not-ready spin node is not a miss')
  t.same(s.placement('spin-test', pod({ nodeSelector: { spin: 'yes' } })), { targeted: 2, ineligible: 0, ineligibleNames: [] })
  t.same(s.placement('spin-test', pod({ nodeSelector: { pool: 'gpu' } })), { targeted: 1, ineligible: 1, ineligibleNames: ['runc-2'] })
  t.same(s.placement('missing', pod()), { targeted: 0, ineligible: 0, ineligibleNames: [] })
})
