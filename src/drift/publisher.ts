/**
 * What the leader writes: each namespace's PolicyReport (server-side apply, only when its content
 * changed), and an Event on a workload whose verdict changed. Its memory of what it last wrote and
 * announced is seeded, when it starts leading, from the reports already in the cluster, so a new
 * leader neither rewrites an unchanged report nor repeats an Event for an unchanged verdict.
 */
import type { Logger } from 'pino'
import { formatMessage } from '../errors.js'
import type { DriftMetrics } from '../metrics/drift-metrics.js'
import { verdictFingerprint, type Verdict } from './evaluate.js'
import { describeAnswer, type KubeApi } from './kube-api.js'
import { microTime } from './lease.js'
import { MANAGED_BY_LABEL, REPORT_NAME, buildReport, reportContent, type PolicyReport, type ReportResult } from './report.js'

const REPORTS = '/apis/wgpolicyk8s.io/v1alpha2'
export const FIELD_MANAGER = 'wasm-admission'
export const REPORTING_CONTROLLER = 'wasm-admission.io/drift'
export const REASON_AT_RISK = 'WasmWorkloadAtRisk'
export const REASON_RESTORED = 'WasmWorkloadRestored'
/** events.k8s.io/v1 limits `note` to 1 kB. */
const NOTE_MAX = 1024

export interface PublisherOptions {
  api: KubeApi
  identity: string
  reports: boolean
  events: boolean
  logger?: Logger
  metrics?: DriftMetrics
  now?: () => number
}

/** The key evaluate() gives a workload, from a report's resource. */
const keyOf = (r: ReportResult['resources'][number]) => `${r.kind}/${r.namespace}/${r.name}`

export class Publisher {
  /** Namespace -> reportContent() last written (or found). */
  private readonly written = new Map<string, string>()
  /** Workload key -> verdictFingerprint() the last Event (or the found report) reflects. */
  private readonly announced = new Map<string, string>()
  /** True once the existing reports were read (the memory of this term); false until the API answers. */
  private seeded = false
  private readonly now: () => number
  private seq = 0

  constructor(private readonly o: PublisherOptions) {
    this.now = o.now ?? Date.now
  }

  /** Forgets everything (a follower keeps no memory: the next term seeds again). */
  reset(): void {
    this.written.clear()
    this.announced.clear()
    this.seeded = false
  }

  /** Reads the reports this product wrote before (any replica), as the memory of a new leader. */
  async seed(): Promise<void> {
    const res = await this.o.api.request('GET', `${REPORTS}/policyreports`, { query: { labelSelector: `${MANAGED_BY_LABEL}=wasm-admission` } })
    if (res.status === 404) {
      // The CRD is not installed (yet): no report this time; tried again at the next publish.
      this.o.logger?.error({ code: 'WA_ERR_DRIFT_REPORT_API' }, formatMessage('WA_ERR_DRIFT_REPORT_API', [describeAnswer(res)]))
      return
    }
    if (res.status !== 200) throw new Error(`list PolicyReports: ${describeAnswer(res)}`)
    for (const item of ((res.body as { items?: PolicyReport[] }).items ?? [])) {
      if (item.metadata?.name !== REPORT_NAME) continue
      this.written.set(item.metadata.namespace, reportContent(item))
      // The report lists failing workloads only, one result per violated rule.
      const byKey = new Map<string, Array<{ rule: string }>>()
      for (const r of item.results ?? []) {
        const res0 = r.resources?.[0]
        if (!res0) continue
        const k = keyOf(res0)
        byKey.set(k, [...(byKey.get(k) ?? []), { rule: r.rule }])
      }
      for (const [k, violations] of byKey) this.announced.set(k, verdictFingerprint({ result: 'fail', violations }))
    }
    this.seeded = true
  }

  /** Writes the namespace's report if it changed (deletes it when the namespace has no verdicts), and Events for changed verdicts. */
  async publishNamespace(namespace: string, verdicts: Verdict[]): Promise<void> {
    if (this.o.reports) {
      if (!this.seeded) await this.seed()
      if (this.seeded) await this.writeReport(namespace, verdicts)
    }
    for (const v of verdicts) await this.announce(v)
  }

