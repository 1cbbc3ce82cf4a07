/**
 * Proxies in front of real parts, for counting and fault injection (tests and bench/):
 *
 *  - startCountingProxy(upstream): plain-HTTP reverse proxy in front of the real registry; counts
 *    every request by method and path, and can hold matching requests behind a gate.
 *  - startApiserverProxy(cp): TLS-terminating reverse proxy in front of the real kube-apiserver
 *    (it authenticates upstream with the admin client certificate, so clients only need its CA).
 *    It records every request (list, watch, get), and injects faults per resource path: hang
 *    (accept, never answer), HTTP 500, reset (destroy the connection), and `oldResourceVersion`
 *    (rewrite a watch's resourceVersion to one etcd has compacted away, so the real apiserver
 *    answers 410 Gone itself). pause() stops forwarding bytes of open streams (a hung watch).
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer, request as httpsRequest, Agent as HttpsAgent } from 'node:https'
import type { Socket } from 'node:net'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { issueServingCert, makeCa, type TestCa } from '../helpers/tls.js'

export interface ProxiedRequest {
  method: string
  path: string
  query: URLSearchParams
  watch: boolean
  at: number
  /** HTTP status of the answer (0 until it came). */
  status: number
}

function listen(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
}

function trackSockets(server: HttpServer): Set<Socket> {
  const sockets = new Set<Socket>()
  const add = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  }
  server.on('connection', add)
  server.on('secureConnection', add)
  return sockets
}

// ------------------------------------------------------------------ registry (plain HTTP)

export interface CountingProxy {
  host: string
  port: number
  requests: ProxiedRequest[]
  /** Requests whose path matches. */
  count(match?: RegExp, method?: string): number
  /** Holds requests whose path matches until open() (or until the returned function is called). */
  gate(match: RegExp): { open(): void; waiting(): number }
  reset(): void
  stop(): Promise<void>
}

