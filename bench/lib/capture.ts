// A capturing admission webhook: records the AdmissionReview bodies the real apiserver sends and
// allows everything. Registered through the chart in url mode, like the real webhook.
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import { join } from 'node:path'

export interface Capture {
  url: string
  /** Raw bodies by endpoint and object name. */
  bodies: Map<string, string>
  stop(): Promise<void>
}

export async function startCapture(tlsDir: string): Promise<Capture> {
  const bodies = new Map<string, string>()
  const server: Server = createServer({ key: readFileSync(join(tlsDir, 'tls.key')), cert: readFileSync(join(tlsDir, 'tls.crt')) }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const review = JSON.parse(raw) as { apiVersion: string; request: { uid: string; name?: string; object?: { metadata?: { name?: string } } } }
      const name = review.request.name || review.request.object?.metadata?.name || ''
      bodies.set(`${(req.url ?? '').replace(/^\//, '').split('?')[0]}/${name}`, raw)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    url: `https://127.0.0.1:${port}`,
    bodies,
    stop: () => new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    }),
  }
}
