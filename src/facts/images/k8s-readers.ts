/**
 * Secret and ServiceAccount readers for pull credentials (opt-in: `--read-pull-secrets`, RBAC get on
 * secrets and serviceaccounts). Each object is fetched once and kept for a short TTL, so admissions
 * do not call the API server per request: a pod's secrets are read on the first lookup only.
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node'
import type { SecretReader, SecretValue, ServiceAccountReader } from './credentials.js'

interface Entry<T> {
  value: Promise<T | undefined>
  expires: number
}

class TtlCache<T> {
  private readonly entries = new Map<string, Entry<T>>()
  constructor(private readonly ttlMs: number, private readonly maxEntries: number, private readonly now: () => number) {}
  get(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const t = this.now()
    const hit = this.entries.get(key)
    if (hit && hit.expires > t) return hit.value
    const value = load()
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(key, { value, expires: t + this.ttlMs })
    value.catch(() => this.entries.delete(key))
    return value
  }
}

function notFound(e: unknown): boolean {
  const code = (e as { code?: number; statusCode?: number })?.code ?? (e as { statusCode?: number })?.statusCode
  return code === 404
}

export class KubeSecretReaders {
  readonly secrets: SecretReader
  readonly serviceAccounts: ServiceAccountReader

  constructor(kubeConfig: KubeConfig, opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    const api = kubeConfig.makeApiClient(CoreV1Api)
    const now = opts.now ?? Date.now
    const secretCache = new TtlCache<SecretValue>(opts.ttlMs ?? 60_000, opts.maxEntries ?? 1000, now)
    const saCache = new TtlCache<{ imagePullSecrets?: Array<{ name?: string }> }>(opts.ttlMs ?? 60_000, opts.maxEntries ?? 1000, now)
    this.secrets = {
      get: (namespace, name) =>
        secretCache.get(`${namespace}/${name}`, async () => {
          try {
            const s = await api.readNamespacedSecret({ namespace, name })
            return { type: s.type ?? '', data: s.data ?? {} }
          } catch (e) {
            if (notFound(e)) return undefined
            throw new Error(`read secret ${namespace}/${name} failed`)
          }
        }),
    }
    this.serviceAccounts = {
      get: (namespace, name) =>
        saCache.get(`${namespace}/${name}`, async () => {
          try {
            const sa = await api.readNamespacedServiceAccount({ namespace, name })
            return { imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => ({ name: r.name })) }
          } catch (e) {
            if (notFound(e)) return undefined
            throw new Error(`read serviceaccount ${namespace}/${name} failed`)
          }
        }),
    }
  }
}
