/**
 * Node eligibility for a pod under a RuntimeClass: the filters Kubernetes itself applies, with the
 * shim added. Pure. Every rule below mirrors Kubernetes v1.36.3 source (paths relative to
 * k8s.io/kubernetes unless noted) and is checked against the real kube-scheduler, kube-controller-manager
 * and apiserver by test/reliability/scheduler-differential.test.ts; docs/cluster-facts.md has the table.
 *
 * A node is eligible when, in this order (a node is counted under its FIRST failing reason):
 *   1. noShim          the shim for the handler is present (shim-detection.ts)
 *   2. rcNodeSelector  labels match RuntimeClass scheduling.nodeSelector (the RuntimeClass admission
 *                      plugin merges it into the pod's nodeSelector: plugin/pkg/admission/runtimeclass)
 *   3. cordoned        scheduled pods only: spec.unschedulable is not set, or the pod tolerates
 *                      node.kubernetes.io/unschedulable:NoSchedule
 *                      (pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go)
 *   4. podNodeName     pods with spec.nodeName: the node is that node
 *   5. podNodeSelector labels match the pod's nodeSelector
 *   6. podAffinity     the pod's required node affinity (terms ORed, requirements ANDed;
 *                      staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity)
 *   7. taint           every taint the component checks is tolerated by the pod's tolerations plus the
 *                      RuntimeClass scheduling.tolerations: NoSchedule and NoExecute for the scheduler
 *                      (pkg/scheduler/framework/plugins/tainttoleration, helper/taint.go), NoExecute
 *                      only for the kubelet admitting a spec.nodeName pod (pkg/kubelet/lifecycle/predicate.go
 *                      generalFilter)
 * The Ready condition is not a check: the scheduler never reads it; the node lifecycle controller turns
 * NotReady/Unreachable into the node.kubernetes.io/not-ready and .../unreachable taints, which step 7 sees.
 * Steps 1-2 do not depend on the pod (cluster-index precomputes them per RuntimeClass).
 */
import type { Eligibility, RuntimeClassInfo } from '../../domain/facts.js'
import { DAEMONSET_TOLERATIONS, type NodeSelectorRequirement, type NodeSelectorTerm, type PodScheduling, type Taint, type Toleration } from '../../domain/kube.js'
import type { NodeSummary } from './node-summary.js'
import { formatSelector, formatTaint } from './node-summary.js'
import { detectShim, labelsMatch, type ShimPolicy, type ShimVerdict } from './shim-detection.js'

