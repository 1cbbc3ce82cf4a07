/**
 * The floor: a null admission handler with the webhook's own fastify instance (same TLS, HTTP/2 +
 * HTTP/1.1, same bounded JSON body parser; src/http/webhook-app.ts createAdmissionFastify) that
 * allows every review without looking at it: the answer carries the request's uid (the apiserver
 * rejects an answer whose uid differs), nothing else. Used twice by the bench: as the handler floor
 * (wrk/h2load against it) and as the "null webhooks" of the pod-CREATE comparison (the chart's two
 * webhook configurations pointed at it). GET /count answers the number of reviews served, so the
 * bench can see when the apiserver has started or stopped calling it. Runs the compiled code like
 * the webhook (plain JS importing dist/: `npm run build` compiles src/ only). Prints {"port":N} once
 * listening.
 *   node bench/null-server.mjs TLS_DIR [PORT]   (after npm run build)
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAdmissionFastify } from '../dist/src/http/webhook-app.js'

const dir = process.argv[2] ?? '.'
const app = createAdmissionFastify({ tls: { key: readFileSync(join(dir, 'tls.key'), 'utf8'), cert: readFileSync(join(dir, 'tls.crt'), 'utf8') } })
let served = 0
for (const path of ['/mutate', '/validate']) {
  app.post(path, async (request, reply) => {
    served++
    const uid = request.body?.request?.uid ?? ''
    return reply.code(200).header('content-type', 'application/json').send(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true}}`)
  })
}
app.get('/count', async (_request, reply) => reply.code(200).send(String(served)))
await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n')
