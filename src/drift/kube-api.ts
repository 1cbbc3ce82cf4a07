/**
 * The few writes the drift controller makes (server-side apply of a PolicyReport, create of an
 * Event, get/create/update of a Lease, list of its own reports), over the same authenticated
 * connection as the informers (facts/cluster/kubeconfig.ts KubeConnection: undici, token re-read
 * on rotation). client-node's generated API client would cost ~75 MB of RSS in the serve process
 * (docs/benchmarks.md) for four verbs.
 */
import { fetch } from 'undici'
import type { KubeConnection } from '../facts/cluster/kubeconfig.js'

export interface ApiAnswer {
  status: number
  body: unknown
}

export interface KubeApi {
  request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, opts?: { body?: unknown; contentType?: string; query?: Record<string, string>; signal?: AbortSignal }): Promise<ApiAnswer>
}

/** A KubeApi over a KubeConnection; each request is cut after timeoutMs. */
export function kubeApi(conn: KubeConnection, timeoutMs = 10_000): KubeApi {
  return {
    async request(method, path, opts = {}) {
      const url = new URL(conn.server + path)
      for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v)
      const { headers, dispatcher } = await conn.prepare()
      const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs)
      const res = await fetch(url, {
        method,
        headers: { ...headers, accept: 'application/json', ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}) },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        ...(dispatcher ? { dispatcher } : {}),
        signal,
      })
      const text = await res.text()
      let body: unknown = text
      try {
        body = text ? JSON.parse(text) : undefined
      } catch {
        // not JSON: kept as text
      }
      return { status: res.status, body }
    },
  }
}

/** A short description of a failed answer, for logs and errors. */
export function describeAnswer(a: ApiAnswer): string {
  const b = a.body as { message?: unknown } | undefined
  return `HTTP ${a.status}${typeof b?.message === 'string' ? `: ${b.message}` : ''}`
}
