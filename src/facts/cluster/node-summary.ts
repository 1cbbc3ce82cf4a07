/**
 * Reduce a Node object (API JSON or a YAML document) to the few fields the decisions need.
 * Pure; never throws on odd input (missing fields become neutral defaults).
 */
import type { Taint } from '../../domain/kube.js'

export interface NodeSummary {
  name: string
  labels: Record<string, string>
  /** spec.taints (all effects; eligibility only looks at NoSchedule and NoExecute). */
  taints: Taint[]
  /** spec.unschedulable (cordoned). */
  unschedulable: boolean
  /** status.conditions[type=Ready].status === 'True'. */
  ready: boolean
  /**
   * Names in status.runtimeHandlers (the default handler is ""), or null when the node reports no
   * handlers at all (field absent or empty: kubelet < 1.31, containerd 1.x, gate off).
   */
  runtimeHandlers: string[] | null
}

type Json = Record<string, unknown>

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** String-valued entries of a map (labels, nodeSelector); other values are dropped. */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const o = obj(v)
  if (!o) return out
  for (const [k, val] of Object.entries(o)) {
    if (typeof val === 'string') out[k] = val
    else if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val)
  }
  return out
}

const TAINT_EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])

export function summarizeTaints(v: unknown): Taint[] {
  const out: Taint[] = []
  for (const t of arr(v)) {
    const o = obj(t)
    if (!o || typeof o.key !== 'string' || typeof o.effect !== 'string' || !TAINT_EFFECTS.has(o.effect)) continue
    const taint: Taint = { key: o.key, effect: o.effect as Taint['effect'] }
    if (typeof o.value === 'string' && o.value !== '') taint.value = o.value
    out.push(taint)
  }
  return out
}

export function summarizeNode(node: unknown): NodeSummary {
  const n = obj(node) ?? {}
  const meta = obj(n.metadata) ?? {}
  const spec = obj(n.spec) ?? {}
  const status = obj(n.status) ?? {}
  let ready = false
  for (const c of arr(status.conditions)) {
    const co = obj(c)
    if (co?.type === 'Ready') ready = co.status === 'True'
  }
  let runtimeHandlers: string[] | null = null
  const rh = arr(status.runtimeHandlers)
  if (rh.length > 0) {
    runtimeHandlers = []
    for (const h of rh) {
      const ho = obj(h)
      if (ho && typeof ho.name === 'string') runtimeHandlers.push(ho.name)
      else if (ho && ho.name === undefined) runtimeHandlers.push('') // default handler
    }
  }
  return {
    name: typeof meta.name === 'string' ? meta.name : '',
    labels: stringMap(meta.labels),
    taints: summarizeTaints(spec.taints),
    unschedulable: spec.unschedulable === true,
    ready,
    runtimeHandlers,
  }
}

/** Structural equality of two summaries (used to ignore heartbeat-only updates). */
export function sameNodeSummary(a: NodeSummary, b: NodeSummary): boolean {
  if (a.name !== b.name || a.ready !== b.ready || a.unschedulable !== b.unschedulable) return false
  if (!sameStringMap(a.labels, b.labels)) return false
  if (a.taints.length !== b.taints.length) return false
  for (let i = 0; i < a.taints.length; i++) {
    const x = a.taints[i]!
    const y = b.taints[i]!
    if (x.key !== y.key || (x.value ?? '') !== (y.value ?? '') || x.effect !== y.effect) return false
  }
  if (a.runtimeHandlers === null || b.runtimeHandlers === null) return a.runtimeHandlers === b.runtimeHandlers
  if (a.runtimeHandlers.length !== b.runtimeHandlers.length) return false
  return a.runtimeHandlers.every((h, i) => h === b.runtimeHandlers![i])
}

export function sameStringMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ak = Object.keys(a)
  if (ak.length !== Object.keys(b).length) return false
  for (const k of ak) if (a[k] !== b[k] || !Object.hasOwn(b, k)) return false
  return true
}

/** `key=value:Effect` (or `key:Effect` when the value is empty), as kubectl prints taints. */
export function formatTaint(t: Taint): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`
}

/** `k1=v1,k2=v2` in key order. */
export function formatSelector(sel: Record<string, string>): string {
  return Object.keys(sel)
    .sort()
    .map((k) => `${k}=${sel[k]}`)
    .join(',')
}
