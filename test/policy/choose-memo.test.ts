import t from 'tap'
import { chooseRuntimeClass } from '../../src/policy/decide.js'
import { ClusterIndex } from '../../src/facts/cluster/cluster-index.js'
import { PolicyStore } from '../../src/policy/policy-store.js'
import { defaultPolicy } from '../../src/policy/defaults.js'
import type { Policy } from '../../src/domain/policy.js'
import { node, pod, rc } from '../facts/cluster/helpers.js'

// The automatic RuntimeClass choice is remembered per immutable cluster view and frozen policy
// (src/policy/decide.ts). These check that a remembered answer is never a stale one.

function index(policy: () => Policy): ClusterIndex {
  const idx = new ClusterIndex(policy)
  idx.setKnown(true)
  idx.upsertRuntimeClass(rc('spin-a', 'spin', { pool: 'a' }))
  idx.upsertRuntimeClass(rc('spin-b', 'spin', { pool: 'b' }))
  idx.upsertNode(node('a1', { labels: { pool: 'a' }, runtimeHandlers: ['spin'] }))
  idx.upsertNode(node('b1', { labels: { pool: 'b' }, runtimeHandlers: ['spin'] }))
  idx.upsertNode(node('b2', { labels: { pool: 'b' }, runtimeHandlers: ['spin'] }))
  return idx
}

t.test('the policy store hands out deeply frozen policies', async (t) => {
  const store = new PolicyStore(undefined)
  const p = store.current()
  t.ok(Object.isFrozen(p) && Object.isFrozen(p.families) && Object.isFrozen(p.families.spin) && Object.isFrozen(p.families.spin.handlers), 'frozen all the way down')
  t.throws(() => (p.families.spin.handlers as string[]).push('x'), TypeError, 'cannot be changed in place')
  t.notOk(Object.isFrozen(defaultPolicy().families.spin.handlers), 'defaultPolicy() still returns fresh, unfrozen values')
})

t.test('a frozen policy and a snapshot: the same answers as without the memo, and new ones for a new snapshot', async (t) => {
  const store = new PolicyStore(undefined)
  const idx = index(() => store.current())
  const s1 = idx.snapshot()
  t.equal(s1.immutable, true)
  const frozen = store.current()
  const fresh = defaultPolicy() // not frozen: never remembered
  for (const sched of [pod(), pod({ nodeSelector: { pool: 'a' } }), pod({ nodeSelector: { pool: 'b' } })]) {
    const first = chooseRuntimeClass('spin', sched, s1, frozen)
    t.same(chooseRuntimeClass('spin', sched, s1, frozen), first, 'asked again: the same answer')
    t.same(first, chooseRuntimeClass('spin', sched, s1, fresh), 'the answer computed afresh')
  }
  t.same(chooseRuntimeClass('spin', pod(), s1, frozen), { name: 'spin-b' }, 'the class with more eligible nodes')
  // The cluster changes: a new snapshot, a new answer; the old snapshot keeps its own.
  idx.upsertNode(node('a2', { labels: { pool: 'a' }, runtimeHandlers: ['spin'] }))
  idx.upsertNode(node('a3', { labels: { pool: 'a' }, runtimeHandlers: ['spin'] }))
  const s2 = idx.snapshot()
  t.not(s2, s1)
  t.same(chooseRuntimeClass('spin', pod(), s2, frozen), { name: 'spin-a' }, 'new snapshot: now spin-a has more nodes')
  t.same(chooseRuntimeClass('spin', pod(), s1, frozen), { name: 'spin-b' }, 'old snapshot: unchanged')
})

t.test('a policy that is not frozen, or a view that may change, is answered afresh every time', async (t) => {
  const store = new PolicyStore(undefined)
  const idx = index(() => store.current())
  const s = idx.snapshot()
  const policy = defaultPolicy()
  t.same(chooseRuntimeClass('spin', pod(), s, policy), { name: 'spin-b' })
  policy.families.spin.handlers = ['other'] // changed in place: must be seen
  t.match(chooseRuntimeClass('spin', pod(), s, policy), { note: /no RuntimeClass has a spin handler/ })
  // A hand-made view without `immutable` (a test double, a file): its answers can change under the same object.
  let classes = [rc('spin-a', 'spin')]
  const view = {
    known: true,
    runtimeClass: (n: string) => classes.find((c) => c.name === n),
    runtimeClasses: () => classes,
    namespaceLabels: () => undefined,
    eligibility: (name: string) => ({ runtimeClass: name, handler: 'spin', totalNodes: 1, eligibleNodes: 1, eligibleNodeNames: [], reasons: [], message: '' }),
    placement: () => ({ targeted: 0, ineligible: 0, ineligibleNames: [] }),
  }
  const frozen = store.current()
  t.same(chooseRuntimeClass('spin', pod(), view, frozen), { name: 'spin-a' })
  classes = [rc('spin-z', 'spin')]
  t.same(chooseRuntimeClass('spin', pod(), view, frozen), { name: 'spin-z' }, 'the changed view is seen')
})
