import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { constants as http2Constants } from 'node:http2'
import type { Logger } from 'pino'
import { encodeReview } from '../admission/encode.js'
import { apiVersionOf, uidOf } from '../admission/decode.js'
import { failureAnswer, runReview, type PipelineDeps, type ReviewResult } from '../pipeline.js'
import type { Endpoint } from '../domain/endpoint.js'
import { BodyTooLargeError, readJsonBody, REVIEW_BODY_LIMIT } from './body.js'
import { DeadlineSignals } from './deadline-signals.js'
import { WasmAdmissionError, isWasmAdmissionError } from '../errors.js'
import type { WebhookMetrics } from '../metrics/metrics.js'

/** A body that could not be read or parsed, handed to the route instead of thrown. */
export class BodyFailure {
  constructor(readonly error: Error) {}
}

export interface WebhookAppOptions {
  tls: { key: string; cert: string }
  deps: PipelineDeps
  logger: Logger
  /** Logger of the one line per review (default: logger); serve passes log/logger.ts requestLineLogger(logger). */
  requestLogger?: Logger
  metrics: WebhookMetrics
  /** Monotonic clock in ms (performance.now in production). */
  now: () => number
  bodyLimit?: number
  /** Server limits, set on purpose: slow or idle clients are cut off (see WEBHOOK_TIMEOUTS). */
  timeouts?: Partial<WebhookTimeouts>
}

export interface WebhookTimeouts {
  /** TLS handshake must finish within this (tls handshakeTimeout). */
  handshakeMs: number
  /** HTTP/1.1: all request headers within this from the first byte (node headersTimeout). */
  headersMs: number
  /** Whole request (headers and body) within this, HTTP/1.1 (node requestTimeout) and HTTP/2 (per stream). */
  requestMs: number
  /** HTTP/1.1: an idle keep-alive connection is closed after this. */
  keepAliveMs: number
  /** Socket inactivity limit (server.setTimeout). */
  connectionMs: number
  /** HTTP/2 session inactivity limit. */
  http2SessionMs: number
  /** How often node checks headersMs/requestMs on HTTP/1.1 connections. */
  checkIntervalMs: number
}

/**
 * The limits, on purpose. The apiserver sends a whole review at once and waits at most 30 s (the
 * largest timeoutSeconds), so a request still incomplete after 30 s is not from a waiting apiserver:
 * headers get 10 s, a whole request 30 s, a TLS handshake 10 s. Idle limits keep apiserver
 * connections alive between reviews, and are longer than the apiserver's own idle limit (Go's
 * http.Transport IdleConnTimeout, 90 s, which client-go keeps), so that the client, not the server,
 * closes an idle connection: a server closing an idle HTTP/1.1 connection races with a review the
 * client is writing on it, and net/http does not retry a POST whose bytes went out (the apiserver
 * calls Service webhooks over HTTP/1.1). Closing an idle HTTP/2 session is a GOAWAY, which its
 * transport handles without failing a request. At shutdown, see connection-drain.ts.
 *
 * fastify does not apply requestTimeout/keepAliveTimeout when `http2: true`; node's own defaults for
 * the HTTP/1.1 fallback would then be headers 60 s, request 300 s, keep-alive 5 s, and HTTP/2 streams
 * would have no whole-request limit at all (a body dripping a byte a second keeps the session active).
 * So they are passed to the server explicitly, and HTTP/2 streams get their own request timer.
 */
export const WEBHOOK_TIMEOUTS: WebhookTimeouts = {
  handshakeMs: 10_000,
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 120_000,
  connectionMs: 120_000,
  http2SessionMs: 132_000,
  checkIntervalMs: 1_000,
}

/**
 * The fastify instance of the admission listener without its routes: TLS (HTTP/2 and HTTP/1.1 on
 * one port, TLS >= 1.2), the limits, and the bounded JSON body parser (a bad body arrives at the
 * route as a BodyFailure value). Shared with the bench's null handler (bench/null-server.mjs), so
 * that the floor it measures has exactly the same TLS, limits and body parsing.
 */
