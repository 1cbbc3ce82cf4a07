/**
 * A fault injector: a tiny HTTP server on 127.0.0.1 that misbehaves the ways a real registry
 * cannot be made to (429, malformed JSON, wrong digests, redirect loops, redirects to cloud
 * metadata, oversized manifests, stalls). It is not a fake registry: each route does one fault.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

export type FaultHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void

export interface FaultServer {
  host: string
  url: string
  /** Requests seen, by path. */
  requests: string[]
  stop(): Promise<void>
}

/** Routes are matched by `pathname.startsWith(prefix)`, longest prefix first. `/v2/` answers 200. */
export async function startFaultServer(routes: Record<string, FaultHandler>): Promise<FaultServer> {
  const requests: string[] = []
  const prefixes = Object.keys(routes).sort((a, b) => b.length - a.length)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fault.invalid')
    requests.push(url.pathname)
    const p = prefixes.find((x) => url.pathname.startsWith(x))
    if (p !== undefined) {
      routes[p]!(req, res, url)
      return
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}')
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'no route' }] }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
