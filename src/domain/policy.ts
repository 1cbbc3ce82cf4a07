import type { RuntimeFamily } from './facts.js'
import type { Toleration } from './kube.js'

export const MODES = ['enforce', 'warn', 'audit', 'off'] as const
/** Per-namespace mode, from the namespace label `wasm-admission.io/mode` or the policy default. */
export type Mode = (typeof MODES)[number]

export const MODE_LABEL = 'wasm-admission.io/mode'

export interface FamilyPolicy {
  /** `auto`: pick the RuntimeClass whose handler is one of `handlers` and that has eligible nodes. */
  runtimeClass: 'auto' | { name: string }
  /** Handler names that mean this family (RuntimeClass.handler values). */
  handlers: string[]
  /** Tolerations added to the pod (never duplicated). */
  tolerations: Toleration[]
  /** Pod annotations added (existing keys are left as they are). */
  annotations: Record<string, string>
}

export interface ShimLabel {
  /** Node label key, e.g. `kwasm.sh/kwasm-provisioned`. */
  key: string
  /** Required value; absent = any value. */
  value?: string
  /** Handlers this label vouches for; absent = every handler. */
  handlers?: string[]
}

export interface Policy {
  /** Mode for namespaces without the mode label. */
  defaultMode: Mode
  families: Record<RuntimeFamily, FamilyPolicy>
  /** Pods mixing Wasm app containers with Linux containers (sidecars). */
  mixedPods: 'allow' | 'deny'
  /** What to do when an image's facts are unknown (registry unreachable, deadline). */
  onUnknownImage: 'allow' | 'deny'
  /** A Linux image in a pod whose RuntimeClass handler is a Wasm shim. */
  linuxUnderWasmRuntimeClass: 'allow' | 'deny'
  /** Whether a RuntimeClass's own scheduling.nodeSelector alone counts as proof that a node has the shim. */
  trustRuntimeClassNodeSelector: boolean
  /** Extra installer labels that mark a node as having a shim (besides the built-in ones). */
  shimLabels: ShimLabel[]
  /** Deny pods whose RuntimeClass has no eligible node (enforce mode). */
  requireEligibleNode: boolean
}
