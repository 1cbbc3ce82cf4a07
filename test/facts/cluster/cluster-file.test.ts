import t from 'tap'
import { ClusterFileError, FileClusterSource } from '../../../src/facts/cluster/cluster-file.js'
import { pod, SEED_FILE, SEED_SPIN, SEED_WASM1, testPolicy } from './helpers.js'


t.test('seed cluster file', async (t) => {
  const src = await FileClusterSource.fromFile(SEED_FILE, () => testPolicy())
  t.same(src.contents, { nodes: 6, runtimeClasses: 2, namespaces: 2, ignored: [] })
  t.equal(src.readiness().ready, true)
  const s = src.snapshot()
  t.equal(s.known, true)
  t.equal(s.eligibility('wasm1', pod()).message, SEED_WASM1)
  t.equal(s.eligibility('spin-test', pod()).message, SEED_SPIN)
  t.same(s.eligibility('spin-test', pod({ tolerations: [{ key: 'wasm', operator: 'Exists' }] })).eligibleNodeNames, ['spin-tainted', 'wasm-a'])
  t.same(s.namespaceLabels('wasm-apps'), { 'wasm-admission.io/mode': 'warn' })
  t.same(s.namespaceLabels('default'), {})
})

t.test('List documents, other kinds ignored', async (t) => {
  const text = `
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Node
    metadata: {name: a, labels: {spin: "yes"}}
    status: {conditions: [{type: Ready, status: "True"}]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p}
---
apiVersion: node.k8s.io/v1
kind: RuntimeClassList
items:
  - {apiVersion: node.k8s.io/v1, kind: RuntimeClass, metadata: {name: spin-test}, handler: spin, scheduling: {nodeSelector: {spin: "yes"}}}
---
`
  const src = new FileClusterSource(text, () => testPolicy())
  t.same(src.contents, { nodes: 1, runtimeClasses: 1, namespaces: 0, ignored: ['Pod/p'] })
  t.equal(src.snapshot().eligibility('spin-test', pod()).message, '1/1 nodes can run RuntimeClass spin-test (handler spin)')
})

t.test('errors', async (t) => {
  t.throws(() => new FileClusterSource('kind: Node\nmetadata: {name: [', () => testPolicy(), 'f.yaml'), ClusterFileError)
  t.throws(() => new FileClusterSource('kind: Node\nmetadata: {}\n', () => testPolicy()), /Node without metadata.name/)
  t.throws(() => new FileClusterSource('kind: RuntimeClass\nmetadata: {name: x}\n', () => testPolicy()), /has no handler/)
  await t.rejects(FileClusterSource.fromFile('/nonexistent/cluster.yaml', () => testPolicy()), /cannot read cluster file/)
})
