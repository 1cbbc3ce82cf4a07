/**
 * The namespace's PolicyReport (wgpolicyk8s.io/v1alpha2, the API Kyverno 1.19 writes by default and
 * Policy Reporter reads; docs/drift.md says why not openreports.io), built from the verdicts of that
 * namespace. Pure and deterministic: the same verdicts give the same object, in the same order, with
 * no timestamps, so "did the report change" is a string comparison (reportContent).
 *
 * Only failing workloads are listed as results (a report of 10,000 passing workloads would approach
 * etcd's object size limit); the summary counts every evaluated workload. Workloads in a namespace
 * whose mode is off are counted as skip.
 */
import type { Verdict } from './evaluate.js'

export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2'
export const REPORT_KIND = 'PolicyReport'
export const REPORT_NAME = 'wasm-admission'
export const REPORT_SOURCE = 'wasm-admission'
export const REPORT_POLICY = 'wasm-admission'
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by'

export interface ReportResult {
  source: string
  policy: string
  rule: string
  category: string
  result: 'fail'
  severity: 'high' | 'medium'
  scored: boolean
  message: string
  properties: Record<string, string>
  resources: Array<{ apiVersion: string; kind: string; namespace: string; name: string; uid: string }>
}

export interface PolicyReport {
  apiVersion: typeof REPORT_API_VERSION
  kind: typeof REPORT_KIND
  metadata: { name: string; namespace: string; labels: Record<string, string> }
  summary: { pass: number; fail: number; warn: number; error: number; skip: number }
  results: ReportResult[]
}

const apiVersionOf = (k: Verdict['workload']['kind']) => (k.group ? `${k.group}/${k.version}` : k.version)

/** The report of one namespace from its verdicts (any order). */
export function buildReport(namespace: string, verdicts: Iterable<Verdict>): PolicyReport {
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 }
  const results: ReportResult[] = []
  const sorted = [...verdicts].filter((v) => v.workload.namespace === namespace).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  for (const v of sorted) {
    summary[v.result]++
    if (v.result !== 'fail') continue
    const w = v.workload
    for (const violation of v.violations) {
      results.push({
        source: REPORT_SOURCE,
        policy: REPORT_POLICY,
        rule: violation.rule,
        category: 'WebAssembly',
        result: 'fail',
        // Enforce mode: admission denies the next write of this workload; warn/audit only report it.
        severity: v.mode === 'enforce' ? 'high' : 'medium',
        scored: true,
        message: violation.message,
        properties: { mode: v.mode },
        resources: [{ apiVersion: apiVersionOf(w.kind), kind: w.kind.kind, namespace: w.namespace, name: w.name, uid: w.uid }],
      })
    }
  }
  return {
    apiVersion: REPORT_API_VERSION,
    kind: REPORT_KIND,
    metadata: { name: REPORT_NAME, namespace, labels: { [MANAGED_BY_LABEL]: 'wasm-admission' } },
    summary,
    results,
  }
}

/** What decides whether a report must be written again: summary and results, in their (deterministic) order. */
export function reportContent(r: Pick<PolicyReport, 'summary' | 'results'>): string {
  const s = r.summary
  const results = (r.results ?? []).map((x) => [x.rule, x.result, x.severity, x.message, x.properties?.['mode'] ?? '', x.resources.map((res) => `${res.kind}/${res.namespace}/${res.name}/${res.uid}`)])
  return JSON.stringify([[s?.pass ?? 0, s?.fail ?? 0, s?.warn ?? 0, s?.error ?? 0, s?.skip ?? 0], results])
}
