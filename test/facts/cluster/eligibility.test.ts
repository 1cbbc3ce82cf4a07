import t from 'tap'
import {
  checkNode,
  computeEligibility,
  nodeAffinityMatches,
  requirementMatches,
  toleratesTaint,
  type ReasonCode,
} from '../../../src/facts/cluster/eligibility.js'
import type { NodeSelectorTerm, Taint, Toleration } from '../../../src/domain/kube.js'
import { node, pod, rc, taint } from './helpers.js'

const trust = { trustRuntimeClassNodeSelector: true, shimLabels: [] }

// ------------------------------------------------------------------ tolerations, exactly as Kubernetes

t.test('toleratesTaint', async (t) => {
  const ns = taint('wasm', 'true', 'NoSchedule')
  const cases: Array<[string, Toleration, Taint, boolean]> = [
    ['empty key + Exists tolerates everything', { operator: 'Exists' }, ns, true],
    ['empty key + Exists tolerates NoExecute too', { operator: 'Exists' }, taint('x', 'y', 'NoExecute'), true],
    ['empty key + Exists + effect limits effect', { operator: 'Exists', effect: 'NoExecute' }, ns, false],
    ['Exists on key, any value', { key: 'wasm', operator: 'Exists' }, ns, true],
    ['Exists on other key', { key: 'other', operator: 'Exists' }, ns, false],
    ['Equal key and value', { key: 'wasm', operator: 'Equal', value: 'true' }, ns, true],
    ['Equal wrong value', { key: 'wasm', operator: 'Equal', value: 'false' }, ns, false],
    ['default operator is Equal', { key: 'wasm', value: 'true' }, ns, true],
    ['default operator, wrong value', { key: 'wasm', value: 'x' }, ns, false],
    ['Equal with empty value vs taint without value', { key: 'wasm', operator: 'Equal' }, taint('wasm', undefined, 'NoSchedule'), true],
    ['Equal with empty value vs taint with value', { key: 'wasm', operator: 'Equal' }, ns, false],
    ['empty effect matches all effects', { key: 'wasm', operator: 'Exists', effect: '' }, taint('wasm', 'true', 'NoExecute'), true],
    ['effect NoSchedule vs taint NoExecute', { key: 'wasm', operator: 'Exists', effect: 'NoSchedule' }, taint('wasm', 'true', 'NoExecute'), false],
    ['effect NoExecute vs taint NoExecute', { key: 'wasm', operator: 'Exists', effect: 'NoExecute' }, taint('wasm', 'true', 'NoExecute'), true],
    ['unknown operator tolerates nothing', { key: 'wasm', operator: 'Gt' as 'Exists', value: '1' }, ns, false],
  ]
  for (const [name, tol, tnt, want] of cases) t.equal(toleratesTaint(tol, tnt), want, name)
})

// ------------------------------------------------------------------ affinity

t.test('requirementMatches', async (t) => {
  const cases: Array<[string, Parameters<typeof requirementMatches>, boolean]> = [
    ['In present', [{ key: 'k', operator: 'In', values: ['a', 'b'] }, true, 'b'], true],
    ['In other value', [{ key: 'k', operator: 'In', values: ['a'] }, true, 'c'], false],
    ['In absent', [{ key: 'k', operator: 'In', values: ['a'] }, false, undefined], false],
    ['NotIn absent', [{ key: 'k', operator: 'NotIn', values: ['a'] }, false, undefined], true],
    ['NotIn other', [{ key: 'k', operator: 'NotIn', values: ['a'] }, true, 'b'], true],
    ['NotIn listed', [{ key: 'k', operator: 'NotIn', values: ['a'] }, true, 'a'], false],
    ['Exists present', [{ key: 'k', operator: 'Exists' }, true, ''], true],
    ['Exists absent', [{ key: 'k', operator: 'Exists' }, false, undefined], false],
    ['DoesNotExist absent', [{ key: 'k', operator: 'DoesNotExist' }, false, undefined], true],
    ['DoesNotExist present', [{ key: 'k', operator: 'DoesNotExist' }, true, 'x'], false],
    ['Gt greater', [{ key: 'k', operator: 'Gt', values: ['5'] }, true, '6'], true],
    ['Gt equal', [{ key: 'k', operator: 'Gt', values: ['5'] }, true, '5'], false],
    ['Gt non-integer label', [{ key: 'k', operator: 'Gt', values: ['5'] }, true, '6.5'], false],
    ['Gt absent', [{ key: 'k', operator: 'Gt', values: ['5'] }, false, undefined], false],
    ['Gt two values is invalid', [{ key: 'k', operator: 'Gt', values: ['1', '2'] }, true, '6'], false],
    ['Gt big int64', [{ key: 'k', operator: 'Gt', values: ['9007199254740993'] }, true, '9007199254740994'], true],
    ['Lt less', [{ key: 'k', operator: 'Lt', values: ['5'] }, true, '-1'], true],
    ['Lt greater', [{ key: 'k', operator: 'Lt', values: ['5'] }, true, '10'], false],
    // strconv.ParseInt(s, 10, 64): out of int64 range does not parse, so the requirement fails
    ['Gt label beyond int64', [{ key: 'k', operator: 'Gt', values: ['5'] }, true, '9223372036854775808'], false],
    ['Lt value beyond int64', [{ key: 'k', operator: 'Lt', values: ['99999999999999999999'] }, true, '1'], false],
  ]
  for (const [name, args, want] of cases) t.equal(requirementMatches(...args), want, name)
})

