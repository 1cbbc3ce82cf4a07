/**
 * Node eligibility for a pod under a RuntimeClass, scheduler style. Pure.
 *
 * A node is eligible when, in this order (a node is counted under its FIRST failing reason):
 *   1. notReady        Ready condition is True
 *   2. cordoned        spec.unschedulable is not set
 *   3. noShim          the shim for the handler is present (shim-detection.ts)
 *   4. rcNodeSelector  labels match RuntimeClass scheduling.nodeSelector
 *   5. podNodeName     the node is the pod's spec.nodeName, when set
 *   6. podNodeSelector labels match the pod's nodeSelector
 *   7. podAffinity     the pod's required node affinity (terms ORed, expressions ANDed)
 *   8. taint           every NoSchedule/NoExecute taint is tolerated by the pod's tolerations plus
 *                      the RuntimeClass scheduling.tolerations
 * Steps 1-4 do not depend on the pod (cluster-index precomputes them per RuntimeClass).
 */
import type { Eligibility, RuntimeClassInfo } from '../../domain/facts.js'
import type { NodeSelectorRequirement, NodeSelectorTerm, PodScheduling, Taint, Toleration } from '../../domain/kube.js'
import type { NodeSummary } from './node-summary.js'
import { formatSelector, formatTaint } from './node-summary.js'
import { detectShim, labelsMatch, type ShimPolicy, type ShimVerdict } from './shim-detection.js'

export const REASON_CODES = [
  'notReady',
  'cordoned',
  'noShim',
  'rcNodeSelector',
  'podNodeName',
  'podNodeSelector',
  'podAffinity',
  'taint',
] as const
export type ReasonCode = (typeof REASON_CODES)[number]

/** Why one node cannot run the pod; `key` groups nodes that fail the same way. */
export interface NodeFailure {
  code: ReasonCode
  /** Grouping key within the code: the taint text for `taint`, the selector for selectors, else ''. */
  key: string
}

export interface NodeCheck {
  node: string
  eligible: boolean
  failure?: NodeFailure
  shim: ShimVerdict
  /** One line for humans, e.g. `lacks the spin shim (runtimeHandlers [runc] lack spin)`. */
  detail: string
}

// ------------------------------------------------------------------ tolerations / taints

/** Kubernetes `Toleration.ToleratesTaint` (k8s.io/api/core/v1/toleration.go), exactly. */
export function toleratesTaint(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false
  if (tol.key && tol.key !== taint.key) return false
  switch (tol.operator ?? '') {
    case '':
    case 'Equal':
      return (tol.value ?? '') === (taint.value ?? '')
    case 'Exists':
      return true
    default:
      return false
  }
}

/** Only NoSchedule and NoExecute taints keep a pod off a node (PreferNoSchedule is a preference). */
export function isBlockingTaint(t: Taint): boolean {
  return t.effect === 'NoSchedule' || t.effect === 'NoExecute'
}

/** The first blocking taint no toleration tolerates, or undefined. */
export function firstUntoleratedTaint(taints: Taint[], tolerations: Toleration[]): Taint | undefined {
  for (const t of taints) {
    if (!isBlockingTaint(t)) continue
    if (!tolerations.some((tol) => toleratesTaint(tol, t))) return t
  }
  return undefined
}

// ------------------------------------------------------------------ node affinity

const INT_RE = /^[+-]?\d+$/

function parseInt64(s: string): bigint | undefined {
  if (!INT_RE.test(s)) return undefined
  try {
    return BigInt(s)
  } catch {
    return undefined
  }
}

/** One requirement against a value (label value or field value; undefined = absent). */
export function requirementMatches(req: NodeSelectorRequirement, present: boolean, value: string | undefined): boolean {
  const values = req.values ?? []
  switch (req.operator) {
    case 'In':
      return present && values.includes(value ?? '')
    case 'NotIn':
      return !present || !values.includes(value ?? '')
    case 'Exists':
      return present
    case 'DoesNotExist':
      return !present
    case 'Gt':
    case 'Lt': {
      if (!present || values.length !== 1) return false
      const want = parseInt64(values[0]!)
      const have = parseInt64(value ?? '')
      if (want === undefined || have === undefined) return false
      return req.operator === 'Gt' ? have > want : have < want
    }
    default:
      return false
  }
}

/**
 * One NodeSelectorTerm: all matchExpressions (labels) and matchFields (only `metadata.name`) must
 * match. A term with neither matches no node (as in Kubernetes).
 */