export const REASON_CODES = [
  'noShim',
  'rcNodeSelector',
  'cordoned',
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

/**
 * Kubernetes `Toleration.ToleratesTaint` (staging/src/k8s.io/api/core/v1/toleration.go), exactly. The
 * Lt/Gt operators exist behind the alpha gate TaintTolerationComparisonOperators (off by default in
 * v1.36, and the apiserver rejects them then), so they tolerate nothing here.
 */
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

/**
 * Taints the scheduler's TaintToleration filter and the DaemonSet controller check: NoSchedule and
 * NoExecute (pkg/scheduler/framework/plugins/helper/taint.go DoNotScheduleTaintsFilterFunc).
 * PreferNoSchedule never blocks.
 */
export function isBlockingTaint(t: Taint): boolean {
  return t.effect === 'NoSchedule' || t.effect === 'NoExecute'
}

/** Taints the kubelet checks when it admits a pod: NoExecute only (pkg/kubelet/lifecycle/predicate.go generalFilter). */
export function isKubeletAdmissionTaint(t: Taint): boolean {
  return t.effect === 'NoExecute'
}

/** The first taint passing `filter` that no toleration tolerates, or undefined (v1helper.FindMatchingUntoleratedTaint). */
export function firstUntoleratedTaint(taints: Taint[], tolerations: readonly Toleration[], filter: (t: Taint) => boolean = isBlockingTaint): Taint | undefined {
  for (const t of taints) {
    if (!filter(t)) continue
    if (!tolerations.some((tol) => toleratesTaint(tol, t))) return t
  }
  return undefined
}

/** The taint a cordoned node is treated as having (NodeUnschedulable filter; v1.TaintNodeUnschedulable). */
export const UNSCHEDULABLE_TAINT: Taint = Object.freeze({ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }) as Taint

// ------------------------------------------------------------------ node affinity

const INT_RE = /^[+-]?\d+$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Go's strconv.ParseInt(s, 10, 64): an optional sign, decimal digits, within int64. */
function parseInt64(s: string): bigint | undefined {
  if (!INT_RE.test(s)) return undefined
  const n = BigInt(s)
  return n < INT64_MIN || n > INT64_MAX ? undefined : n
}

/**
 * One label requirement against a value (undefined = label absent), as apimachinery's
 * labels.Requirement.Matches. A requirement that does not parse (Gt/Lt without exactly one integer)
 * makes its term fail, as NewLazyErrorNodeSelector does.
 */
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
 * One matchFields requirement: only `metadata.name`, only In/NotIn with exactly one value
 * (nodeaffinity.go nodeSelectorRequirementsAsFieldSelector); anything else fails the term.
 */
function fieldMatches(req: NodeSelectorRequirement, nodeName: string): boolean {
  const values = req.values ?? []
  if (req.key !== 'metadata.name' || values.length !== 1) return false
  if (req.operator === 'In') return nodeName === values[0]
  if (req.operator === 'NotIn') return nodeName !== values[0]
  return false
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
  for (const r of fields) if (!fieldMatches(r, node.name)) return false
  return true
}

/** nodeSelectorTerms are ORed; an empty list means no constraint. */
export function nodeAffinityMatches(terms: NodeSelectorTerm[], node: Pick<NodeSummary, 'name' | 'labels'>): boolean {
  if (terms.length === 0) return true
  return terms.some((t) => termMatches(t, node))
}

// ------------------------------------------------------------------ checks

/** Steps 1-2 (pod-independent). */
export function checkNodeStatic(node: NodeSummary, rc: RuntimeClassInfo, policy: ShimPolicy): { failure?: NodeFailure; shim: ShimVerdict } {
  const shim = detectShim(node, rc, policy)
  if (!shim.present) {
    // A trusted RuntimeClass selector that the node does not match is reported as a selector miss.
    if (shim.evidence === 'runtimeClassNodeSelector') return { failure: { code: 'rcNodeSelector', key: formatSelector(rc.nodeSelector) }, shim }
    return { failure: { code: 'noShim', key: '' }, shim }
  }
  if (!labelsMatch(node.labels, rc.nodeSelector)) return { failure: { code: 'rcNodeSelector', key: formatSelector(rc.nodeSelector) }, shim }
  return { shim }
}

/**
 * The tolerations the apiserver's DefaultTolerationSeconds admission plugin (on by default) adds to
 * every pod: `node.kubernetes.io/not-ready` and `.../unreachable`, `Exists`, `NoExecute`, 300 s, each
 * unless the pod already has a toleration with that key (or an empty key) and effect NoExecute (or an
 * empty effect); the plugin looks at key and effect only
 * (plugin/pkg/admission/defaulttolerationseconds/admission.go `Admit`). So a pod tolerates those
 * NoExecute taints for the scheduler and the kubelet unless it says otherwise.
 */
export function withDefaultTolerationSeconds(tolerations: readonly Toleration[]): Toleration[] {
  const covers = (key: string): boolean => tolerations.some((t) => (!t.key || t.key === key) && (!t.effect || t.effect === 'NoExecute'))
  const out = [...tolerations]
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!covers(key)) out.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 })
  }
  return out
}

/**
 * Tolerations that count for a pod under a RuntimeClass, in the order the apiserver's admission chain
 * builds them before the webhook and the scheduler see the pod: DefaultTolerationSeconds, then the
 * RuntimeClass plugin merging the class's scheduling.tolerations
 * (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins).
 */
export function effectiveTolerations(rc: RuntimeClassInfo, pod: PodScheduling): Toleration[] {
  const own = withDefaultTolerationSeconds(pod.tolerations)
  return rc.tolerations.length === 0 ? own : [...own, ...rc.tolerations]
}