t.test('nodeAffinityMatches: terms ORed, expressions ANDed, matchFields', async (t) => {
  const n = { name: 'node-1', labels: { zone: 'a', gpu: '2', spin: 'yes' } }
  const cases: Array<[string, NodeSelectorTerm[], boolean]> = [
    ['no terms = no constraint', [], true],
    ['empty term matches nothing', [{}], false],
    ['one term all match', [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'gpu', operator: 'Gt', values: ['1'] }] }], true],
    ['one term one fails (AND)', [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'gpu', operator: 'Lt', values: ['1'] }] }], false],
    [
      'second term matches (OR)',
      [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, { matchExpressions: [{ key: 'spin', operator: 'Exists' }] }],
      true,
    ],
    ['matchFields metadata.name In', [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }], true],
    ['matchFields metadata.name NotIn', [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-1'] }] }], false],
    ['matchFields unknown field', [{ matchFields: [{ key: 'spec.x', operator: 'In', values: ['x'] }] }], false],
    ['matchFields Exists does not parse (only In/NotIn)', [{ matchFields: [{ key: 'metadata.name', operator: 'Exists' }] }], false],
    ['matchFields In with two values does not parse', [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1', 'x'] }] }], false],
    [
      'expressions and fields ANDed',
      [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }], matchFields: [{ key: 'metadata.name', operator: 'In', values: ['other'] }] }],
      false,
    ],
    ['DoesNotExist', [{ matchExpressions: [{ key: 'tainted', operator: 'DoesNotExist' }] }], true],
  ]
  for (const [name, terms, want] of cases) t.equal(nodeAffinityMatches(terms, n), want, name)
})

// ------------------------------------------------------------------ per-node checks

