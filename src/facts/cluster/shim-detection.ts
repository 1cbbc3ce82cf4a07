/**
 * Does node N have the containerd shim for RuntimeClass handler H? Pure.
 *
 * Order of trust (docs/cluster-facts.md, docs/wasm-oci.md §7):
 *  1. `status.runtimeHandlers` — what the container runtime actually loaded. When the node reports
 *     a non-empty list, it is authoritative both ways: H listed → present; H absent → missing, even
 *     if an installer label says "provisioned" (docs/wasm-oci.md §7 caution: RCM left `spin-v2=provisioned` on a
 *     containerd 2.x node whose config went to the 1.x plugin path; pods failed with
 *     `no runtime for "spin-v2" is configured`).
 *  2. Installer status labels: runtime-class-manager `<shim>=provisioned` (shim name = handler or
 *     RuntimeClass name; `pending`/`failed` are explicit negatives), KWasm
 *     `kwasm.sh/kwasm-provisioned`, AKS `kubernetes.azure.com/wasmtime-<x>=true`, and
 *     policy.shimLabels.
 *  3. Otherwise only the RuntimeClass's own `scheduling.nodeSelector` speaks for the node, and only
 *     when policy.trustRuntimeClassNodeSelector is true (and the selector is not empty: k3s creates
 *     RuntimeClasses without one whether or not a node has the shim).
 */
import type { RuntimeClassInfo, ShimPolicy } from '../../domain/facts.js'
import type { ShimLabel } from '../../domain/policy.js'
import type { NodeSummary } from './node-summary.js'
import { formatSelector } from './node-summary.js'

export type ShimEvidence =
  /** status.runtimeHandlers lists (or, when reported, omits) the handler. */
  | 'runtimeHandlers'
  /** An installer status label or a policy shimLabel. */
  | 'label'
  /** Only the RuntimeClass scheduling.nodeSelector (trusted by policy). */
  | 'runtimeClassNodeSelector'
  /** Nothing says the node has it. */
  | 'none'

export interface ShimVerdict {
  present: boolean
  evidence: ShimEvidence
  /** Human-readable, e.g. `runtimeHandlers lists spin`, `label spin-v2=provisioned`. */
  detail: string
}

export type { ShimPolicy }

/** The shim-relevant part of a policy, as a value that compares by content. */
export function shimPolicyOf(p: ShimPolicy): ShimPolicy {
  return { trustRuntimeClassNodeSelector: p.trustRuntimeClassNodeSelector, shimLabels: p.shimLabels ?? [] }
}

/** A string equal for two policies when shim detection answers the same under both (compared by content). */
export function shimPolicyKey(p: ShimPolicy): string {
  return JSON.stringify(shimPolicyOf(p))
}

export const RCM_PROVISIONED = 'provisioned'
export const KWASM_PROVISIONED_LABEL = 'kwasm.sh/kwasm-provisioned'
export const AKS_WASM_LABEL_PREFIX = 'kubernetes.azure.com/wasmtime-'

/**
 * Handler names the KWasm node-installer writes (shell and Go versions, docs/wasm-oci.md §7). The KWasm
 * label is set when the provisioning Job is created, so it vouches only for these handlers.
 */
export const KWASM_HANDLERS: ReadonlySet<string> = new Set([
  'crun', 'lunatic', 'slight', 'spin', 'wws', 'wasmedge', 'wasmer', 'wasmtime',
  'spin-v2', 'lunatic-v1', 'slight-v1', 'wws-v1', 'wasmedge-v1', 'wasmer-v1', 'wasmtime-v1',
])

/** The shim family of a handler or label suffix: `spin-v0-15-1` → `spin`. */
function family(name: string): string {
  const i = name.indexOf('-')
  return i < 0 ? name : name.slice(0, i)
}

export function labelsMatch(labels: Record<string, string>, selector: Record<string, string>): boolean {
  for (const k of Object.keys(selector)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== selector[k]) return false
  }
  return true
}