export function termMatches(term: NodeSelectorTerm, node: Pick<NodeSummary, 'name' | 'labels'>): boolean {
  const exprs = term.matchExpressions ?? []
  const fields = term.matchFields ?? []
  if (exprs.length === 0 && fields.length === 0) return false
  for (const r of exprs) {
    const present = Object.hasOwn(node.labels, r.key)
    if (!requirementMatches(r, present, present ? node.labels[r.key] : undefined)) return false
  }
  for (const r of fields) {
    if (r.key !== 'metadata.name') return false
    if (!requirementMatches(r, true, node.name)) return false
  }
  return true
}

/** nodeSelectorTerms are ORed; an empty list means no constraint. */
export function nodeAffinityMatches(terms: NodeSelectorTerm[], node: Pick<NodeSummary, 'name' | 'labels'>): boolean {
  if (terms.length === 0) return true
  return terms.some((t) => termMatches(t, node))
}

// ------------------------------------------------------------------ checks

/** Steps 1-4 (pod-independent). */
export function checkNodeStatic(node: NodeSummary, rc: RuntimeClassInfo, policy: ShimPolicy): { failure?: NodeFailure; shim: ShimVerdict } {
  const shim = detectShim(node, rc, policy)
  if (!node.ready) return { failure: { code: 'notReady', key: '' }, shim }
  if (node.unschedulable) return { failure: { code: 'cordoned', key: '' }, shim }
  if (!shim.present) {
    // A trusted RuntimeClass selector that the node does not match is reported as a selector miss.
    if (shim.evidence === 'runtimeClassNodeSelector') return { failure: { code: 'rcNodeSelector', key: formatSelector(rc.nodeSelector) }, shim }
    return { failure: { code: 'noShim', key: '' }, shim }
  }
  if (!labelsMatch(node.labels, rc.nodeSelector)) return { failure: { code: 'rcNodeSelector', key: formatSelector(rc.nodeSelector) }, shim }
  return { shim }
}

/** Tolerations that count for a pod under a RuntimeClass. */
export function effectiveTolerations(rc: RuntimeClassInfo, pod: PodScheduling): Toleration[] {
  return rc.tolerations.length === 0 ? pod.tolerations : [...pod.tolerations, ...rc.tolerations]
}

/** Steps 5-8 for a node that passed steps 1-4. */
export function checkNodePod(node: NodeSummary, pod: PodScheduling, tolerations: Toleration[]): NodeFailure | undefined {
  if (pod.nodeName && node.name !== pod.nodeName) return { code: 'podNodeName', key: pod.nodeName }
  if (!labelsMatch(node.labels, pod.nodeSelector)) return { code: 'podNodeSelector', key: formatSelector(pod.nodeSelector) }
  if (!nodeAffinityMatches(pod.requiredNodeAffinity, node)) return { code: 'podAffinity', key: '' }
  const t = firstUntoleratedTaint(node.taints, tolerations)
  if (t) return { code: 'taint', key: formatTaint(t) }
  return undefined
}

export function describeFailure(f: NodeFailure, rc: RuntimeClassInfo, count = 1): string {
  const one = count === 1
  switch (f.code) {
    case 'notReady':
      return one ? 'is not ready' : 'are not ready'
    case 'cordoned':
      return one ? 'is cordoned' : 'are cordoned'
    case 'noShim':
      return `${one ? 'lacks' : 'lack'} the ${rc.handler} shim`
    case 'rcNodeSelector':
      return `${one ? 'does' : 'do'} not match nodeSelector ${f.key}`
    case 'podNodeName':
      return `${one ? 'is' : 'are'} not the pod's spec.nodeName ${f.key}`
    case 'podNodeSelector':
      return `${one ? 'does' : 'do'} not match the pod's nodeSelector ${f.key}`
    case 'podAffinity':
      return `${one ? 'does' : 'do'} not match the pod's required node affinity`
    case 'taint':
      return `${one ? 'has' : 'have'} untolerated taint ${f.key}`
  }
}

