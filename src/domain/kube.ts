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

/**
 * Tolerations the DaemonSet controller adds to every pod it creates and uses when it decides which
 * nodes get one (pkg/controller/daemon/util/daemonset_util.go AddOrUpdateDaemonPodTolerations; the
 * network-unavailable one only with hostNetwork, which PodScheduling does not carry).
 */
export const DAEMONSET_TOLERATIONS: readonly Toleration[] = Object.freeze([
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
] as Toleration[])