export function createAdmissionFastify(opts: Pick<WebhookAppOptions, 'tls' | 'bodyLimit' | 'timeouts'> & { logger?: Logger }): FastifyInstance {
  const t: WebhookTimeouts = { ...WEBHOOK_TIMEOUTS, ...(opts.timeouts ?? {}) }
  const app = Fastify({
    http2: true,
    // The node server reads the HTTP/1.1 limits from these options (fastify would not set them for http2).
    https: {
      allowHTTP1: true,
      key: opts.tls.key,
      cert: opts.tls.cert,
      minVersion: 'TLSv1.2',
      handshakeTimeout: t.handshakeMs,
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: t.checkIntervalMs,
    } as import('node:http2').SecureServerOptions,
    logger: false,
    bodyLimit: opts.bodyLimit ?? REVIEW_BODY_LIMIT,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionTimeout: t.connectionMs,
    http2SessionTimeout: t.http2SessionMs,
    // Requests arriving on open connections while closing are still answered with a review.
    return503OnClosing: false,
  }) as unknown as FastifyInstance

  // A bad body does not need the connection closed: the failure is handed to the route as a value
  // and answered there, and keep-alive connections and HTTP/2 sessions stay usable. A body over the
  // limit is answered (413) as soon as the limit is passed, before it has all arrived; what is left
  // of it is dealt with once the answer is out (onResponse below).
  // HTTP/2 streams: a whole-request limit (node's requestTimeout only covers HTTP/1.1). A stream
  // still unanswered after requestMs is cancelled (RST_STREAM CANCEL); the session stays usable.
  app.addHook('onRequest', (request, reply, done) => {
    const stream = (request.raw as unknown as { stream?: import('node:http2').ServerHttp2Stream }).stream
    if (stream !== undefined) {
      const timer = setTimeout(() => {
        if (!reply.sent && !stream.destroyed) {
          opts.logger?.warn({ endpoint: request.url }, `HTTP/2 request not complete within ${t.requestMs} ms: stream cancelled`)
          stream.close(http2Constants.NGHTTP2_CANCEL)
        }
      }, t.requestMs)
      stream.once('close', () => clearTimeout(timer))
      // An answer sent before the request body ended (a 413): once it is out, the stream is reset
      // with NO_ERROR, as RFC 9113 section 8.1 provides ("a server MAY request that the client abort
      // transmission of a request without error by sending a RST_STREAM with an error code of
      // NO_ERROR after sending a complete response"). The rest of the body is never read.
      // (The compat response's own 'finish' only comes when the stream closes, so the stream's is used.)
      stream.once('finish', () => {
        if (!request.raw.readableEnded && !stream.destroyed) stream.close(http2Constants.NGHTTP2_NO_ERROR)
      })
    }
    done()
  })

  // After an answer sent before the request body ended (a 413), HTTP/1.1 has no way to tell the
  // client to stop sending, so the rest is read and dropped (what node does for an unread body) to
  // keep the connection usable; node's requestTimeout still bounds it. (HTTP/2: see onRequest.)
  app.addHook('onResponse', (request, _reply, done) => {
    const raw = request.raw as unknown as import('node:stream').Readable & { stream?: unknown }
    if (raw.stream === undefined && !raw.readableEnded) raw.resume()
    done()
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, payload, done) => {
    readJsonBody(payload, opts.bodyLimit ?? REVIEW_BODY_LIMIT).then((b) => done(null, b), (e: Error) => done(null, new BodyFailure(e)))
  })
  return app
}

/** The HTTPS admission listener (HTTP/2 and HTTP/1.1 on one port). Routes: POST /mutate, POST /validate. */
export function buildWebhookApp(opts: WebhookAppOptions): FastifyInstance {
  const app = createAdmissionFastify(opts)
  const requestLog = opts.requestLogger ?? opts.logger
  const deadlines = new DeadlineSignals(opts.deps.deadlineMs)

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
    const a = failureAnswer(endpoint, wrapped)
    return send(reply, 200, encodeReview(apiVersionOf(body), uidOf(body), a))
  })

  for (const endpoint of ['mutate', 'validate'] as const) {
    app.post(`/${endpoint}`, async (request, reply) => {
      if (request.body instanceof BodyFailure) return answerBodyFailure(reply, endpoint, request.body.error)
      if (request.body === undefined) return answerBodyFailure(reply, endpoint, new WasmAdmissionError('WA_ERR_BODY_UNPARSEABLE', ['body is empty']))
      const started = opts.now()
      const deadline = deadlines.acquire()
      let result: ReviewResult
      try {
        result = await runReview(endpoint, request.body, opts.deps, deadline)
      } finally {
        deadline.release()
      }
      const durationMs = opts.now() - started
      // The answer goes out first: the log line (written at the end of this event-loop turn,
      // log/turn-batched-destination.ts) and the metrics are bookkeeping the apiserver need not wait for.
      const sent = send(reply, result.httpStatus, result.review)
      const fields = { ...result.log, duration_ms: Math.round(durationMs * 1000) / 1000 }
      if (result.error) opts.logger.error({ ...fields, code: (result.error as WasmAdmissionError).code, err: result.error }, 'admission review failed')
      else requestLog.info(fields, 'admission review')
      opts.metrics.requests.inc({ endpoint, operation: fields.operation || 'unknown', decision: fields.decision, mode: fields.mode || 'none' })
      opts.metrics.duration.observe({ endpoint }, durationMs / 1000)
      return sent
    })
  }
  return app
}
