import t from 'tap'
import fc from 'fast-check'
import { ClusterIndex } from '../../../src/facts/cluster/cluster-index.js'
import { computeEligibility } from '../../../src/facts/cluster/eligibility.js'
import type { NodeSummary } from '../../../src/facts/cluster/node-summary.js'
import type { Policy } from '../../../src/domain/policy.js'
import type { PodScheduling } from '../../../src/domain/kube.js'
import type { RuntimeClassInfo } from '../../../src/domain/facts.js'
import { node, pod, rc, taint, testPolicy } from './helpers.js'

const wasm1 = rc('wasm1', 'wasmtime', { 'wasmtime-enabled': 'yes' })
const spinTest = rc('spin-test', 'spin', { spin: 'yes' })

t.test('basic index operations and snapshot', async (t) => {
  const idx = new ClusterIndex(() => testPolicy())
  t.equal(idx.snapshot().known, false, 'unknown until setKnown')
  idx.setKnown(true)
  idx.upsertRuntimeClass(wasm1)
  idx.upsertRuntimeClass(spinTest)
  idx.upsertNode(node('w1', { labels: { 'wasmtime-enabled': 'yes' } }))
  idx.upsertNode(node('s1', { labels: { spin: 'yes' }, runtimeHandlers: ['spin'] }))
  idx.upsertNode(node('plain'))
  idx.upsertNamespace('default', { 'wasm-admission.io/mode': 'warn' })
  const s = idx.snapshot()
  t.equal(s.known, true)
  t.same(s.runtimeClasses().map((r) => r.name), ['spin-test', 'wasm1'])
  t.equal(s.runtimeClass('wasm1')?.handler, 'wasmtime')
  t.equal(s.runtimeClass('nope'), undefined)
  t.same(s.namespaceLabels('default'), { 'wasm-admission.io/mode': 'warn' })
  t.equal(s.namespaceLabels('kube-system'), undefined)
  t.equal(s.eligibility('wasm1', pod()).message, '1/3 nodes can run RuntimeClass wasm1 (handler wasmtime): 1 lacks the wasmtime shim, 1 does not match nodeSelector wasmtime-enabled=yes')
  t.equal(s.eligibility('spin-test', pod()).eligibleNodes, 1)
  t.equal(s.eligibility('gone', pod()).message, '0/3 nodes can run RuntimeClass gone: RuntimeClass "gone" not found')

  t.notOk(idx.upsertNode(node('plain')), 'no-op update is ignored')
  t.equal(idx.snapshot(), s, 'same view when nothing changed')

  // copy-on-write: s is not affected by later changes
  idx.upsertNode(node('plain', { labels: { 'wasmtime-enabled': 'yes' } }))
  idx.deleteRuntimeClass('spin-test')
  idx.deleteNamespace('default')
  const s2 = idx.snapshot()
  t.equal(s2.eligibility('wasm1', pod()).eligibleNodes, 2)
  t.equal(s.eligibility('wasm1', pod()).eligibleNodes, 1, 'old snapshot unchanged')
  t.ok(s.runtimeClass('spin-test'), 'old snapshot still has the deleted RuntimeClass')
  t.notOk(s2.runtimeClass('spin-test'))
  t.ok(s.namespaceLabels('default'))
  t.notOk(s2.namespaceLabels('default'))

  idx.deleteNode('w1')
  t.equal(idx.snapshot().eligibility('wasm1', pod()).message, '1/2 nodes can run RuntimeClass wasm1 (handler wasmtime): 1 lacks the wasmtime shim')
  t.equal(s2.eligibility('wasm1', pod()).totalNodes, 3)
})

t.test('replace* diff a relist', async (t) => {
  const idx = new ClusterIndex(() => testPolicy())
  idx.replaceRuntimeClasses([wasm1, spinTest])
  t.same(idx.replaceNodes([node('a'), node('b'), node('c')]), { added: 3, updated: 0, deleted: 0 })
  t.same(idx.replaceNodes([node('a'), node('b', { ready: false }), node('d')]), { added: 1, updated: 1, deleted: 1 })
  t.same(idx.replaceRuntimeClasses([wasm1]), { added: 0, updated: 0, deleted: 1 })
  t.same(idx.replaceNamespaces([{ name: 'x', labels: {} }]), { added: 1, updated: 0, deleted: 0 })
  t.same(idx.snapshot().nodes().map((n) => n.name), ['a', 'b', 'd'])
})

t.test('policy reload rebuilds the precomputed sets', async (t) => {
  let policy: Policy = testPolicy({ trustRuntimeClassNodeSelector: true })
  const idx = new ClusterIndex(() => policy)
  idx.upsertRuntimeClass(spinTest)
  idx.upsertNode(node('a', { labels: { spin: 'yes' } }))
  const before = idx.snapshot()
  t.equal(before.eligibility('spin-test', pod()).eligibleNodes, 1)
  policy = testPolicy({ trustRuntimeClassNodeSelector: false })
  const after = idx.snapshot()
  t.equal(after.eligibility('spin-test', pod()).message, '0/1 nodes can run RuntimeClass spin-test (handler spin): 1 lacks the spin shim')
  t.equal(before.eligibility('spin-test', pod()).eligibleNodes, 1, 'old snapshot keeps the old policy')
  policy = testPolicy({ trustRuntimeClassNodeSelector: false, shimLabels: [{ key: 'spin' }] })
  t.equal(idx.snapshot().eligibility('spin-test', pod()).eligibleNodes, 1)
})

