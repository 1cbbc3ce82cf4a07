import jsonpatch, { type Operation } from 'fast-json-patch'
import type { KubeObject } from './types.js'
import type { PodTemplate } from './workload.js'
import { applyMutations, type Mutation } from '../policy/mutations.js'

function at(obj: unknown, path: readonly string[]): Record<string, unknown> {
  let cur = obj as Record<string, unknown>
  for (const p of path) {
    const next = cur[p]
    if (!next || typeof next !== 'object') cur[p] = {}
    cur = cur[p] as Record<string, unknown>
  }
  return cur
}

/**
 * The JSON patch that turns the object exactly as received into the mutated one. Diffing the raw
 * JSON (not a typed model) means unknown fields are never dropped. Empty when nothing changes.
 */
export function patchFor(raw: KubeObject, template: Pick<PodTemplate, 'specPath' | 'metadataPath'>, mutations: readonly Mutation[]): Operation[] {
  if (mutations.length === 0) return []
  const desired = structuredClone(raw)
  applyMutations(at(desired, template.specPath), at(desired, template.metadataPath), mutations)
  return jsonpatch.compare(raw, desired)
}
