/**
 * A small JSON client of the test control plane's REST API (admin client cert, keep-alive), for tests
 * that write many objects or subresources (Node status) where one kubectl process per call is too slow.
 */
import { Agent, request } from 'node:https'
import type { ControlPlane } from './control-plane.js'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 500)}`)
  }
}

export interface KubeRest {
  /** JSON request; resolves the parsed body on 2xx, rejects with ApiError otherwise. */
  call<T = any>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<T>
  close(): void
}

export function kubeRest(cp: Pick<ControlPlane, 'server' | 'caPem' | 'admin'>, maxSockets = 8): KubeRest {
  const agent = new Agent({ keepAlive: true, maxSockets, ca: cp.caPem, cert: cp.admin.certPem, key: cp.admin.keyPem })
  const call = <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      const req = request(
        new URL(path, cp.server),
        { method, agent, timeout: 60_000, headers: { accept: 'application/json', ...(data ? { 'content-type': contentType, 'content-length': data.length } : {}) } },
        (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (d: string) => (text += d))
          res.on('end', () => {
            const status = res.statusCode ?? 0
            if (status >= 200 && status < 300) resolve(text === '' ? (undefined as T) : (JSON.parse(text) as T))
            else reject(new ApiError(status, text, `${method} ${path}`))
          })
          res.on('error', reject)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`timeout ${method} ${path}`)))
      req.on('error', reject)
      req.end(data)
    })
  return { call, close: () => agent.destroy() }
}

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!, i)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