t.test('checkNode table', async (t) => {
  const spinTest = rc('spin-test', 'spin', { spin: 'yes' })
  const good = { labels: { spin: 'yes' }, runtimeHandlers: ['', 'runc', 'spin'] }
  const cases: Array<{ name: string; n: ReturnType<typeof node>; p?: ReturnType<typeof pod>; r?: ReturnType<typeof rc>; policy?: typeof trust; want: ReasonCode | 'eligible' }> = [
    { name: 'all good', n: node('n', good), want: 'eligible' },
    // kube-scheduler never reads the Ready condition (the node lifecycle controller's not-ready taint blocks)
    { name: 'not ready, no taint: the scheduler would place it', n: node('n', { ...good, ready: false }), want: 'eligible' },
    { name: 'not ready with the not-ready taint', n: node('n', { ...good, ready: false, taints: [taint('node.kubernetes.io/not-ready', undefined, 'NoSchedule')] }), want: 'taint' },
    { name: 'no shim (trusted selector miss) wins over cordoned', n: node('n', { ready: false, unschedulable: true }), want: 'rcNodeSelector' },
    { name: 'no shim wins over cordoned', n: node('n', { runtimeHandlers: ['runc'], unschedulable: true }), want: 'noShim' },
    { name: 'cordoned', n: node('n', { ...good, unschedulable: true }), want: 'cordoned' },
    // NodeUnschedulable: a pod tolerating node.kubernetes.io/unschedulable:NoSchedule passes a cordoned node
    {
      name: 'cordoned, pod tolerates node.kubernetes.io/unschedulable',
      n: node('n', { ...good, unschedulable: true }),
      p: pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] }),
      want: 'eligible',
    },
    { name: 'cordoned, wildcard toleration', n: node('n', { ...good, unschedulable: true }), p: pod({ tolerations: [{ operator: 'Exists' }] }), want: 'eligible' },
    {
      name: 'cordoned, toleration for NoExecute only does not count',
      n: node('n', { ...good, unschedulable: true }),
      p: pod({ tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoExecute' }] }),
      want: 'cordoned',
    },
    {
      name: 'cordoned, RuntimeClass toleration counts (merged by the RuntimeClass admission plugin)',
      n: node('n', { ...good, unschedulable: true }),
      r: rc('spin-test', 'spin', { spin: 'yes' }, { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists' }] }),
      want: 'eligible',
    },
    // DefaultTolerationSeconds: every pod tolerates not-ready/unreachable NoExecute unless it has its own
    { name: 'unreachable:NoExecute is tolerated by default', n: node('n', { ...good, taints: [taint('node.kubernetes.io/unreachable', 'yes', 'NoExecute')] }), want: 'eligible' },
    { name: 'not-ready:NoSchedule is not', n: node('n', { ...good, taints: [taint('node.kubernetes.io/not-ready', undefined, 'NoSchedule')] }), want: 'taint' },
    {
      name: "a pod's own not-ready:NoExecute toleration replaces the default, even when it does not match",
      n: node('n', { ...good, taints: [taint('node.kubernetes.io/not-ready', undefined, 'NoExecute')] }),
      p: pod({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Equal', value: 'x', effect: 'NoExecute' }] }),
      want: 'taint',
    },
    // spec.nodeName: the kubelet admits the pod: no cordon check, NoExecute taints only
    { name: 'nodeName: another node', n: node('n', good), p: pod({ nodeName: 'm' }), want: 'podNodeName' },
    { name: 'nodeName: cordoned node admits', n: node('n', { ...good, unschedulable: true }), p: pod({ nodeName: 'n' }), want: 'eligible' },
    { name: 'nodeName: NoSchedule taint is not checked', n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoSchedule')] }), p: pod({ nodeName: 'n' }), want: 'eligible' },
    { name: 'nodeName: NoExecute taint is', n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoExecute')] }), p: pod({ nodeName: 'n' }), want: 'taint' },
    { name: 'nodeName: nodeSelector still checked', n: node('n', good), p: pod({ nodeName: 'n', nodeSelector: { disk: 'ssd' } }), want: 'podNodeSelector' },
    { name: 'nodeName: the shim still matters', n: node('n', { labels: { spin: 'yes' }, runtimeHandlers: ['runc'] }), p: pod({ nodeName: 'n' }), want: 'noShim' },
    { name: 'runtimeHandlers lack spin', n: node('n', { labels: { spin: 'yes' }, runtimeHandlers: ['runc'] }), want: 'noShim' },
    {
      name: 'runtimeHandlers has spin but RC selector label missing',
      n: node('n', { runtimeHandlers: ['spin'] }),
      want: 'rcNodeSelector',
    },
    { name: 'no handlers, trusted selector matches', n: node('n', { labels: { spin: 'yes' } }), want: 'eligible' },
    { name: 'no handlers, trusted selector does not match → selector reason', n: node('n', { labels: { spin: 'no' } }), want: 'rcNodeSelector' },
    { name: 'no handlers, untrusted selector → noShim', n: node('n', { labels: { spin: 'yes' } }), policy: { trustRuntimeClassNodeSelector: false, shimLabels: [] }, want: 'noShim' },
    {
      name: 'installer label, untrusted selector, selector matches',
      n: node('n', { labels: { spin: 'yes', 'kwasm.sh/kwasm-provisioned': 'n' } }),
      policy: { trustRuntimeClassNodeSelector: false, shimLabels: [] },
      want: 'eligible',
    },
    { name: 'pod nodeSelector mismatch', n: node('n', good), p: pod({ nodeSelector: { disk: 'ssd' } }), want: 'podNodeSelector' },
    { name: 'pod nodeSelector match', n: node('n', { ...good, labels: { spin: 'yes', disk: 'ssd' } }), p: pod({ nodeSelector: { disk: 'ssd' } }), want: 'eligible' },
    {
      name: 'pod affinity mismatch',
      n: node('n', good),
      p: pod({ requiredNodeAffinity: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] }),
      want: 'podAffinity',
    },
    { name: 'untolerated NoSchedule taint', n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoSchedule')] }), want: 'taint' },
    { name: 'untolerated NoExecute taint', n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoExecute')] }), want: 'taint' },
    { name: 'PreferNoSchedule is ignored', n: node('n', { ...good, taints: [taint('wasm', 'true', 'PreferNoSchedule')] }), want: 'eligible' },
    {
      name: 'taint tolerated by pod',
      n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoSchedule')] }),
      p: pod({ tolerations: [{ key: 'wasm', operator: 'Equal', value: 'true', effect: 'NoSchedule' }] }),
      want: 'eligible',
    },
    {
      name: 'taint tolerated by RuntimeClass scheduling.tolerations',
      n: node('n', { ...good, taints: [taint('wasm', 'true', 'NoSchedule')] }),
      r: rc('spin-test', 'spin', { spin: 'yes' }, { tolerations: [{ key: 'wasm', operator: 'Exists' }] }),
      want: 'eligible',
    },
    {
      name: 'two taints, one tolerated',
      n: node('n', { ...good, taints: [taint('a', '1', 'NoSchedule'), taint('b', '2', 'NoExecute')] }),
      p: pod({ tolerations: [{ key: 'a', operator: 'Exists' }] }),
      want: 'taint',
    },
    {
      name: 'empty-key Exists toleration tolerates every taint',
      n: node('n', { ...good, taints: [taint('a', '1', 'NoSchedule'), taint('b', '2', 'NoExecute')] }),
      p: pod({ tolerations: [{ operator: 'Exists' }] }),
      want: 'eligible',
    },
    { name: 'cordoned beats taint', n: node('n', { ...good, unschedulable: true, taints: [taint('x', 'y', 'NoSchedule')] }), want: 'cordoned' },
  ]
  for (const c of cases) {
    const res = checkNode(c.n, c.r ?? spinTest, c.p ?? pod(), c.policy ?? trust)
    t.equal(res.eligible ? 'eligible' : res.failure!.code, c.want, `${c.name} (${res.detail})`)
  }
})

// ------------------------------------------------------------------ message format

t.test('scheduler-style message, first failing reason only', async (t) => {
  const spinTest = rc('spin-test', 'spin', { spin: 'yes' })
  const nodes = [
    node('a', { runtimeHandlers: ['runc'], labels: { spin: 'yes' } }), // lacks shim
    node('b', { runtimeHandlers: ['runc'] }), // lacks shim (not also selector)
    node('c', { runtimeHandlers: ['spin'] }), // selector
    node('d', { runtimeHandlers: ['spin'], labels: { spin: 'no' } }), // selector
    node('e', { labels: { other: 'x' } }), // trusted selector miss -> selector
    node('f', { runtimeHandlers: ['spin'], labels: { spin: 'yes' }, taints: [taint('wasm', 'true', 'NoSchedule')] }),
  ]
  const e = computeEligibility(nodes, spinTest, pod(), trust)
  t.equal(
    e.message,
    '0/6 nodes can run RuntimeClass spin-test (handler spin): 2 lack the spin shim, 3 do not match nodeSelector spin=yes, 1 has untolerated taint wasm=true:NoSchedule',
  )
  t.equal(e.totalNodes, 6)
  t.equal(e.eligibleNodes, 0)
  t.same(e.eligibleNodeNames, [])
  t.same(
    e.reasons.map((r) => [r.code, r.count]),
    [
      ['noShim', 2],
      ['rcNodeSelector', 3],
      ['taint', 1],
    ],
  )

  const more = [
    ...nodes,
    node('g', { runtimeHandlers: ['spin'], labels: { spin: 'yes' } }),
    node('h', { labels: { spin: 'yes' } }),
    node('i', { labels: { spin: 'yes' }, ready: false, taints: [taint('node.kubernetes.io/not-ready', undefined, 'NoSchedule')] }),
    node('j', { labels: { spin: 'yes' }, unschedulable: true }),
    node('k', { labels: { spin: 'yes' }, unschedulable: true }),
  ]
  const e2 = computeEligibility(more, spinTest, pod({ tolerations: [{ key: 'wasm', operator: 'Exists' }] }), trust)
  t.equal(
    e2.message,
    '3/11 nodes can run RuntimeClass spin-test (handler spin): 2 lack the spin shim, 3 do not match nodeSelector spin=yes, 2 are cordoned, 1 has untolerated taint node.kubernetes.io/not-ready:NoSchedule',
  )
  t.same(e2.eligibleNodeNames, ['f', 'g', 'h'])

  const e3 = computeEligibility([node('a', { runtimeHandlers: ['spin'] })], rc('spin', 'spin'), pod(), trust)
  t.equal(e3.message, '1/1 nodes can run RuntimeClass spin (handler spin)')
  t.same(e3.reasons, [])

  const e4 = computeEligibility(
    [node('a', { runtimeHandlers: ['spin'] }), node('b', { runtimeHandlers: ['spin'] }), node('c', { runtimeHandlers: ['spin'], labels: { zone: 'z' } })],
    rc('spin', 'spin'),
    pod({ nodeSelector: { zone: 'z', disk: 'ssd' } }),
    trust,
  )
  t.equal(e4.message, "0/3 nodes can run RuntimeClass spin (handler spin): 3 do not match the pod's nodeSelector disk=ssd,zone=z")

  const e5 = computeEligibility([node('a', { runtimeHandlers: ['spin'] })], rc('spin', 'spin'), pod({ requiredNodeAffinity: [{ matchExpressions: [{ key: 'x', operator: 'Exists' }] }] }), trust)
  t.equal(e5.message, "0/1 nodes can run RuntimeClass spin (handler spin): 1 does not match the pod's required node affinity")

  const e6 = computeEligibility([], rc('spin', 'spin'), pod(), trust)
  t.equal(e6.message, '0/0 nodes can run RuntimeClass spin (handler spin)')
})