export async function startCountingProxy(upstream: { host: string; port: number }): Promise<CountingProxy> {
  const requests: ProxiedRequest[] = []
  const gates: Array<{ match: RegExp; opened: boolean; queue: Array<() => void> }> = []
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const up = httpRequest({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: `${upstream.host}:${upstream.port}` } }, (ur) => {
      // Location headers point at the upstream; rewrite them to us so redirects come back here.
      const headers = { ...ur.headers }
      res.writeHead(ur.statusCode ?? 502, headers)
      ur.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  }
  const server = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    requests.push({ method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, watch: false, at: Date.now(), status: 0 })
    const g = gates.find((g) => !g.opened && g.match.test(u.pathname))
    if (g) g.queue.push(() => forward(req, res))
    else forward(req, res)
  })
  server.keepAliveTimeout = 60_000
  const sockets = trackSockets(server)
  const port = await listen(server)
  return {
    host: `127.0.0.1:${port}`,
    port,
    requests,
    count: (match, method) => requests.filter((r) => (!match || match.test(r.path)) && (!method || r.method === method)).length,
    gate(match) {
      const g = { match, opened: false, queue: [] as Array<() => void> }
      gates.push(g)
      return {
        open: () => {
          g.opened = true
          for (const f of g.queue.splice(0)) f()
        },
        waiting: () => g.queue.length,
      }
    },
    reset: () => void (requests.length = 0),
    stop: async () => {
      for (const g of gates) {
        g.opened = true
        for (const f of g.queue.splice(0)) f()
      }
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

// ------------------------------------------------------------------ kube-apiserver (HTTPS, terminating)

export type FaultMode = 'pass' | 'hang' | 'error' | 'reset' | 'oldResourceVersion' | 'gone'

export interface PathFaults {
  /** What happens to watch requests on this path. */
  watch?: FaultMode
  /** What happens to list (non-watch GET) requests on this path. */
  list?: FaultMode
  /** resourceVersion used by the oldResourceVersion mode. */
  oldResourceVersion?: string
}

export interface ApiserverProxy {
  server: string
  port: number
  ca: TestCa
  /** A kubeconfig file pointing at the proxy (token user; the proxy authenticates upstream). */
  kubeconfigPath: string
  requests: ProxiedRequest[]
  /** Faults by exact resource path (e.g. /api/v1/nodes). */
  faults: Map<string, PathFaults>
  /** Open watch responses by path. */
  openWatches(path?: string): number
  /** Ends the open watch streams on path (all paths when omitted), as an apiserver restart would. */
  dropWatches(path?: string): void
  /** Stops forwarding bytes on every open stream (watches look hung: no event, no bookmark, no close). */
  pause(): void
  resume(): void
  /** Destroys every client connection (as a load balancer reset would). */
  resetConnections(): void
  count(filter: (r: ProxiedRequest) => boolean): number
  stop(): Promise<void>
}

export async function startApiserverProxy(cp: { server: string; kubeconfigPath: string }): Promise<ApiserverProxy> {
  const kc = parseYaml(readFileSync(cp.kubeconfigPath, 'utf8')) as {
    clusters: Array<{ cluster: { 'certificate-authority-data': string } }>
    users: Array<{ user: { 'client-certificate-data': string; 'client-key-data': string } }>
  }
  const b64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8')
  const upstream = new URL(cp.server)
  const agent = new HttpsAgent({
    keepAlive: true,
    ca: b64(kc.clusters[0]!.cluster['certificate-authority-data']),
    cert: b64(kc.users[0]!.user['client-certificate-data']),
    key: b64(kc.users[0]!.user['client-key-data']),
  })
  const ca = makeCa('wasm-admission-proxy-ca')
  const tlsDir = mkdtempSync(join(tmpdir(), 'wa-proxy-tls-'))
  const pair = issueServingCert(ca, tlsDir, 'apiserver-proxy')
  const requests: ProxiedRequest[] = []
  const faults = new Map<string, PathFaults>()
  const open = new Map<ServerResponse, string>()
  const hung = new Set<ServerResponse>()
  let paused = false
  const pausedStreams = new Map<IncomingMessage, () => void>()
  const streams = new Set<IncomingMessage>()

  const server = createHttpsServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    const u = new URL(req.url ?? '/', 'https://x')
    const watch = u.searchParams.get('watch') === '1' || u.searchParams.get('watch') === 'true'
    const rec: ProxiedRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, watch, at: Date.now(), status: 0 }
    requests.push(rec)
    const f = faults.get(u.pathname)
    const mode = (watch ? f?.watch : req.method === 'GET' ? f?.list : undefined) ?? 'pass'
    switch (mode) {
      case 'hang':
        hung.add(res)
        res.on('close', () => hung.delete(res))
        return
      case 'error':
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'injected by the test proxy', code: 500 }))
        return
      case 'gone':
        // The one injected answer: kube-apiserver 1.36 reports an expired watch resourceVersion as an
        // ERROR event (code 410) in a 200 stream, never as an HTTP 410 status; clients must handle both.
        res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'too old resource version (injected)', reason: 'Expired', code: 410 }))
        return
      case 'reset':
        req.socket.destroy()
        return
      case 'oldResourceVersion':
        u.searchParams.set('resourceVersion', f?.oldResourceVersion ?? '1')
        break
      case 'pass':
        break
    }
    const headers = { ...req.headers, host: upstream.host }
    delete headers.authorization
    const up = httpsRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: u.pathname + u.search, headers, agent }, (ur) => {
      rec.status = ur.statusCode ?? 502
      res.writeHead(ur.statusCode ?? 502, ur.headers)
      // Headers now: a quiet watch answers with headers and no body for minutes.
      res.flushHeaders()
      if (watch) {
        open.set(res, u.pathname)
        res.on('close', () => open.delete(res))
      }
      const held: Buffer[] = []
      // An upstream that ends while its last bytes are held (a paused stream still emits 'end')
      // ends the client's response only after they are forwarded: a paused stream is hung, never
      // a truncated body.
      let endHeld = false
      streams.add(ur)
      ur.on('close', () => streams.delete(ur))
      ur.on('data', (c: Buffer) => {
        if (paused) {
          held.push(c)
          ur.pause()
          pausedStreams.set(ur, () => {
            for (const h of held.splice(0)) res.write(h)
            if (endHeld) res.end()
            else ur.resume()
          })
          return
        }
        if (!res.write(c)) {
          ur.pause()
          res.once('drain', () => !paused && ur.resume())
        }
      })
      ur.on('end', () => {
        if (held.length > 0) endHeld = true
        else res.end()
      })
      ur.on('error', () => res.destroy())
      res.on('close', () => ur.destroy())
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  server.keepAliveTimeout = 60_000
  const sockets = trackSockets(server)
  const port = await listen(server)
  const url = `https://127.0.0.1:${port}`
  const kubeconfigPath = join(tlsDir, 'proxy.kubeconfig')
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: proxy',
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority-data: ${Buffer.from(ca.caPem).toString('base64')}`,
      'users:',
      '- name: proxied',
      '  user:',
      '    token: proxied-by-the-test-proxy',
      'contexts:',
      '- name: proxy',
      '  context: { cluster: proxy, user: proxied }',
      'current-context: proxy',
      '',
    ].join('\n'),
  )
  return {
    server: url,
    port,
    ca,
    kubeconfigPath,
    requests,
    faults,
    openWatches: (path) => [...open.values()].filter((p) => !path || p === path).length,
    dropWatches: (path) => {
      for (const [res, p] of open) if (!path || p === path) res.destroy()
    },
    pause: () => {
      paused = true
      for (const s of streams) s.pause()
    },
    resume: () => {
      paused = false
      for (const s of streams) if (!pausedStreams.has(s)) s.resume()
      for (const f of pausedStreams.values()) f()
      pausedStreams.clear()
    },
    resetConnections: () => {
      for (const s of sockets) s.destroy()
    },
    count: (filter) => requests.filter(filter).length,
    stop: async () => {
      for (const r of hung) r.destroy()
      for (const s of sockets) s.destroy()
      agent.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/**
 * Compacts etcd's history up to its current revision through etcd's JSON gateway (no etcdctl
 * needed), so any older resourceVersion is gone for the apiserver too. Returns the revision.
 */
export async function compactEtcd(etcdUrl: string): Promise<number> {
  const post = async (path: string, body: unknown): Promise<Record<string, any>> => {
    const r = await fetch(etcdUrl + path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    const text = await r.text()
    if (!r.ok) throw new Error(`etcd ${path}: HTTP ${r.status} ${text}`)
    return JSON.parse(text) as Record<string, any>
  }
  // A range read of one key returns the header with the current revision.
  const st = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 })
  const rev = Number(st.header?.revision)
  await post('/v3/kv/compaction', { revision: String(rev), physical: true })
  return rev
}
