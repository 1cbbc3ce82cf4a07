/**
 * Kubernetes shapes every layer shares (admission decoding, facts, policy, patching). Types only:
 * plain JSON as the apiserver sends it, never a typed client model.
 */

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'

export interface GroupVersionKind {
  group: string
  version: string
  kind: string
}

/** A Kubernetes object as received: plain JSON, never a typed client model (no field loss). */
export type KubeObject = Record<string, unknown>

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: '' | 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
  tolerationSeconds?: number
}

export interface Taint {
  key: string
  value?: string
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'
}

export interface NodeSelectorRequirement {
  key: string
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt'
  values?: string[]
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[]
  matchFields?: NodeSelectorRequirement[]
}

/** The parts of a pod spec that decide where it may be scheduled. */
export interface PodScheduling {
  nodeSelector: Record<string, string>
  /** requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms (ORed); empty = no constraint. */
  requiredNodeAffinity: NodeSelectorTerm[]
  tolerations: Toleration[]
  /** spec.nodeName: the pod is bound to this node and the scheduler is bypassed. */
  nodeName?: string
}