// ------------------------------------------------------------------ property: incremental == full scan

const labelKeys = ['spin', 'wasmtime-enabled', 'zone', 'spin-v2']
const labelVals = ['yes', 'no', 'provisioned', 'a']
const arbNode = fc.record({
  name: fc.constantFrom('n0', 'n1', 'n2', 'n3', 'n4', 'n5'),
  labels: fc.dictionary(fc.constantFrom(...labelKeys), fc.constantFrom(...labelVals), { maxKeys: 3 }),
  taints: fc.array(fc.constantFrom(taint('wasm', 'true', 'NoSchedule'), taint('x', undefined, 'NoExecute'), taint('p', 'q', 'PreferNoSchedule')), { maxLength: 2 }),
  unschedulable: fc.boolean(),
  ready: fc.boolean(),
  runtimeHandlers: fc.option(fc.subarray(['', 'runc', 'spin', 'wasmtime', 'spin-v2']), { nil: null }),
}) as fc.Arbitrary<NodeSummary>
const arbRc = fc.record({
  name: fc.constantFrom('wasm1', 'spin-test', 'rcm'),
  handler: fc.constantFrom('spin', 'wasmtime', 'spin-v2'),
  nodeSelector: fc.dictionary(fc.constantFrom(...labelKeys), fc.constantFrom(...labelVals), { maxKeys: 1 }),
  tolerations: fc.constantFrom([], [{ key: 'wasm', operator: 'Exists' as const }]),
}) as fc.Arbitrary<RuntimeClassInfo>
const arbOp = fc.oneof(
  fc.record({ op: fc.constant('upsertNode' as const), node: arbNode }),
  fc.record({ op: fc.constant('deleteNode' as const), name: fc.constantFrom('n0', 'n1', 'n2', 'n3') }),
  fc.record({ op: fc.constant('upsertRc' as const), rc: arbRc }),
  fc.record({ op: fc.constant('deleteRc' as const), name: fc.constantFrom('wasm1', 'spin-test', 'rcm') }),
  fc.record({ op: fc.constant('snapshot' as const) }),
  fc.record({ op: fc.constant('flipTrust' as const) }),
)
const pods: PodScheduling[] = [
  pod(),
  pod({ nodeSelector: { zone: 'a' } }),
  pod({ tolerations: [{ operator: 'Exists' }] }),
  pod({ requiredNodeAffinity: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }] }),
]

t.test('incremental index equals a full scan after any sequence of events', async (t) => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 40 }), (ops) => {
      let policy = testPolicy()
      const idx = new ClusterIndex(() => policy)
      const nodes = new Map<string, NodeSummary>()
      const rcs = new Map<string, RuntimeClassInfo>()
      const held: Array<{ snap: ReturnType<ClusterIndex['snapshot']>; expect: Map<string, string> }> = []
      const expected = () => {
        const m = new Map<string, string>()
        for (const r of rcs.values()) for (const [i, p] of pods.entries()) m.set(`${r.name}/${i}`, computeEligibility(nodes.values(), r, p, policy).message)
        return m
      }
      const verify = (snap: ReturnType<ClusterIndex['snapshot']>, exp: Map<string, string>) => {
        for (const [k, msg] of exp) {
          const [name, i] = k.split('/')
          const got = snap.eligibility(name!, pods[Number(i)]!).message
          if (got !== msg) throw new Error(`${k}: got ${got}, want ${msg}`)
        }
        if (snap.runtimeClasses().length !== exp.size / pods.length) throw new Error('runtime class count')
      }
      for (const o of ops) {
        switch (o.op) {
          case 'upsertNode':
            nodes.set(o.node.name, o.node)
            idx.upsertNode(o.node)
            break
          case 'deleteNode':
            nodes.delete(o.name)
            idx.deleteNode(o.name)
            break
          case 'upsertRc':
            rcs.set(o.rc.name, o.rc)
            idx.upsertRuntimeClass(o.rc)
            break
          case 'deleteRc':
            rcs.delete(o.name)
            idx.deleteRuntimeClass(o.name)
            break
          case 'snapshot':
            held.push({ snap: idx.snapshot(), expect: expected() })
            break
          case 'flipTrust':
            policy = testPolicy({ trustRuntimeClassNodeSelector: !policy.trustRuntimeClassNodeSelector })
            break
        }
        verify(idx.snapshot(), expected())
      }
      for (const h of held) verify(h.snap, h.expect)
    }),
    { numRuns: 300 },
  )
  t.pass('fast-check property held')
})

t.test('candidate set: admission does not scan non-candidates', async (t) => {
  const idx = new ClusterIndex(() => testPolicy())
  idx.upsertRuntimeClass(spinTest)
  for (let i = 0; i < 2000; i++) idx.upsertNode(node(`plain-${i}`, { runtimeHandlers: ['', 'runc'] }))
  for (let i = 0; i < 3; i++) idx.upsertNode(node(`spin-${i}`, { labels: { spin: 'yes' }, runtimeHandlers: ['spin'] }))
  const e = idx.snapshot().eligibility('spin-test', pod())
  t.equal(e.message, '3/2003 nodes can run RuntimeClass spin-test (handler spin): 2000 lack the spin shim')
})
