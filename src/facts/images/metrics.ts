/**
 * Metrics hooks of the image facts source. Plain observer interfaces; `promImageMetrics`
 * binds them to a prom-client Registry handed in by the composition root (never the global
 * registry). Labels: `registry` is a host[:port] only, never credentials or paths.
 */
import { Counter, Histogram, type Registry } from 'prom-client'

export type CacheResult = 'hit' | 'miss' | 'error'
export type RegistryRequestKind = 'manifest' | 'blob' | 'token'

export interface CacheObserver {
  onHit?(key: string): void
  onMiss?(key: string): void
  onError?(key: string, code: string): void
}

export interface RegistryRequestObserver {
  /** One HTTP exchange (after redirects); `code` is the HTTP status or an error class (`error`, `timeout`, `blocked`). */
  onRequest(registry: string, kind: RegistryRequestKind, code: string, seconds: number): void
}

export const METRIC_NAMES = {
  cacheRequests: 'wasm_admission_image_cache_requests_total',
  registryRequests: 'wasm_admission_registry_requests_total',
  registryDuration: 'wasm_admission_registry_request_duration_seconds',
} as const

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  const existing = registry.getSingleMetric(name)
  return (existing as T | undefined) ?? create()
}

/** Observers for ImageFactsCache and RegistryClient that record into `registry`. */
export function promImageMetrics(registry: Registry): { cache: CacheObserver; registry: RegistryRequestObserver } {
  const cacheCounter = getOrCreate(
    registry,
    METRIC_NAMES.cacheRequests,
    () =>
      new Counter({
        name: METRIC_NAMES.cacheRequests,
        help: 'Image fact lookups by cache result (hit: answered from cache or a coalesced in-flight lookup; miss: went to the registry; error: the registry lookup ended in an unknown fact)',
        labelNames: ['result'],
        registers: [registry],
      }),
  )
  const reqCounter = getOrCreate(
    registry,
    METRIC_NAMES.registryRequests,
    () =>
      new Counter({
        name: METRIC_NAMES.registryRequests,
        help: 'Registry HTTP requests by registry host, kind (manifest, blob, token) and status code or error class',
        labelNames: ['registry', 'kind', 'code'],
        registers: [registry],
      }),
  )
  const duration = getOrCreate(
    registry,
    METRIC_NAMES.registryDuration,
    () =>
      new Histogram({
        name: METRIC_NAMES.registryDuration,
        help: 'Registry HTTP request duration in seconds (including redirects)',
        labelNames: ['registry', 'kind'],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  )
  for (const r of ['hit', 'miss', 'error']) cacheCounter.inc({ result: r }, 0)
  return {
    cache: {
      onHit: () => cacheCounter.inc({ result: 'hit' }),
      onMiss: () => cacheCounter.inc({ result: 'miss' }),
      onError: () => cacheCounter.inc({ result: 'error' }),
    },
    registry: {
      onRequest: (reg, kind, code, seconds) => {
        reqCounter.inc({ registry: reg, kind, code })
        duration.observe({ registry: reg, kind }, seconds)
      },
    },
  }
}
