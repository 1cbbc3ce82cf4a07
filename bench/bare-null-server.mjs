/**
 * A second floor, below the null handler: node's own HTTP/2 + HTTP/1.1 TLS server (no fastify), same
 * key and certificate, reading the body, JSON.parse, answering an allowed review with the request's
 * uid. The difference between it and bench/null-server.mjs is fastify's per-request cost (routing,
 * hooks, the request/reply objects, the webhook's limits). Opt-in: `scripts/bench.sh --bare-floor`.
 * GET /count: reviews answered. Prints {"port":N} once listening.
 *   node bench/bare-null-server.mjs TLS_DIR [PORT]
 */
import { readFileSync } from 'node:fs'
import { createSecureServer } from 'node:http2'
import { join } from 'node:path'

const dir = process.argv[2] ?? '.'
let served = 0
const server = createSecureServer({ allowHTTP1: true, key: readFileSync(join(dir, 'tls.key')), cert: readFileSync(join(dir, 'tls.crt')) }, (req, res) => {
  if (req.method === 'GET' && req.url === '/count') return res.end(String(served))
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    served++
    let uid = ''
    try {
      uid = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.request?.uid ?? ''
    } catch {
      /* answered with an empty uid */
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true}}`)
  })
})
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
