/**
 * What the apiserver's RuntimeClass admission plugin does to a pod, so the mutation can do it first
 * and be a fixed point of the plugin. Pure.
 *
 * Why: a mutating webhook that changes a pod makes the apiserver re-run every in-tree mutating plugin
 * (k8s.io/apiserver pkg/admission/reinvocation.go). When that re-run changes the pod again, every
 * webhook with `reinvocationPolicy: IfNeeded` is called a second time
 * (pkg/admission/plugin/webhook/mutating/dispatcher.go: IsOutputChangedSinceLastWebhookInvocation).
 * Setting runtimeClassName without what the RuntimeClass plugin then adds costs that extra call.
 *
 * Mirrors kubernetes v1.36.3 plugin/pkg/admission/runtimeclass/admission.go (Admit: setOverhead,
 * setScheduling) and pkg/util/tolerations/tolerations.go (MergeTolerations, isSuperset).
 */
import type { RuntimeClassInfo } from '../domain/facts.js'
import type { Toleration } from '../domain/kube.js'

/** Go zero values: a missing field equals "" (or nil for tolerationSeconds), as in the internal API types. */
function same(a: Toleration, b: Toleration): boolean {
  return (a.key ?? '') === (b.key ?? '') && (a.operator ?? '') === (b.operator ?? '') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '') && (a.tolerationSeconds ?? null) === (b.tolerationSeconds ?? null)
}

/** isSuperset(ss, t): whether ss tolerates a superset of what t tolerates (tolerations.go). */
export function isSuperset(ss: Toleration, t: Toleration): boolean {
  if (same(ss, t)) return true
  const ssKey = ss.key ?? ''
  // An empty key with the Exists operator matches all keys and values.
  if ((t.key ?? '') !== ssKey && (ssKey !== '' || ss.operator !== 'Exists')) return false
  // An empty effect matches all effects.
  if ((t.effect ?? '') !== (ss.effect ?? '') && (ss.effect ?? '') !== '') return false
  if (ss.effect === 'NoExecute' && ss.tolerationSeconds !== undefined && ss.tolerationSeconds !== null) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null || t.tolerationSeconds > ss.tolerationSeconds) return false
  }
  switch (ss.operator ?? '') {
    case 'Equal':
    case '':
      return t.operator === 'Equal' && (t.value ?? '') === (ss.value ?? '')
    case 'Exists':
      return true
    default:
      return false
  }
}

/**
 * MergeTolerations(first, second) (tolerations.go): both lists in order, dropping every toleration
 * that an already kept one, or a later different one, tolerates a superset of.
 */
export function mergeTolerations(first: readonly Toleration[], second: readonly Toleration[]): Toleration[] {
  const all = [...first, ...second]
  const merged: Toleration[] = []
  next: for (let i = 0; i < all.length; i++) {
    const t = all[i]!
    for (const kept of merged) if (isSuperset(kept, t)) continue next
    for (const later of all.slice(i + 1)) if (!same(t, later) && isSuperset(later, t)) continue next
    merged.push(t)
  }
  return merged
}

export function sameTolerations(a: readonly Toleration[], b: readonly Toleration[]): boolean {
  return a.length === b.length && a.every((t, i) => same(t, b[i]!))
}

/** What the plugin's Admit would change on a pod with this RuntimeClass; empty when nothing. */
export interface RuntimeClassAdditions {
  /** Keys of scheduling.nodeSelector the pod lacks (setScheduling copies them in). */
  nodeSelector?: Record<string, string>
  /** The pod's whole toleration list after MergeTolerations(pod, scheduling.tolerations). */
  tolerations?: Toleration[]
  /** overhead.podFixed, when the pod has no overhead yet (setOverhead). */
  overhead?: Record<string, string>
}

/**
 * The changes the RuntimeClass plugin would make to a pod with this nodeSelector, toleration list and
 * overhead. A nodeSelector conflict or a different overhead is left alone: the plugin rejects those
 * pods ("conflict: runtimeClass.scheduling.nodeSelector[k] = ..." / "Pod's Overhead doesn't match"),
 * and the mutation must not hide that.
 */
export function runtimeClassAdditions(rc: RuntimeClassInfo, pod: { nodeSelector: Record<string, string>; tolerations: readonly Toleration[]; overhead: Record<string, unknown> | undefined }): RuntimeClassAdditions {
  const out: RuntimeClassAdditions = {}
  const missing = Object.entries(rc.nodeSelector).filter(([k]) => !(k in pod.nodeSelector))
  if (missing.length > 0) out.nodeSelector = Object.fromEntries(missing)
  // setScheduling returns early only when the class has no scheduling object (`Scheduling == nil`);
  // an empty `scheduling: {}` still merges, and so de-duplicates, the pod's own list.
  if (rc.hasScheduling || rc.tolerations.length > 0 || Object.keys(rc.nodeSelector).length > 0) {
    const merged = mergeTolerations(pod.tolerations, rc.tolerations)
    if (!sameTolerations(merged, pod.tolerations)) out.tolerations = merged
  }
  const hasOverhead = pod.overhead !== undefined && Object.keys(pod.overhead).length > 0
  if (rc.overhead && Object.keys(rc.overhead).length > 0 && !hasOverhead) out.overhead = { ...rc.overhead }
  return out
}
