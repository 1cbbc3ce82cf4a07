/**
 * Secret and ServiceAccount readers for pull credentials (opt-in: `--read-pull-secrets`, RBAC get on
 * secrets and serviceaccounts). Each object is fetched once and kept for a short TTL, so admissions
 * do not call the API server per request: a pod's secrets are read on the first lookup only.
 *
 * The cache is an lru-cache instance (least recently used evicted at maxEntries, TTL per entry). It
 * holds the load's promise, so concurrent lookups of one object share one read; a not-found object is
 * cached (as undefined) like a found one; a failed read is dropped so the next lookup retries, but
 * only if the failed read is still the cached one (a late failure never deletes a newer entry).
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import { LRUCache } from 'lru-cache'
import type { SecretReader, SecretValue, ServiceAccountReader } from './credentials.js'

export interface CachedReaderOptions {
  /** Entry lifetime (default 60 000 ms). */
  ttlMs?: number
  /** Max entries; the least recently used goes first (default 1000). */
  maxEntries?: number
  /** Clock (tests). */
  now?: () => number
}

/** Reads namespaced objects through `load`, cached as described above. */
export function cachedReader<T>(
  load: (namespace: string, name: string) => Promise<T | undefined>,
  opts: CachedReaderOptions = {},
): { get(namespace: string, name: string): Promise<T | undefined> } {
  const now = opts.now ?? Date.now
  // ttlResolution 0: read the clock on every check (a test clock does not follow real time).
  const entries = new LRUCache<string, Promise<T | undefined>>({ max: opts.maxEntries ?? 1000, ttl: opts.ttlMs ?? 60_000, ttlResolution: 0, perf: { now } })
  return {
    get(namespace, name) {
      const key = `${namespace}/${name}`
      const hit = entries.get(key)
      if (hit !== undefined) return hit
      const value = load(namespace, name)
      entries.set(key, value)
      value.catch(() => {
        if (entries.peek(key) === value) entries.delete(key)
      })
      return value
    },
  }
}

function notFound(e: unknown): boolean {
  const code = (e as { code?: number; statusCode?: number })?.code ?? (e as { statusCode?: number })?.statusCode
  return code === 404
}

export class KubeSecretReaders {
  readonly secrets: SecretReader
  readonly serviceAccounts: ServiceAccountReader

  constructor(kubeConfig: KubeConfig, opts: CachedReaderOptions = {}) {
    const api = kubeConfig.makeApiClient(CoreV1Api)
    this.secrets = cachedReader<SecretValue>(async (namespace, name) => {
      try {
        const s = await api.readNamespacedSecret({ namespace, name })
        return { type: s.type ?? '', data: s.data ?? {} }
      } catch (e) {
        if (notFound(e)) return undefined
        throw new Error(`read secret ${namespace}/${name} failed`)
      }
    }, opts)
    this.serviceAccounts = cachedReader<{ imagePullSecrets?: Array<{ name?: string }> }>(async (namespace, name) => {
      try {
        const sa = await api.readNamespacedServiceAccount({ namespace, name })
        return { imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => ({ name: r.name })) }
      } catch (e) {
        if (notFound(e)) return undefined
        throw new Error(`read serviceaccount ${namespace}/${name} failed`)
      }
    }, opts)
  }
}
