import { Counter, Gauge, type Registry } from 'prom-client'

/** The drift controller's metrics (docs/drift.md), on the webhook's registry. */
export class DriftMetrics {
  readonly atRisk: Gauge<'namespace' | 'rule'>
  readonly workloads: Gauge<'kind'>
  readonly leader: Gauge
  readonly evaluations: Counter
  readonly reportWrites: Counter<'operation'>
  readonly events: Counter<'type'>
  readonly writeErrors: Counter<'what'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.atRisk = new Gauge({
      name: 'wasm_admission_drift_workloads_at_risk',
      help: 'Stored workloads that admission would refuse today, by namespace and rule (exported by the leader only, so sums do not double count).',
      labelNames: ['namespace', 'rule'],
      registers,
    })
    this.workloads = new Gauge({ name: 'wasm_admission_drift_workloads', help: 'Workloads kept by the drift controller, by kind.', labelNames: ['kind'], registers })
    this.leader = new Gauge({ name: 'wasm_admission_drift_leader', help: '1 while this replica holds the drift Lease and publishes reports and events.', registers })
    this.evaluations = new Counter({ name: 'wasm_admission_drift_evaluations_total', help: 'Workload evaluations run by the drift controller.', registers })
    this.reportWrites = new Counter({ name: 'wasm_admission_drift_report_writes_total', help: 'PolicyReport writes (apply or delete); a report is written only when its content changed.', labelNames: ['operation'], registers })
    this.events = new Counter({ name: 'wasm_admission_drift_events_total', help: 'Events created on workloads whose verdict changed, by type (Warning, Normal).', labelNames: ['type'], registers })
    this.writeErrors = new Counter({ name: 'wasm_admission_drift_write_errors_total', help: 'Failed writes of the drift controller (report, event, lease).', labelNames: ['what'], registers })
  }
}
