/**
 * The floor: a null admission handler with the webhook's own fastify instance (same TLS, HTTP/2 +
 * HTTP/1.1, same bounded JSON body parser; src/http/webhook-app.ts createAdmissionFastify) that
 * answers every POST with a fixed allowed AdmissionReview. Runs the compiled code like the webhook
 * (plain JS importing dist/: `npm run build` compiles src/ only). Prints {"port":N} once listening.
 *   node bench/null-server.mjs TLS_DIR [PORT]   (after npm run build)
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAdmissionFastify } from '../dist/src/http/webhook-app.js'

const dir = process.argv[2] ?? '.'
const app = createAdmissionFastify({ tls: { key: readFileSync(join(dir, 'tls.key'), 'utf8'), cert: readFileSync(join(dir, 'tls.crt'), 'utf8') } })
const answer = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '00000000-0000-0000-0000-000000000000', allowed: true } })
for (const path of ['/mutate', '/validate']) {
  app.post(path, async (_request, reply) => reply.code(200).header('content-type', 'application/json').send(answer))
}
await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n')
