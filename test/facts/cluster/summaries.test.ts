import t from 'tap'
import { formatSelector, formatTaint, sameNodeSummary, summarizeNode } from '../../../src/facts/cluster/node-summary.js'
import { summarizeRuntimeClass } from '../../../src/facts/cluster/runtime-class-summary.js'
import { nodeJson } from './helpers.js'

t.test('summarizeNode keeps only decision fields', async (t) => {
  const full = {
    ...nodeJson('n1', {
      labels: { spin: 'yes', 'kubernetes.io/hostname': 'n1' },
      taints: [{ key: 'wasm', value: 'true', effect: 'NoSchedule' }, { key: 'x', effect: 'PreferNoSchedule' }],
      unschedulable: true,
      runtimeHandlers: ['', 'runc', 'spin'],
    }),
  }
  ;(full.status as Record<string, unknown>).images = [{ names: ['big/image:1'], sizeBytes: 1 }]
  const s = summarizeNode(full)
  t.same(s, {
    name: 'n1',
    labels: { spin: 'yes', 'kubernetes.io/hostname': 'n1' },
    taints: [{ key: 'wasm', value: 'true', effect: 'NoSchedule' }, { key: 'x', effect: 'PreferNoSchedule' }],
    unschedulable: true,
    ready: true,
    runtimeHandlers: ['', 'runc', 'spin'],
  })
  t.notOk('images' in s)
})

t.test('Ready condition', async (t) => {
  t.equal(summarizeNode(nodeJson('a', { ready: true })).ready, true)
  t.equal(summarizeNode(nodeJson('a', { ready: false })).ready, false)
  t.equal(summarizeNode(nodeJson('a', { ready: 'Unknown' })).ready, false)
  t.equal(summarizeNode({ metadata: { name: 'a' } }).ready, false, 'no conditions = not ready')
})

t.test('runtimeHandlers: absent or empty = null (not reported)', async (t) => {
  t.equal(summarizeNode(nodeJson('a')).runtimeHandlers, null)
  t.equal(summarizeNode({ metadata: { name: 'a' }, status: { runtimeHandlers: [] } }).runtimeHandlers, null)
  t.same(summarizeNode({ metadata: { name: 'a' }, status: { runtimeHandlers: [{}, { name: 'runc' }] } }).runtimeHandlers, ['', 'runc'])
})

t.test('garbage input does not throw', async (t) => {
  for (const v of [null, 1, 'x', [], { spec: { taints: [null, { key: 1 }] } }]) {
    const s = summarizeNode(v)
    t.equal(s.name, '')
    t.same(s.taints, [])
  }
})

t.test('sameNodeSummary ignores nothing relevant', async (t) => {
  const a = summarizeNode(nodeJson('n', { labels: { a: '1' }, runtimeHandlers: ['spin'] }))
  t.ok(sameNodeSummary(a, summarizeNode(nodeJson('n', { labels: { a: '1' }, runtimeHandlers: ['spin'] }))))
  t.notOk(sameNodeSummary(a, summarizeNode(nodeJson('n', { labels: { a: '2' }, runtimeHandlers: ['spin'] }))))
  t.notOk(sameNodeSummary(a, summarizeNode(nodeJson('n', { labels: { a: '1' } }))))
  t.notOk(sameNodeSummary(a, summarizeNode(nodeJson('n', { labels: { a: '1' }, runtimeHandlers: ['spin'], unschedulable: true }))))
  t.notOk(sameNodeSummary(a, summarizeNode(nodeJson('n', { labels: { a: '1' }, runtimeHandlers: ['spin'], taints: [{ key: 'k', effect: 'NoExecute' }] }))))
})

t.test('formatting', async (t) => {
  t.equal(formatTaint({ key: 'wasm', value: 'true', effect: 'NoSchedule' }), 'wasm=true:NoSchedule')
  t.equal(formatTaint({ key: 'wasm', effect: 'NoExecute' }), 'wasm:NoExecute')
  t.equal(formatSelector({ spin: 'yes', a: 'b' }), 'a=b,spin=yes')
})

t.test('summarizeRuntimeClass', async (t) => {
  t.same(
    summarizeRuntimeClass({
      apiVersion: 'node.k8s.io/v1',
      kind: 'RuntimeClass',
      metadata: { name: 'spin-test', labels: { x: 'y' } },
      handler: 'spin',
      scheduling: {
        nodeSelector: { spin: 'yes' },
        tolerations: [{ key: 'wasm', operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists' }],
      },
      overhead: { podFixed: { cpu: '10m', memory: '20Mi' } },
    }),
    {
      name: 'spin-test',
      handler: 'spin',
      nodeSelector: { spin: 'yes' },
      tolerations: [{ key: 'wasm', operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists' }],
      overhead: { cpu: '10m', memory: '20Mi' },
      hasScheduling: true,
    },
  )
  t.same(summarizeRuntimeClass({ metadata: { name: 'spin' }, handler: 'spin' }), {
    name: 'spin',
    handler: 'spin',
    nodeSelector: {},
    tolerations: [],
  })
  // An empty scheduling object is kept as a fact: the RuntimeClass plugin still merges tolerations
  // for it (setScheduling returns early only when Scheduling is nil).
  t.same(summarizeRuntimeClass({ metadata: { name: 'spin' }, handler: 'spin', scheduling: {} }), {
    name: 'spin',
    handler: 'spin',
    nodeSelector: {},
    tolerations: [],
    hasScheduling: true,
  })
})