  /** A workload that is gone: no Event, and its memory is dropped. */
  forget(key: string): void {
    this.announced.delete(key)
  }

  private async writeReport(namespace: string, verdicts: Verdict[]): Promise<void> {
    const path = `${REPORTS}/namespaces/${encodeURIComponent(namespace)}/policyreports/${REPORT_NAME}`
    if (verdicts.length === 0) {
      if (!this.written.has(namespace)) return
      const res = await this.o.api.request('DELETE', path)
      if (res.status === 200 || res.status === 202 || res.status === 404) {
        this.written.delete(namespace)
        this.o.metrics?.reportWrites.inc({ operation: 'delete' })
      } else this.writeFailed('report', formatMessage('WA_ERR_DRIFT_REPORT_WRITE', [`${namespace}/${REPORT_NAME}`, describeAnswer(res)]), 'WA_ERR_DRIFT_REPORT_WRITE')
      return
    }
    const report = buildReport(namespace, verdicts)
    const content = reportContent(report)
    if (this.written.get(namespace) === content) return
    const res = await this.o.api.request('PATCH', path, { body: report, contentType: 'application/apply-patch+yaml', query: { fieldManager: FIELD_MANAGER, force: 'true' } })
    if (res.status === 200 || res.status === 201) {
      this.written.set(namespace, content)
      this.o.metrics?.reportWrites.inc({ operation: 'apply' })
    } else if (res.status === 404) {
      // The resource type is not served (the CRD was removed): read the API again next time.
      this.seeded = false
      this.o.logger?.error({ code: 'WA_ERR_DRIFT_REPORT_API' }, formatMessage('WA_ERR_DRIFT_REPORT_API', [describeAnswer(res)]))
    } else this.writeFailed('report', formatMessage('WA_ERR_DRIFT_REPORT_WRITE', [`${namespace}/${REPORT_NAME}`, describeAnswer(res)]), 'WA_ERR_DRIFT_REPORT_WRITE')
  }

  private async announce(v: Verdict): Promise<void> {
    const fp = verdictFingerprint(v)
    const prev = this.announced.get(v.key)
    this.announced.set(v.key, fp)
    if (prev === fp) return
    // A workload that was never at risk (or whose namespace is off) gets no Event.
    if (prev === undefined && v.result !== 'fail') return
    if (!this.o.events) return
    const w = v.workload
    const atRisk = v.result === 'fail'
    const note = atRisk
      ? `wasm-admission would ${v.wouldDeny ? 'deny' : `flag (mode ${v.mode})`} this ${w.kind.kind} if it were created now: ${v.violations.map((x) => x.message).join('; ')}`
      : 'wasm-admission: the cluster can run this workload again (no rule violated)'
    const now = this.now()
    const res = await this.o.api.request('POST', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(w.namespace)}/events`, {
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        // As client-go's event recorder names events: <object>.<hex time>; generateName would end in '.'.
        metadata: { name: `${w.name.slice(0, 200)}.${(BigInt(now) * 1_000_000n + BigInt(++this.seq % 1_000_000)).toString(16)}`, namespace: w.namespace },
        eventTime: microTime(now),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: this.o.identity.slice(0, 128),
        action: 'Evaluate',
        reason: atRisk ? REASON_AT_RISK : REASON_RESTORED,
        type: atRisk ? 'Warning' : 'Normal',
        regarding: { apiVersion: w.kind.group ? `${w.kind.group}/${w.kind.version}` : w.kind.version, kind: w.kind.kind, name: w.name, namespace: w.namespace, uid: w.uid },
        note: note.length > NOTE_MAX ? `${note.slice(0, NOTE_MAX - 3)}...` : note,
      },
    })
    if (res.status === 201) this.o.metrics?.events.inc({ type: atRisk ? 'Warning' : 'Normal' })
    else this.writeFailed('event', formatMessage('WA_ERR_DRIFT_EVENT_WRITE', [`${w.kind.kind} ${w.namespace}/${w.name}`, describeAnswer(res)]), 'WA_ERR_DRIFT_EVENT_WRITE')
  }

  private writeFailed(what: string, message: string, code: string): void {
    this.o.metrics?.writeErrors.inc({ what })
    this.o.logger?.warn({ code }, message)
  }
}
