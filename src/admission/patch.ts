import jsonpatch, { type Operation } from 'fast-json-patch'
import type { KubeObject } from '../domain/kube.js'
import type { PodTemplate } from '../domain/workload.js'
import { applyMutations, type Mutation } from '../domain/mutations.js'

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v)

/**
 * A shallow copy of `root` with every object along `path` copied too (missing or non-object steps
 * become {}), so the object at the end can be changed without touching `root`. Returns the copy
 * of the object at the end.
 */
function copyPath(root: Obj, path: readonly string[]): Obj {
  let cur = root
  for (const p of path) {
    const next = cur[p]
    const copy: Obj = next && typeof next === 'object' ? { ...(next as Obj) } : {}
    cur[p] = copy
    cur = copy
  }
  return cur
}

/**
 * The JSON patch that turns the object exactly as received into the mutated one. Diffing the raw
 * JSON (not a typed model) means unknown fields are never dropped. Empty when nothing changes.
 *
 * Copy-on-write: only what the mutations change is copied (the spine from the root to the pod
 * spec and metadata, the annotations, the touched container lists and containers); everything else
 * is shared with `raw`, which the diff skips by identity. (A full structuredClone of the object,
 * managedFields and all, then a full deep diff, was the largest cost of a review: docs/benchmarks.md.)
 */
export function patchFor(raw: KubeObject, template: Pick<PodTemplate, 'specPath' | 'metadataPath'>, mutations: readonly Mutation[]): Operation[] {
  if (mutations.length === 0) return []
  const desired: Obj = { ...(raw as Obj) }
  const spec = copyPath(desired, template.specPath)
  // metadataPath may share a prefix with specPath (a workload's spec.template.spec / .metadata):
  // copying again from the copied root re-copies only copies, and keeps `spec` in place.
  const metadata = copyPath(desired, template.metadataPath)
  for (const m of mutations) {
    if (m.type === 'annotations' && isObj(metadata['annotations'])) metadata['annotations'] = { ...metadata['annotations'] }
    if (m.type === 'image' || m.type === 'command') {
      const list = spec[m.list]
      if (Array.isArray(list)) {
        const copy = [...list]
        const c = copy[m.index]
        if (isObj(c)) copy[m.index] = { ...c }
        spec[m.list] = copy
      }
    }
  }
  applyMutations(spec, metadata, mutations)
  return jsonpatch.compare(raw, desired)
}
