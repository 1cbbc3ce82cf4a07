import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Sampling interval (ms) of the event-loop delay histogram (`wasm_admission_nodejs_eventloop_lag_*`).
 * prom-client's default, 10 ms, is a timer waking the process 100 times a second: 9 ms of CPU a
 * second on an idle replica here (docs/benchmarks.md, "Fourth round"). At 100 ms a blocked loop still
 * shows, to within 100 ms, in the next sample; the webhook's own latency is in its request histogram.
 */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 100

/** The webhook's own metrics, on a registry of its own (never prom-client's global one). */
export class WebhookMetrics {
  readonly registry: Registry
  readonly requests: Counter<'endpoint' | 'operation' | 'decision' | 'mode'>
  readonly duration: Histogram<'endpoint'>
  readonly policyReloadErrors: Counter
  readonly policyReloads: Counter
  readonly ready: Gauge
  readonly certNotAfter: Gauge

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry()
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'wasm_admission_', eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS })
    this.requests = new Counter({
      name: 'wasm_admission_requests_total',
      help: 'Admission reviews answered, by endpoint, operation, decision and namespace mode.',
      labelNames: ['endpoint', 'operation', 'decision', 'mode'],
      registers: [this.registry],
    })
    this.duration = new Histogram({
      name: 'wasm_admission_request_duration_seconds',
      help: 'Time from receiving an admission review to answering it.',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    })
    this.policyReloadErrors = new Counter({
      name: 'wasm_admission_policy_reload_errors_total',
      help: 'Policy files rejected at reload; the previous policy stayed in force.',
      registers: [this.registry],
    })
    this.policyReloads = new Counter({
      name: 'wasm_admission_policy_reloads_total',
      help: 'Policy files loaded successfully after start.',
      registers: [this.registry],
    })
    this.ready = new Gauge({ name: 'wasm_admission_ready', help: '1 when /readyz reports ready.', registers: [this.registry] })
    this.certNotAfter = new Gauge({
      name: 'wasm_admission_tls_certificate_not_after_timestamp_seconds',
      help: 'Expiry of the serving certificate in use.',
      registers: [this.registry],
    })
  }
}
