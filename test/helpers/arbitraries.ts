/**
 * fast-check generators shared by the property tests (test/reliability/properties.test.ts) and the
 * differential tests against the real kube-scheduler and DaemonSet controller
 * (test/reliability/scheduler-differential.test.ts). One vocabulary of label keys, values and taint
 * keys, so generated selectors, affinities and tolerations often hit the generated nodes.
 *
 * Everything generated is VALID for the real apiserver (pkg/apis/core/validation/validation.go at
 * v1.36.3): the differential tests send it there, and an object the apiserver rejects proves nothing.
 *  - tolerations (ValidateTolerations): an empty key needs operator Exists; Exists has no value;
 *    tolerationSeconds only with effect NoExecute; Gt/Lt are alpha (TaintTolerationComparisonOperators,
 *    off by default) and not generated;
 *  - taints (validateNodeTaints): unique by (key, effect);
 *  - node affinity (ValidateNodeSelector): at least one term; In/NotIn need values, Exists/DoesNotExist
 *    have none, Gt/Lt exactly one; matchFields only `metadata.name` with In/NotIn and exactly one value.
 */
import fc from 'fast-check'
import type { NodeSelectorRequirement, NodeSelectorTerm, PodScheduling, Taint, Toleration } from '../../src/domain/kube.js'

export const LABEL_KEYS = ['app', 'spin', 'wasmtime-enabled', 'kubernetes.io/arch', 'tier'] as const
/** Label values; the numeric ones feed Gt/Lt. */
export const LABEL_VALUES = ['yes', 'true', 'web', 'amd64', '1', '5', '10'] as const
/** Taint keys: the project's own, plus the ones Kubernetes' controllers set (cordon, not-ready, ...). */
export const TAINT_KEYS = [
  'wasm',
  'spin',
  'kwasm.sh/kwasm-node',
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/unschedulable',
  'node.kubernetes.io/disk-pressure',
] as const
export const TAINT_VALUES = ['', 'true', 'yes'] as const
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const

export const labelMapArb = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 })

/** One valid toleration, including the wildcard (empty key + Exists) and every effect (or none). */
export const tolerationArb: fc.Arbitrary<Toleration> = fc
  .record({
    key: fc.constantFrom('', ...TAINT_KEYS),
    operator: fc.constantFrom<'Exists' | 'Equal' | undefined>('Exists', 'Equal', undefined),
    value: fc.constantFrom(...TAINT_VALUES),
    effect: fc.constantFrom<Toleration['effect'] | undefined>(undefined, ...TAINT_EFFECTS),
    tolerationSeconds: fc.option(fc.integer({ min: 0, max: 3600 }), { nil: undefined }),
  })
  .map((g) => {
    const tol: Toleration = {}
    if (g.key !== '') tol.key = g.key
    const op = g.key === '' ? 'Exists' : g.operator
    if (op !== undefined) tol.operator = op
    if (op !== 'Exists' && g.value !== '') tol.value = g.value
    if (g.effect !== undefined) tol.effect = g.effect
    if (g.effect === 'NoExecute' && g.tolerationSeconds !== undefined) tol.tolerationSeconds = g.tolerationSeconds
    return tol
  })

export const tolerationsArb = fc.array(tolerationArb, { maxLength: 3 })

export const taintArb: fc.Arbitrary<Taint> = fc
  .record({ key: fc.constantFrom(...TAINT_KEYS), value: fc.constantFrom(...TAINT_VALUES), effect: fc.constantFrom(...TAINT_EFFECTS) })
  .map(({ key, value, effect }) => (value === '' ? { key, effect } : { key, value, effect }))

/** Taints unique by (key, effect), as validation requires; often none, so pods often fit. */
export const taintsArb = fc.oneof({ weight: 2, arbitrary: fc.constant<Taint[]>([]) }, { weight: 3, arbitrary: fc.uniqueArray(taintArb, { minLength: 1, maxLength: 3, selector: (t) => `${t.key}:${t.effect}` }) })

