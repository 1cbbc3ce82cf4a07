// The kube-apiserver's own view of a pod CREATE, from its /metrics (Prometheus text): how long the
// admission steps, each in-tree admission plugin and each webhook took, and how many webhook calls it
// made. Read before and after a backend's round (bench/lib/metered.ts), the differences divided by
// the pods say where the apiserver's time goes with that backend. Only the series below are kept,
// summed over every label not named (e.g. the histogram buckets' `le` is dropped: _sum and _count
// only).
import type { Kube } from './kube.js'

/** metric name -> the labels kept in the key (the others are summed over). */
const KEPT: Record<string, string[]> = {
  // seconds spent in each admission step (mutating = admit, validating = validate)
  apiserver_admission_step_admission_duration_seconds_sum: ['type', 'operation'],
  apiserver_admission_step_admission_duration_seconds_count: ['type', 'operation'],
  // ... in each in-tree plugin (RuntimeClass, ServiceAccount, ...; a plugin run twice counts twice)
  apiserver_admission_controller_admission_duration_seconds_sum: ['name', 'type', 'operation'],
  apiserver_admission_controller_admission_duration_seconds_count: ['name', 'type', 'operation'],
  // ... in each webhook (the call as the apiserver sees it: connection, TLS, request, answer, patch)
  apiserver_admission_webhook_admission_duration_seconds_sum: ['name', 'type', 'operation'],
  apiserver_admission_webhook_admission_duration_seconds_count: ['name', 'type', 'operation'],
  apiserver_admission_webhook_request_total: ['name', 'type', 'code'],
  apiserver_admission_webhook_rejection_count: ['name', 'type', 'error_type'],
  // the whole request, as the apiserver measured it
  apiserver_request_duration_seconds_sum: ['verb', 'resource', 'subresource'],
  apiserver_request_duration_seconds_count: ['verb', 'resource', 'subresource'],
  // etcd, from the apiserver's side
  etcd_request_duration_seconds_sum: ['operation', 'type', 'group', 'resource'],
  etcd_request_duration_seconds_count: ['operation', 'type', 'group', 'resource'],
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The kept series of one scrape: `metric{label=value,...}` -> value (summed over the dropped labels). */
export function keptSeries(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (!m) continue
    const keep = KEPT[m[1]!]
    if (!keep) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!
    // only pod CREATEs where the series says which resource / operation
    if (labels['operation'] !== undefined && labels['operation'] !== 'CREATE' && labels['operation'] !== 'create') continue
    if (m[1]!.startsWith('apiserver_request_duration') && !(labels['verb'] === 'POST' && labels['resource'] === 'pods' && !labels['subresource'])) continue
    if (m[1]!.startsWith('etcd_request') && !/pods/.test(labels['type'] ?? labels['resource'] ?? 'pods')) continue
    const key = `${m[1]}{${keep.filter((k) => labels[k]).map((k) => `${k}=${labels[k]}`).join(',')}}`
    out[key] = (out[key] ?? 0) + Number(m[3])
  }
  return out
}

/** Scrapes the apiserver (admin client) and keeps the series above. */
export async function apiserverSeries(kube: Kube): Promise<Record<string, number>> {
  const a = await kube.req('GET', '/metrics', undefined)
  if (a.status !== 200) throw new Error(`apiserver /metrics: HTTP ${a.status}`)
  return keptSeries(String(a.body))
}