/** True when the pod names its node (spec.nodeName): the scheduler never sees it, the kubelet admits it. */
export function isBound(pod: PodScheduling): boolean {
  return pod.nodeName !== undefined && pod.nodeName !== ''
}

/**
 * Steps 3-7 for a node that passed steps 1-2. A pod without spec.nodeName is judged as the scheduler's
 * filters judge it (NodeUnschedulable, NodeName, NodeAffinity, TaintToleration); a pod with
 * spec.nodeName as the kubelet's admission does (pkg/kubelet/lifecycle/predicate.go generalFilter ->
 * pkg/scheduler/eventhandlers.go AdmissionCheck: node affinity incl. nodeSelector, node name, ports and
 * resources; then NoExecute taints only; cordoning and NoSchedule taints do not apply).
 */
export function checkNodePod(node: NodeSummary, pod: PodScheduling, tolerations: readonly Toleration[]): NodeFailure | undefined {
  const bound = isBound(pod)
  if (bound) {
    if (node.name !== pod.nodeName) return { code: 'podNodeName', key: pod.nodeName! }
  } else if (node.unschedulable && !tolerations.some((tol) => toleratesTaint(tol, UNSCHEDULABLE_TAINT))) {
    return { code: 'cordoned', key: '' }
  }
  if (!labelsMatch(node.labels, pod.nodeSelector)) return { code: 'podNodeSelector', key: formatSelector(pod.nodeSelector) }
  if (!nodeAffinityMatches(pod.requiredNodeAffinity, node)) return { code: 'podAffinity', key: '' }
  const t = firstUntoleratedTaint(node.taints, tolerations, bound ? isKubeletAdmissionTaint : isBlockingTaint)
  if (t) return { code: 'taint', key: formatTaint(t) }
  return undefined
}

/**
 * Would the DaemonSet controller create a pod from this template for this node?
 * pkg/controller/daemon/daemon_controller.go NodeShouldRunDaemonPod + predicates: the template's
 * spec.nodeName, its nodeSelector and required node affinity, and its NoSchedule/NoExecute taints
 * with the template's tolerations plus DAEMONSET_TOLERATIONS. Not the RuntimeClass (neither its
 * nodeSelector nor its tolerations), not cordoning, not Ready.
 */
export function daemonSetTargets(node: NodeSummary, template: PodScheduling): boolean {
  if (isBound(template) && template.nodeName !== node.name) return false
  if (!labelsMatch(node.labels, template.nodeSelector)) return false
  if (!nodeAffinityMatches(template.requiredNodeAffinity, node)) return false
  return firstUntoleratedTaint(node.taints, [...template.tolerations, ...DAEMONSET_TOLERATIONS], isBlockingTaint) === undefined
}

export function describeFailure(f: NodeFailure, rc: RuntimeClassInfo, count = 1): string {
  const one = count === 1
  switch (f.code) {
    case 'noShim':
      return `${one ? 'lacks' : 'lack'} the ${rc.handler} shim`
    case 'rcNodeSelector':
      return `${one ? 'does' : 'do'} not match nodeSelector ${f.key}`
    case 'cordoned':
      return `${one ? 'is' : 'are'} cordoned`
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
  const notReady = node.ready ? '' : "; Ready is not True (kube-scheduler does not read Ready: the node lifecycle controller's node.kubernetes.io/not-ready taint keeps pods off)"
  if (!failure) return { node: node.name, eligible: true, shim: st.shim, detail: `eligible (shim: ${st.shim.detail})${notReady}` }
  let detail = describeFailure(failure, rc)
  if (failure.code === 'noShim') detail += ` (${st.shim.detail})`
  else if (failure.code === 'rcNodeSelector' && st.shim.evidence === 'runtimeClassNodeSelector') detail += ' (and nothing else shows the shim)'
  else if (failure.code === 'cordoned') detail += `; shim: ${st.shim.present ? st.shim.detail : 'not shown'}`
  return { node: node.name, eligible: false, failure, shim: st.shim, detail: detail + notReady }
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
