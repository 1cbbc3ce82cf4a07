import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { encodeReview } from '../admission/encode.js'
import { apiVersionOf, uidOf } from '../admission/decode.js'
import { failureAnswer, runReview, type PipelineDeps } from '../pipeline.js'
import type { Endpoint } from '../policy/decide.js'
import { BodyTooLargeError, readJsonBody, REVIEW_BODY_LIMIT } from './body.js'
import { WasmAdmissionError, isWasmAdmissionError } from '../errors.js'
import type { WebhookMetrics } from '../metrics/metrics.js'

/** A body that could not be read or parsed, handed to the route instead of thrown. */
class BodyFailure {
  constructor(readonly error: Error) {}
}

export interface WebhookAppOptions {
  tls: { key: string; cert: string }
  deps: PipelineDeps
  logger: Logger
  metrics: WebhookMetrics
  /** Monotonic clock in ms (performance.now in production). */
  now: () => number
  bodyLimit?: number
  /** Server limits, set on purpose: slow or idle clients are cut off. */
  timeouts?: { requestMs?: number; keepAliveMs?: number; connectionMs?: number; http2SessionMs?: number }
}

/** The HTTPS admission listener (HTTP/2 and HTTP/1.1 on one port). Routes: POST /mutate, POST /validate. */
export function buildWebhookApp(opts: WebhookAppOptions): FastifyInstance {
  const t = opts.timeouts ?? {}
  const app = Fastify({
    http2: true,
    https: { allowHTTP1: true, key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' },
    logger: false,
    bodyLimit: opts.bodyLimit ?? REVIEW_BODY_LIMIT,
    requestTimeout: t.requestMs ?? 30_000,
    keepAliveTimeout: t.keepAliveMs ?? 60_000,
    connectionTimeout: t.connectionMs ?? 60_000,
    http2SessionTimeout: t.http2SessionMs ?? 72_000,
    // Requests arriving on open connections while closing are still answered with a review.
    return503OnClosing: false,
  }) as unknown as FastifyInstance

  // The body is always read to its end (see readJsonBody), so a bad body does not need the
  // connection closed: the failure is handed to the route as a value and answered there, and
  // keep-alive connections and HTTP/2 sessions stay usable.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, payload, done) => {
    readJsonBody(payload, opts.bodyLimit ?? REVIEW_BODY_LIMIT).then((b) => done(null, b), (e: Error) => done(null, new BodyFailure(e)))
  })

  const send = (reply: FastifyReply, status: number, body: unknown) => reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body))

  /** 413 with the uid found in the first bytes, 400 for anything unparseable. */
  const answerBodyFailure = (reply: FastifyReply, endpoint: Endpoint, error: Error) => {
    if (error instanceof BodyTooLargeError) {
      opts.logger.warn({ uid: error.uid, endpoint, code: error.code }, error.message)
      return send(reply, 413, encodeReview('admission.k8s.io/v1', error.uid, { allowed: false, code: 413, message: `wasm-admission: ${error.message} (${error.code})` }))
    }
    const e = isWasmAdmissionError(error) ? error : new WasmAdmissionError('WA_ERR_BODY_UNPARSEABLE', [error.message])
    opts.logger.warn({ uid: '', endpoint, code: e.code }, e.message)
    return send(reply, 400, encodeReview('admission.k8s.io/v1', '', { allowed: false, code: 400, message: `wasm-admission: ${e.message} (${e.code})` }))
  }

  app.setErrorHandler((error: Error, request, reply) => {
    const endpoint: Endpoint = request.url.startsWith('/validate') ? 'validate' : 'mutate'
    const body = request.body
    const wrapped = isWasmAdmissionError(error) ? error : new WasmAdmissionError('WA_ERR_INTERNAL', [error.message], { cause: error })
    opts.logger.error({ uid: uidOf(body), endpoint, code: wrapped.code, err: error }, 'admission handler failed')
    const a = failureAnswer(endpoint, wrapped, opts.deps.policy())
    return send(reply, 200, encodeReview(apiVersionOf(body), uidOf(body), a))
  })

  for (const endpoint of ['mutate', 'validate'] as const) {
    app.post(`/${endpoint}`, async (request, reply) => {
      if (request.body instanceof BodyFailure) return answerBodyFailure(reply, endpoint, request.body.error)
      if (request.body === undefined) return answerBodyFailure(reply, endpoint, new WasmAdmissionError('WA_ERR_BODY_UNPARSEABLE', ['body is empty']))
      const started = opts.now()
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), opts.deps.deadlineMs)
      try {
        const result = await runReview(endpoint, request.body, opts.deps, controller.signal)
        const durationMs = opts.now() - started
        const fields = { ...result.log, duration_ms: Math.round(durationMs * 1000) / 1000 }
        if (result.error) opts.logger.error({ ...fields, code: (result.error as WasmAdmissionError).code, err: result.error }, 'admission review failed')
        else opts.logger.info(fields, 'admission review')
        opts.metrics.requests.inc({ endpoint, operation: fields.operation || 'unknown', decision: fields.decision, mode: fields.mode || 'none' })
        opts.metrics.duration.observe({ endpoint }, durationMs / 1000)
        return send(reply, result.httpStatus, result.review)
      } finally {
        clearTimeout(timer)
      }
    })
  }
  return app
}
