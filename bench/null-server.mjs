/**
 * The floor: a null admission handler with the webhook's own fastify instance (same TLS, HTTP/2 +
 * HTTP/1.1, same bounded JSON body parser; src/http/webhook-app.ts createAdmissionFastify) that
 * allows every review without looking at it: the answer carries the request's uid (the apiserver
 * rejects an answer whose uid differs), nothing else. Used twice by the bench: as the handler floor
 * (wrk/h2load against it) and as the "null webhooks" of the pod-CREATE comparison (the chart's two
 * webhook configurations pointed at it). GET /count answers the number of reviews served, so the
 * bench can see when the apiserver has started or stopped calling it; GET /connections the TLS
 * connections accepted, HTTP/2 sessions opened, reviews served and those over HTTP/2 so far
 * ({"tls":N,"h2":M,"reviews":R,"h2Reviews":H}), so the bench can tell whether the apiserver reuses its
 * connections and which protocol it speaks.
 *
 * Under /patch (/patch/mutate, /patch/validate) it is the "null webhooks with the patch" floor: the
 * mutating answer carries a constant JSON patch, set once by the bench with PUT /patch (the body is
 * the patch, a JSON array: the one wasm-admission answers for the bench's pod), still without looking
 * at the review. That isolates what the apiserver spends on applying a patch (and on what follows
 * from it: the second pass of its in-tree admission plugins, a larger pod) from the handler's work.
 *
 * Under /patch-min (/patch-min/mutate, /patch-min/validate) the mutating answer is the smallest patch
 * that changes a pod: one annotation added (`add /metadata/annotations/bench-floor`, the bench's pods
 * have annotations). Against /patch, it tells the cost of a patch as such from the cost of what
 * wasm-admission's patch sets (a RuntimeClass, its scheduling, a command).
 *
 * Under /patch-slow the answers are /patch's, each sent after a wait (PUT /slow-ms, a JSON number):
 * the patch floor answering as late as a slower handler, without its CPU.
 *
 * Runs the compiled code like the webhook (plain JS importing dist/: `npm run build` compiles src/
 * only). Prints {"port":N} once listening.
 *   node bench/null-server.mjs TLS_DIR [PORT]   (after npm run build)
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createAdmissionFastify } from '../dist/src/http/webhook-app.js'

const dir = process.argv[2] ?? '.'
const app = createAdmissionFastify({ tls: { key: readFileSync(join(dir, 'tls.key'), 'utf8'), cert: readFileSync(join(dir, 'tls.crt'), 'utf8') } })
let served = 0
let tlsConnections = 0
let h2Sessions = 0
/** Reviews served over HTTP/2 (the rest over HTTP/1.1). */
let h2Reviews = 0
app.server.on('secureConnection', () => tlsConnections++)
app.server.on('session', () => h2Sessions++)
/** ,"patchType":"JSONPatch","patch":"<base64>" once PUT /patch has set one; empty before. */
let patchFields = ''
const allow = (uid, extra = '') => `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true${extra}}}`
const minPatchFields = `,"patchType":"JSONPatch","patch":${JSON.stringify(Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/annotations/bench-floor', value: 'x' }])).toString('base64'))}`
/** Wall time (ms) the /patch-slow answers wait before they are sent, without CPU (PUT /slow-ms). */
let slowMs = 0
for (const path of ['/mutate', '/validate', '/patch/mutate', '/patch/validate', '/patch-min/mutate', '/patch-min/validate', '/patch-slow/mutate', '/patch-slow/validate']) {
  const extra = () => (path === '/patch/mutate' || path === '/patch-slow/mutate' ? patchFields : path === '/patch-min/mutate' ? minPatchFields : '')
  const slow = path.startsWith('/patch-slow/')
  app.post(path, async (request, reply) => {
    if (slow && slowMs > 0) await new Promise((r) => setTimeout(r, slowMs))
    served++
    if (request.raw.httpVersionMajor === 2) h2Reviews++
    const uid = request.body?.request?.uid ?? ''
    return reply.code(200).header('content-type', 'application/json').send(allow(uid, extra()))
  })
}
app.put('/patch', async (request, reply) => {
  const ops = request.body
  if (!Array.isArray(ops)) return reply.code(400).send('a JSON patch (array) expected')
  patchFields = `,"patchType":"JSONPatch","patch":${JSON.stringify(Buffer.from(JSON.stringify(ops)).toString('base64'))}`
  return reply.code(204).send()
})
app.put('/slow-ms', async (request, reply) => {
  slowMs = Number(request.body)
  return reply.code(204).send()
})
app.get('/count', async (_request, reply) => reply.code(200).send(String(served)))
app.get('/connections', async (_request, reply) => reply.code(200).send(JSON.stringify({ tls: tlsConnections, h2: h2Sessions, reviews: served, h2Reviews })))
await app.listen({ port: Number(process.argv[3] ?? 0), host: '127.0.0.1' })
const addr = app.server.address()
process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n')