/** A label requirement with every operator, values shaped as validation wants. */
export const labelRequirementArb: fc.Arbitrary<NodeSelectorRequirement> = fc.oneof(
  fc.record({
    key: fc.constantFrom(...LABEL_KEYS),
    operator: fc.constantFrom<'In' | 'NotIn'>('In', 'NotIn'),
    values: fc.uniqueArray(fc.constantFrom(...LABEL_VALUES), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({ key: fc.constantFrom(...LABEL_KEYS), operator: fc.constantFrom<'Exists' | 'DoesNotExist'>('Exists', 'DoesNotExist') }),
  fc.record({
    key: fc.constantFrom(...LABEL_KEYS),
    operator: fc.constantFrom<'Gt' | 'Lt'>('Gt', 'Lt'),
    // Non-integers pass validation (it checks only the count) and make the term fail to parse.
    values: fc.tuple(fc.constantFrom('0', '1', '4', '5', '9', '10', 'yes')),
  }),
)

/** matchFields: only metadata.name, In/NotIn, one value (a node of the case or a stranger). */
export function fieldRequirementArb(nodeNames: readonly string[]): fc.Arbitrary<NodeSelectorRequirement> {
  return fc.record({
    key: fc.constant('metadata.name'),
    operator: fc.constantFrom<'In' | 'NotIn'>('In', 'NotIn'),
    values: fc.tuple(fc.constantFrom(...nodeNames, 'no-such-node')),
  })
}

/** A term; now and then an empty one (it matches no node). */
export function nodeSelectorTermArb(nodeNames: readonly string[]): fc.Arbitrary<NodeSelectorTerm> {
  return fc
    .record({
      matchExpressions: fc.array(labelRequirementArb, { maxLength: 3 }),
      matchFields: fc.array(fieldRequirementArb(nodeNames), { maxLength: 1 }),
    })
    .map((t) => {
      const term: NodeSelectorTerm = {}
      if (t.matchExpressions.length > 0) term.matchExpressions = t.matchExpressions
      if (t.matchFields.length > 0) term.matchFields = t.matchFields
      return term
    })
}

/** requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: absent ([]) or 1-3 terms. */
export function requiredNodeAffinityArb(nodeNames: readonly string[]): fc.Arbitrary<NodeSelectorTerm[]> {
  return fc.oneof({ weight: 2, arbitrary: fc.constant<NodeSelectorTerm[]>([]) }, { weight: 3, arbitrary: fc.array(nodeSelectorTermArb(nodeNames), { minLength: 1, maxLength: 3 }) })
}

/** A pod's nodeSelector: mostly none or one key, so that generated nodes match it often enough. */
export const podNodeSelectorArb = fc.oneof({ weight: 3, arbitrary: fc.constant<Record<string, string>>({}) }, { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { minKeys: 1, maxKeys: 2 }) })

/** Node labels: most keys of the vocabulary set, so selectors and affinities hit them. */
export const nodeLabelsArb = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { minKeys: 1, maxKeys: LABEL_KEYS.length })

/** The scheduling part of a pod spec (no nodeName: the scheduler never sees such pods). */
export function podSchedulingArb(nodeNames: readonly string[]): fc.Arbitrary<PodScheduling> {
  return fc.record({ nodeSelector: podNodeSelectorArb, requiredNodeAffinity: requiredNodeAffinityArb(nodeNames), tolerations: tolerationsArb })
}

/** The pod-spec fields for a PodScheduling value (what `schedulingOf` reads back). */
export function podSpecSchedulingFields(s: PodScheduling): Record<string, unknown> {
  const spec: Record<string, unknown> = {}
  if (Object.keys(s.nodeSelector).length > 0) spec['nodeSelector'] = s.nodeSelector
  if (s.requiredNodeAffinity.length > 0) spec['affinity'] = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: s.requiredNodeAffinity } } }
  if (s.tolerations.length > 0) spec['tolerations'] = s.tolerations
  if (s.nodeName !== undefined) spec['nodeName'] = s.nodeName
  return spec
}

/** A RuntimeClass's `scheduling` (maybe empty; its tolerations must be unique, as RuntimeClass validation requires). */
export const runtimeClassSchedulingArb = fc.record({
  nodeSelector: fc.oneof({ weight: 2, arbitrary: fc.constant<Record<string, string>>({}) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { minKeys: 1, maxKeys: 1 }) }),
  tolerations: fc.uniqueArray(tolerationArb, { maxLength: 2, selector: (t) => JSON.stringify([t.key ?? '', t.operator ?? '', t.value ?? '', t.effect ?? '']) }),
})

/** How a generated node shows that it has the shim for `handler`. */
export type ShimEvidenceKind = 'runtimeHandlers' | 'rcmLabel' | 'kwasmLabel' | 'aksLabel'

export interface GeneratedNode {
  name: string
  labels: Record<string, string>
  taints: Taint[]
  unschedulable: boolean
  ready: boolean
  shim: ShimEvidenceKind
}

export function generatedNodeArb(name: string): fc.Arbitrary<GeneratedNode> {
  return fc.record({
    name: fc.constant(name),
    labels: nodeLabelsArb,
    taints: taintsArb,
    unschedulable: fc.boolean(),
    ready: fc.boolean(),
    shim: fc.constantFrom<ShimEvidenceKind>('runtimeHandlers', 'runtimeHandlers', 'rcmLabel', 'kwasmLabel', 'aksLabel'),
  })
}

/**
 * The Node object for a generated node whose shim for `handler` is shown by `node.shim`; `status`
 * must be written through the status subresource (a create drops it).
 */
export function nodeObject(n: GeneratedNode, handler: string): { metadata: Record<string, unknown>; spec: Record<string, unknown>; status: Record<string, unknown> } {
  const labels = { ...n.labels }
  if (n.shim === 'rcmLabel') labels[handler] = 'provisioned'
  if (n.shim === 'kwasmLabel') labels['kwasm.sh/kwasm-provisioned'] = 'true'
  if (n.shim === 'aksLabel') labels[`kubernetes.azure.com/wasmtime-${handler}`] = 'true'
  const resources = { cpu: '8', memory: '16Gi', pods: '110' }
  const status: Record<string, unknown> = {
    capacity: resources,
    allocatable: resources,
    conditions: [{ type: 'Ready', status: n.ready ? 'True' : 'False', reason: n.ready ? 'KubeletReady' : 'KubeletNotReady', message: 'generated' }],
  }
  if (n.shim === 'runtimeHandlers') {
    const features = { recursiveReadOnlyMounts: true, userNamespaces: true }
    status['runtimeHandlers'] = [{ name: '', features }, { name: 'runc', features }, { name: handler, features }]
  }
  const spec: Record<string, unknown> = {}
  if (n.taints.length > 0) spec['taints'] = n.taints
  if (n.unschedulable) spec['unschedulable'] = true
  return { metadata: { name: n.name, labels }, spec, status }
}
