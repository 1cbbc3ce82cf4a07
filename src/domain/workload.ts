import type { GroupVersionKind, KubeObject } from './kube.js'

/** Where the pod spec lives in each kind this webhook reviews (JSON path segments). */
const POD_SPEC_PATHS: Record<string, string[]> = {
  '/Pod': ['spec'],
  'apps/Deployment': ['spec', 'template', 'spec'],
  'apps/StatefulSet': ['spec', 'template', 'spec'],
  'apps/DaemonSet': ['spec', 'template', 'spec'],
  'apps/ReplicaSet': ['spec', 'template', 'spec'],
  '/ReplicationController': ['spec', 'template', 'spec'],
  'batch/Job': ['spec', 'template', 'spec'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
}

/** Where the pod metadata (annotations) lives, parallel to POD_SPEC_PATHS. */
function metadataPath(specPath: string[]): string[] {
  return [...specPath.slice(0, -1), 'metadata']
}

export function podSpecPath(kind: GroupVersionKind): string[] | undefined {
  return POD_SPEC_PATHS[`${kind.group}/${kind.kind}`]
}

export function isPodKind(kind: GroupVersionKind): boolean {
  return kind.group === '' && kind.kind === 'Pod'
}

function at(obj: unknown, path: string[]): unknown {
  let cur = obj
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[p]
  }
  return cur
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

export interface PodTemplate {
  spec: Record<string, unknown>
  metadata: Record<string, unknown>
  specPath: string[]
  metadataPath: string[]
}

/** The pod spec and metadata inside a Pod or workload object, or undefined when absent/malformed. */
export function podTemplateOf(kind: GroupVersionKind, obj: KubeObject | null | undefined): PodTemplate | undefined {
  const specPath = podSpecPath(kind)
  if (!specPath || !obj) return undefined
  const spec = at(obj, specPath)
  if (!isRecord(spec)) return undefined
  const mPath = metadataPath(specPath)
  const metadata = at(obj, mPath)
  return { spec, metadata: isRecord(metadata) ? metadata : {}, specPath, metadataPath: mPath }
}

export const CONTAINER_LISTS = ['initContainers', 'containers'] as const
export type ContainerList = (typeof CONTAINER_LISTS)[number]

export interface ContainerRef {
  list: ContainerList
  index: number
  name: string
  image: string
  hasCommand: boolean
}

/** Containers and init containers with their images (ephemeral containers are debug tools: not reviewed). */
export function containersOf(spec: Record<string, unknown>): ContainerRef[] {
  const out: ContainerRef[] = []
  for (const list of CONTAINER_LISTS) {
    const items = spec[list]
    if (!Array.isArray(items)) continue
    items.forEach((c: unknown, index) => {
      if (!isRecord(c)) return
      const image = typeof c['image'] === 'string' ? c['image'] : ''
      const command = c['command']
      out.push({ list, index, name: typeof c['name'] === 'string' ? c['name'] : `#${index}`, image, hasCommand: Array.isArray(command) && command.length > 0 })
    })
  }
  return out
}

export function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {}
  const out: Record<string, string> = {}
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val
  return out
}