/** Installer/policy labels only (step 2). Returns undefined when no label speaks either way. */
export function shimFromLabels(node: NodeSummary, rc: RuntimeClassInfo, shimLabels: ShimLabel[]): ShimVerdict | undefined {
  const labels = node.labels
  const h = rc.handler
  // Policy labels first: the operator knows their installer best.
  for (const sl of shimLabels) {
    if (!Object.hasOwn(labels, sl.key)) continue
    if (sl.value !== undefined && labels[sl.key] !== sl.value) continue
    if (sl.handlers && !sl.handlers.includes(h)) continue
    return { present: true, evidence: 'label', detail: `label ${sl.key}=${labels[sl.key]} (policy shimLabels)` }
  }
  // runtime-class-manager: <Shim.metadata.name>=provisioned; the Shim is usually named after the
  // handler (spin-v2), sometimes users name it after the RuntimeClass.
  let negative: ShimVerdict | undefined
  for (const key of h === rc.name ? [h] : [h, rc.name]) {
    if (!key || !Object.hasOwn(labels, key)) continue
    const v = labels[key]
    if (v === RCM_PROVISIONED) return { present: true, evidence: 'label', detail: `label ${key}=${v} (runtime-class-manager)` }
    if (v === 'pending' || v === 'failed') {
      negative ??= { present: false, evidence: 'label', detail: `label ${key}=${v} (runtime-class-manager: not provisioned)` }
    }
  }
  // AKS WASI node pools: kubernetes.azure.com/wasmtime-<x>=true; <x> like spin-v2, slight-v1.
  for (const [key, v] of Object.entries(labels)) {
    if (!key.startsWith(AKS_WASM_LABEL_PREFIX) || v !== 'true') continue
    const x = key.slice(AKS_WASM_LABEL_PREFIX.length)
    if (x === h || family(x) === family(h) || rc.name === `wasmtime-${x}`) {
      return { present: true, evidence: 'label', detail: `label ${key}=${v} (AKS WASI node pool)` }
    }
  }
  // KWasm operator.
  if (Object.hasOwn(labels, KWASM_PROVISIONED_LABEL) && KWASM_HANDLERS.has(h)) {
    return {
      present: true,
      evidence: 'label',
      detail: `label ${KWASM_PROVISIONED_LABEL}=${labels[KWASM_PROVISIONED_LABEL]} (KWasm)`,
    }
  }
  return negative
}

/**
 * Step 3's selector check is part of this verdict: with a trusted non-empty RuntimeClass
 * nodeSelector, `present` is true iff the node matches it (evidence `runtimeClassNodeSelector`).
 * Eligibility counts a node failing that way under "does not match nodeSelector", not "lacks shim".
 */
export function detectShim(node: NodeSummary, rc: RuntimeClassInfo, policy: ShimPolicy): ShimVerdict {
  const h = rc.handler
  if (node.runtimeHandlers !== null) {
    if (node.runtimeHandlers.includes(h)) return { present: true, evidence: 'runtimeHandlers', detail: `runtimeHandlers lists ${h}` }
    const listed = node.runtimeHandlers.map((x) => (x === '' ? '""' : x)).join(', ')
    return { present: false, evidence: 'runtimeHandlers', detail: `runtimeHandlers [${listed}] lack ${h}` }
  }
  const byLabel = shimFromLabels(node, rc, policy.shimLabels)
  if (byLabel) return byLabel
  if (policy.trustRuntimeClassNodeSelector && Object.keys(rc.nodeSelector).length > 0) {
    const sel = formatSelector(rc.nodeSelector)
    return labelsMatch(node.labels, rc.nodeSelector)
      ? { present: true, evidence: 'runtimeClassNodeSelector', detail: `matches RuntimeClass nodeSelector ${sel} (trusted)` }
      : { present: false, evidence: 'runtimeClassNodeSelector', detail: `does not match RuntimeClass nodeSelector ${sel}` }
  }
  return {
    present: false,
    evidence: 'none',
    detail: policy.trustRuntimeClassNodeSelector
      ? `no runtimeHandlers, no installer label, RuntimeClass has no nodeSelector`
      : `no runtimeHandlers, no installer label (RuntimeClass nodeSelector not trusted)`,
  }
}