/** Full check of one node, with a human-readable detail (for the `nodes` CLI). */
export function checkNode(node: NodeSummary, rc: RuntimeClassInfo, pod: PodScheduling, policy: ShimPolicy): NodeCheck {
  const st = checkNodeStatic(node, rc, policy)
  const failure = st.failure ?? checkNodePod(node, pod, effectiveTolerations(rc, pod))
  if (!failure) return { node: node.name, eligible: true, shim: st.shim, detail: `eligible (shim: ${st.shim.detail})` }
  let detail = describeFailure(failure, rc)
  if (failure.code === 'noShim') detail += ` (${st.shim.detail})`
  else if (failure.code === 'rcNodeSelector' && st.shim.evidence === 'runtimeClassNodeSelector') detail += ' (and nothing else shows the shim)'
  else if (failure.code === 'notReady' || failure.code === 'cordoned') detail += `; shim: ${st.shim.present ? st.shim.detail : 'not shown'}`
  return { node: node.name, eligible: false, failure, shim: st.shim, detail }
}

// ------------------------------------------------------------------ aggregation

/** Counts failures per (code, key); builds the Eligibility with the scheduler-style message. */
export class EligibilityTally {
  private readonly counts = new Map<string, { failure: NodeFailure; count: number }>()
  private readonly names: string[] = []
  eligible = 0

  constructor(
    private readonly rc: RuntimeClassInfo,
    private readonly maxNames = 20,
  ) {}

  addEligible(name: string, n = 1): void {
    this.eligible += n
    if (this.names.length < this.maxNames) this.names.push(name)
  }

  addFailure(f: NodeFailure, n = 1): void {
    const k = `${f.code}\u0000${f.key}`
    const cur = this.counts.get(k)
    if (cur) cur.count += n
    else this.counts.set(k, { failure: f, count: n })
  }

  result(totalNodes: number): Eligibility {
    const entries = [...this.counts.values()].filter((e) => e.count > 0)
    entries.sort(
      (a, b) =>
        REASON_CODES.indexOf(a.failure.code) - REASON_CODES.indexOf(b.failure.code) ||
        b.count - a.count ||
        (a.failure.key < b.failure.key ? -1 : a.failure.key > b.failure.key ? 1 : 0),
    )
    const reasons = entries.map((e) => ({
      reason: describeFailure(e.failure, this.rc, e.count),
      count: e.count,
      code: e.failure.code,
      key: e.failure.key,
    }))
    return {
      runtimeClass: this.rc.name,
      handler: this.rc.handler,
      totalNodes,
      eligibleNodes: this.eligible,
      eligibleNodeNames: [...this.names].sort(),
      reasons,
      message: formatEligibilityMessage(this.rc, this.eligible, totalNodes, reasons),
    }
  }
}

export function formatEligibilityMessage(
  rc: Pick<RuntimeClassInfo, 'name' | 'handler'>,
  eligible: number,
  total: number,
  reasons: Array<{ reason: string; count: number }>,
): string {
  const head = `${eligible}/${total} nodes can run RuntimeClass ${rc.name} (handler ${rc.handler})`
  if (reasons.length === 0) return head
  return `${head}: ${reasons.map((r) => `${r.count} ${r.reason}`).join(', ')}`
}

/** Eligibility for a RuntimeClass that does not exist. */
export function missingRuntimeClassEligibility(name: string, totalNodes: number): Eligibility {
  return {
    runtimeClass: name,
    handler: '',
    totalNodes,
    eligibleNodes: 0,
    eligibleNodeNames: [],
    reasons: [{ reason: `RuntimeClass "${name}" not found`, count: totalNodes, code: 'runtimeClassNotFound', key: '' }],
    message: `0/${totalNodes} nodes can run RuntimeClass ${name}: RuntimeClass "${name}" not found`,
  }
}

/** Eligibility by scanning every node (the cluster index avoids this on the admission path). */
export function computeEligibility(
  nodes: Iterable<NodeSummary>,
  rc: RuntimeClassInfo,
  pod: PodScheduling,
  policy: ShimPolicy,
): Eligibility {
  const tally = new EligibilityTally(rc)
  const tolerations = effectiveTolerations(rc, pod)
  let total = 0
  for (const node of nodes) {
    total++
    const failure = checkNodeStatic(node, rc, policy).failure ?? checkNodePod(node, pod, tolerations)
    if (failure) tally.addFailure(failure)
    else tally.addEligible(node.name)
  }
  return tally.result(total)
}

export const NO_POD_CONSTRAINTS: PodScheduling = Object.freeze({
  nodeSelector: {},
  requiredNodeAffinity: [],
  tolerations: [],
}) as PodScheduling
