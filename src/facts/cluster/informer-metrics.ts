/**
 * Prometheus metrics of the cluster informers: node count, watch events, loop restarts and the
 * time of the last full list, by kind. Registered once per Registry (never prom-client's global one).
 */
import { Counter, Gauge, type Registry } from 'prom-client'

export interface InformerMetrics {
  events: Counter<'kind' | 'type'>
  restarts: Counter<'kind'>
  lastSync: Gauge<'kind'>
}

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function makeInformerMetrics(registry: Registry, nodeCount: () => number): InformerMetrics {
  const registers = [registry]
  getOrCreate(registry, 'wasm_admission_cluster_nodes', () => {
    return new Gauge({
      name: 'wasm_admission_cluster_nodes',
      help: 'Nodes in the cluster facts cache.',
      registers,
      collect() {
        this.set(nodeCount())
      },
    })
  })
  return {
    events: getOrCreate(
      registry,
      'wasm_admission_informer_events_total',
      () =>
        new Counter({
          name: 'wasm_admission_informer_events_total',
          help: 'Watch events received, by kind (nodes, runtimeclasses, namespaces) and type (added, modified, deleted, bookmark, error).',
          labelNames: ['kind', 'type'],
          registers,
        }),
    ),
    restarts: getOrCreate(
      registry,
      'wasm_admission_informer_restarts_total',
      () =>
        new Counter({
          name: 'wasm_admission_informer_restarts_total',
          help: 'List/watch loop restarts after an error or by the watchdog, by kind.',
          labelNames: ['kind'],
          registers,
        }),
    ),
    lastSync: getOrCreate(
      registry,
      'wasm_admission_informer_last_sync_timestamp_seconds',
      () =>
        new Gauge({
          name: 'wasm_admission_informer_last_sync_timestamp_seconds',
          help: 'Time of the last successful full list, by kind.',
          labelNames: ['kind'],
          registers,
        }),
    ),
  }
}
