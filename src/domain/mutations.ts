import type { Toleration } from './kube.js'
import type { ContainerList } from './workload.js'

/** One change to a pod (template). decide() returns these; the patch stage applies them. */
export type Mutation =
  | { type: 'runtimeClassName'; name: string }
  | { type: 'tolerations'; add: Toleration[] }
  | { type: 'annotations'; add: Record<string, string> }
  | { type: 'image'; list: ContainerList; index: number; image: string }
  | { type: 'command'; list: ContainerList; index: number; command: string[] }
  /**
   * What the apiserver's RuntimeClass admission plugin would set for `runtimeClass` (its nodeSelector
   * keys, the merged toleration list, the overhead), added first so that the plugin's re-run after
   * this mutation changes nothing (src/policy/runtime-class-plugin.ts).
   */
  | { type: 'runtimeClassScheduling'; runtimeClass: string; nodeSelector?: Record<string, string>; tolerations?: Toleration[]; overhead?: Record<string, string> }

function record(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = parent[key]
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  const fresh: Record<string, unknown> = {}
  parent[key] = fresh
  return fresh
}

function container(spec: Record<string, unknown>, list: ContainerList, index: number): Record<string, unknown> | undefined {
  const items = spec[list]
  const c = Array.isArray(items) ? items[index] : undefined
  return c && typeof c === 'object' ? (c as Record<string, unknown>) : undefined
}

/** Applies mutations in place to a pod spec and its metadata. Pure with respect to everything else. */
export function applyMutations(spec: Record<string, unknown>, metadata: Record<string, unknown>, mutations: readonly Mutation[]): void {
  for (const m of mutations) {
    switch (m.type) {
      case 'runtimeClassName':
        spec['runtimeClassName'] = m.name
        break
      case 'tolerations': {
        const existing = Array.isArray(spec['tolerations']) ? (spec['tolerations'] as unknown[]) : []
        spec['tolerations'] = [...existing, ...m.add.map((t) => ({ ...t }))]
        break
      }
      case 'annotations': {
        const ann = record(metadata, 'annotations')
        for (const [k, v] of Object.entries(m.add)) if (!(k in ann)) ann[k] = v
        break
      }
      case 'image': {
        const c = container(spec, m.list, m.index)
        if (c) c['image'] = m.image
        break
      }
      case 'command': {
        const c = container(spec, m.list, m.index)
        if (c) c['command'] = [...m.command]
        break
      }
      case 'runtimeClassScheduling': {
        // New objects, never changes inside the received ones (the patch stage shares them).
        if (m.nodeSelector) {
          const existing = spec['nodeSelector'] && typeof spec['nodeSelector'] === 'object' ? (spec['nodeSelector'] as Record<string, unknown>) : {}
          spec['nodeSelector'] = { ...existing, ...m.nodeSelector }
        }
        if (m.tolerations) spec['tolerations'] = m.tolerations.map((t) => ({ ...t }))
        if (m.overhead) spec['overhead'] = { ...m.overhead }
        break
      }
    }
  }
}

function norm(t: Toleration): string {
  return JSON.stringify([t.key ?? '', t.operator ?? 'Equal', t.value ?? '', t.effect ?? '', t.tolerationSeconds ?? null])
}

/** Tolerations of `wanted` not already present in `existing` (Kubernetes defaults applied before comparing). */
export function missingTolerations(existing: readonly Toleration[], wanted: readonly Toleration[]): Toleration[] {
  const have = new Set(existing.map(norm))
  const out: Toleration[] = []
  for (const t of wanted) {
    const k = norm(t)
    if (!have.has(k)) {
      have.add(k)
      out.push(t)
    }
  }
  return out
}
