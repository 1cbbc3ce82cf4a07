/** Reduce a RuntimeClass (node.k8s.io/v1) object to RuntimeClassInfo. Pure. */
import type { RuntimeClassInfo } from '../../domain/facts.js'
import type { Toleration } from '../../domain/kube.js'
import { stringMap } from './node-summary.js'

type Json = Record<string, unknown>

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined
}

const EFFECTS = new Set(['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'])

/** Normalises a list of tolerations from any pod spec / RuntimeClass JSON. */
export function summarizeTolerations(v: unknown): Toleration[] {
  const out: Toleration[] = []
  if (!Array.isArray(v)) return out
  for (const t of v) {
    const o = obj(t)
    if (!o) continue
    const tol: Toleration = {}
    if (typeof o.key === 'string' && o.key !== '') tol.key = o.key
    if (typeof o.operator === 'string' && o.operator !== '') {
      // Unknown operators are kept as-is (cast) so that they tolerate nothing, as in Kubernetes.
      tol.operator = o.operator as Toleration['operator']
    }
    if (typeof o.value === 'string' && o.value !== '') tol.value = o.value
    if (typeof o.effect === 'string' && EFFECTS.has(o.effect) && o.effect !== '') tol.effect = o.effect as Toleration['effect']
    if (typeof o.tolerationSeconds === 'number') tol.tolerationSeconds = o.tolerationSeconds
    out.push(tol)
  }
  return out
}

export function summarizeRuntimeClass(rc: unknown): RuntimeClassInfo {
  const r = obj(rc) ?? {}
  const meta = obj(r.metadata) ?? {}
  const scheduling = obj(r.scheduling)
  const info: RuntimeClassInfo = {
    name: typeof meta.name === 'string' ? meta.name : '',
    handler: typeof r.handler === 'string' ? r.handler : '',
    nodeSelector: stringMap(scheduling?.nodeSelector),
    tolerations: summarizeTolerations(scheduling?.tolerations),
  }
  if (scheduling) info.hasScheduling = true
  const podFixed = obj(obj(r.overhead)?.podFixed)
  if (podFixed) {
    const overhead: Record<string, string> = {}
    for (const [k, v] of Object.entries(podFixed)) {
      if (typeof v === 'string' || typeof v === 'number') overhead[k] = String(v)
    }
    info.overhead = overhead
  }
  return info
}

export function sameRuntimeClass(a: RuntimeClassInfo, b: RuntimeClassInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
