// A tiny fake kube-apiserver (plain HTTP) for informer robustness tests and the memory bench:
// paginated lists and scriptable watch behaviour per resource path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KubeConfig } from '@kubernetes/client-node'

export type WatchMode =
  /** Keep the stream open and send the queued events. */
  | 'stream'
  /** Answer 410 Gone (expired resourceVersion). */
  | 'gone'
  /** Send an ERROR event with code 410 in the stream. */
  | 'gone-event'
  /** Answer HTTP 500. */
  | 'error'
  /** Accept the request and never answer. */
  | 'hang'

export interface FakeResource {
  items: unknown[]
  watch: WatchMode
  /** When true, list requests never answer. */
  hangList?: boolean
  lists: number
  watches: number
  /** Open watch responses, to push events into. */
  open: Set<ServerResponse>
}

export class FakeApiserver {
  readonly resources = new Map<string, FakeResource>()
  private server: Server | undefined
  private rv = 1000
  private readonly hung = new Set<ServerResponse>()
  port = 0

  resource(path: string, items: unknown[] = [], watch: WatchMode = 'stream'): FakeResource {
    const r: FakeResource = { items, watch, lists: 0, watches: 0, open: new Set() }
    this.resources.set(path, r)
    return r
  }

  /** Pushes a watch event to every open watch on path. */
  send(path: string, type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK', object: Record<string, unknown>): void {
    const r = this.resources.get(path)!
    const meta = (object.metadata ??= {}) as Record<string, unknown>
    meta.resourceVersion = String(++this.rv)
    const name = meta.name
    if (type === 'DELETED') r.items = r.items.filter((i) => (i as { metadata: { name: string } }).metadata.name !== name)
    else if (type !== 'BOOKMARK') r.items = [...r.items.filter((i) => (i as { metadata: { name: string } }).metadata.name !== name), object]
    for (const res of r.open) res.write(JSON.stringify({ type, object }) + '\n')
  }

  /** Ends every open watch stream (as an apiserver restart would). */
  dropWatches(): void {
    for (const r of this.resources.values()) {
      for (const res of r.open) res.destroy()
      r.open.clear()
    }
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server!.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy()
    this.dropWatches()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig()
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    })
    return kc
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    const r = this.resources.get(url.pathname)
    if (!r) {
      res.writeHead(404).end()
      return
    }
    if (url.searchParams.get('watch')) {
      r.watches++
      switch (r.watch) {
        case 'gone':
          res.writeHead(410, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 410, message: 'too old resource version' }))
          return
        case 'gone-event':
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } }) + '\n')
          return
        case 'error':
          res.writeHead(500).end('boom')
          return
        case 'hang':
          this.hung.add(res)
          return
        case 'stream':
          res.writeHead(200, { 'content-type': 'application/json' })
          res.flushHeaders()
          r.open.add(res)
          res.on('close', () => r.open.delete(res))
          return
      }
    }
    r.lists++
    if (r.hangList) {
      this.hung.add(res)
      return
    }
    const limit = Number(url.searchParams.get('limit') ?? '0') || r.items.length
    const start = Number(url.searchParams.get('continue') ?? '0')
    const page = r.items.slice(start, start + limit)
    const next = start + limit < r.items.length ? String(start + limit) : undefined
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: String(this.rv), ...(next ? { continue: next } : {}) }, items: page }))
  }
}
