/**
 * HTTP transport to registries on undici: one request with redirects, the size-limited body,
 * and the mapping of network failures to WA_ERR_IMAGE_* errors.
 *
 * - Plain HTTP only to operator-listed hosts (and mirrors the operator wrote with http://).
 * - TLS: Node's roots plus the operator's CA bundles; per-host CA / skip_verify from hosts.toml.
 * - SSRF guard on every connection (IP literals before the request, names in the connect
 *   lookup, the connected address once more), including redirect targets.
 * - Limits: redirect count, per-request timeout bounded by the caller's AbortSignal,
 *   per-host concurrency cap.
 * - Credentials never leave their origin on a redirect and never appear in errors.
 */
import { rootCertificates } from 'node:tls'
import { Agent, buildConnector, request, type Dispatcher } from 'undici'
import { WasmAdmissionError } from '../../errors.js'
import type { ImageLookupContext } from '../../domain/facts.js'
import { endpointsFor, hostKey, type Endpoint, type HostsConfig } from './hosts.js'
import type { RegistryRequestKind, RegistryRequestObserver } from './metrics.js'
import { findHostBlocked, HostBlockedError, type SsrfGuard } from './ssrf-guard.js'

/** What one request needs from its caller. */
export interface RequestContext {
  /** Aborted at the admission deadline. */
  signal: AbortSignal
  /** The image as written, used in error messages. */
  subject: string
  /** The admission context, for credential providers that read pull secrets. */
  lookup?: Pick<ImageLookupContext, 'namespace' | 'pullSecretNames' | 'serviceAccountName'>
}

export interface TransportLimits {
  /** Max redirects per request. */
  maxRedirects: number
  /** Upper bound per HTTP request in ms; the caller's signal may end it sooner. */
  requestTimeoutMs: number
  /** Concurrent requests per registry host. */
  concurrencyPerRegistry: number
}

export interface TransportOptions {
  limits: TransportLimits
  guard: SsrfGuard
  /** Mirrors and per-host TLS settings (hosts.toml). */
  hosts: HostsConfig | undefined
  /** Registry hosts (`host[:port]`) reached over plain HTTP. */
  plainHttp: readonly string[]
  /** Extra PEM CA certificates trusted for every https registry. */
  caBundle: readonly string[]
  userAgent: string
  observer: RegistryRequestObserver | undefined
}

export type Resp = Dispatcher.ResponseData

export function header(resp: Resp, name: string): string | undefined {
  const v = resp.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Redacted URL for messages: host + path, never the query (presigned URLs carry secrets). */
const redact = (u: URL): string => `${u.protocol}//${u.host}${u.pathname}`

/** Drains a response body that is not read. */
export const dump = async (resp: Resp): Promise<void> => {
  await resp.body.dump().catch(() => undefined)
}

class Semaphore {
  private active = 0
  private readonly waiters: Array<() => void> = []
  constructor(private readonly max: number) {}

  async acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw signal.reason
    if (this.active < this.max) {
      this.active++
      return this.releaser()
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiters.indexOf(wake)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(signal.reason)
      }
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      this.waiters.push(wake)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    return this.releaser()
  }

  private releaser(): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.waiters.shift()
      if (next !== undefined) next()
      else this.active--
    }
  }
}

export class RegistryTransport {
  readonly limits: TransportLimits
  /** Hosts reached over plain HTTP (lowercase, see hostKey): the operator's list plus mirrors written with http://. */
  readonly plainHttp: Set<string>
  private readonly guard: SsrfGuard
  private readonly hosts: HostsConfig | undefined
  private readonly extraCa: readonly string[]
  private readonly userAgent: string
  private readonly observer: RegistryRequestObserver | undefined
  private readonly agents = new Map<string, Agent>()
  private readonly semaphores = new Map<string, Semaphore>()
  private closed = false

  constructor(opts: TransportOptions) {
    this.limits = opts.limits
    this.guard = opts.guard
    this.hosts = opts.hosts
    this.plainHttp = new Set(opts.plainHttp.map(hostKey))
    this.extraCa = opts.caBundle
    this.userAgent = opts.userAgent
    this.observer = opts.observer
    // mirrors written with http:// by the operator are operator-listed plain-HTTP hosts
    for (const cfg of Object.values(this.hosts?.hosts ?? {})) {
      for (const u of [...(cfg.mirrors ?? []).map((m) => m.url), ...(cfg.server !== undefined ? [cfg.server] : [])]) {
        const url = new URL(u)
        if (url.protocol === 'http:') this.plainHttp.add(url.host)
      }
    }
  }

  /** Endpoints tried for a registry (mirrors first). */
  endpoints(registry: string): Endpoint[] {
    return endpointsFor(registry, this.hosts, this.plainHttp)
  }

  /** A slot of the host's concurrency cap; the caller releases it. Rejects with WA_ERR_IMAGE_DEADLINE. */
  async acquire(host: string, ctx: RequestContext): Promise<() => void> {
    let s = this.semaphores.get(host)
    if (s === undefined) {
      s = new Semaphore(this.limits.concurrencyPerRegistry)
      this.semaphores.set(host, s)
    }
    try {
      return await s.acquire(ctx.signal)
    } catch {
      throw deadline(ctx)
    }
  }

  /** Sends one request, following redirects with checks at every hop. */
  async send(
    start: URL,
    headers: Record<string, string>,
    metricHost: string,
    kind: RegistryRequestKind,
    ctx: RequestContext,
    method: 'GET' | 'POST' = 'GET',
    body?: string,
  ): Promise<Resp> {
    if (this.closed) throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, 'registry client is closed'])
    const t0 = performance.now()
    let code = 'error'
    const seen = new Set<string>()
    let url = start
    let hdrs = { 'user-agent': this.userAgent, ...headers }
    let currentMethod = method
    let currentBody = body
    try {
      for (let hop = 0; ; hop++) {
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          throw new WasmAdmissionError('WA_ERR_IMAGE_REDIRECT', [ctx.subject, `unsupported scheme ${url.protocol}`])
        }
        try {
          this.guard.checkLiteral(url.hostname)
        } catch (e) {
          code = 'blocked'
          const hb = e as HostBlockedError
          throw new WasmAdmissionError('WA_ERR_IMAGE_HOST_BLOCKED', [url.host, hop > 0 ? `redirect from ${start.host} to ${hb.detail}` : hb.detail])
        }
        if (url.protocol === 'http:' && !this.plainHttp.has(url.host)) {
          if (hop === 0) throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `plain HTTP to ${url.host} is not allowed (not listed by the operator)`])
          throw new WasmAdmissionError('WA_ERR_IMAGE_REDIRECT', [ctx.subject, `redirect to plain HTTP ${redact(url)} refused`])
        }
        if (seen.has(url.href)) throw new WasmAdmissionError('WA_ERR_IMAGE_REDIRECT', [ctx.subject, `redirect loop at ${redact(url)}`])
        seen.add(url.href)
        const perRequest = AbortSignal.timeout(this.limits.requestTimeoutMs)
        const signal = AbortSignal.any([ctx.signal, perRequest])
        let resp: Resp
        try {
          resp = await request(url, {
            method: currentMethod,
            headers: hdrs,
            ...(currentBody !== undefined ? { body: currentBody } : {}),
            signal,
            dispatcher: this.agentFor(url),
          })
        } catch (e) {
          if (!ctx.signal.aborted && perRequest.aborted) code = 'timeout'
          const hb = findHostBlocked(e)
          if (hb !== undefined) {
            code = 'blocked'
            throw new WasmAdmissionError('WA_ERR_IMAGE_HOST_BLOCKED', [url.host, hop > 0 ? `redirect from ${start.host}: ${hb.detail}` : hb.detail])
          }
          throw this.mapError(e, ctx, url.host)
        }
        code = String(resp.statusCode)
        const location = header(resp, 'location')
        if (resp.statusCode >= 300 && resp.statusCode < 400 && resp.statusCode !== 304 && location !== undefined) {
          await dump(resp)
          if (hop >= this.limits.maxRedirects) {
            throw new WasmAdmissionError('WA_ERR_IMAGE_REDIRECT', [ctx.subject, `more than ${this.limits.maxRedirects} redirects`])
          }
          let next: URL
          try {
            next = new URL(location, url)
          } catch {
            throw new WasmAdmissionError('WA_ERR_IMAGE_REDIRECT', [ctx.subject, 'invalid Location header'])
          }
          // Never forward credentials to another origin (blob storage redirects).
          if (next.origin !== url.origin) {
            const { authorization: _drop, ...rest } = hdrs as Record<string, string>
            hdrs = rest as typeof hdrs
          }
          if (resp.statusCode === 303 || ((resp.statusCode === 301 || resp.statusCode === 302) && currentMethod === 'POST')) {
            currentMethod = 'GET'
            currentBody = undefined
          }
          url = next
          continue
        }
        return resp
      }
    } finally {
      this.observer?.onRequest(metricHost, kind, code, (performance.now() - t0) / 1000)
    }
  }

  /** Reads a body of at most maxBytes (WA_ERR_IMAGE_TOO_LARGE beyond). */
  async readBody(resp: Resp, maxBytes: number, ctx: RequestContext): Promise<Uint8Array> {
    const len = Number(header(resp, 'content-length') ?? NaN)
    if (Number.isFinite(len) && len > maxBytes) {
      resp.body.destroy()
      throw new WasmAdmissionError('WA_ERR_IMAGE_TOO_LARGE', [ctx.subject, maxBytes])
    }
    const chunks: Buffer[] = []
    let total = 0
    try {
      for await (const chunk of resp.body) {
        const b = chunk as Buffer
        total += b.length
        if (total > maxBytes) {
          resp.body.destroy()
          throw new WasmAdmissionError('WA_ERR_IMAGE_TOO_LARGE', [ctx.subject, maxBytes])
        }
        chunks.push(b)
      }
    } catch (e) {
      throw this.mapError(e, ctx, '')
    }
    return new Uint8Array(Buffer.concat(chunks, total))
  }

  async close(): Promise<void> {
    this.closed = true
    const agents = [...this.agents.values()]
    this.agents.clear()
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)))
  }

  private agentFor(u: URL): Agent {
    const ep = this.endpointConfigFor(u.host)
    const key = `${u.protocol}//${u.host}`
    let a = this.agents.get(key)
    if (a === undefined) {
      const ca = [...(ep?.ca ?? []), ...this.extraCa]
      const base = buildConnector({
        lookup: this.guard.lookup,
        ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
        ...(ep?.skipVerify ? { rejectUnauthorized: false } : {}),
        timeout: this.limits.requestTimeoutMs,
      } as buildConnector.BuildOptions)
      const guard = this.guard
      // Check the address actually connected to (covers IP literals and any lookup bypass).
      const connect: buildConnector.connector = (opts, cb) => {
        base(opts, (err, socket) => {
          if (err !== null || socket === null) return cb(err ?? new Error('connect failed'), null)
          const addr = socket.remoteAddress
          if (!guard.nameAllowed(opts.hostname) && addr !== undefined) {
            const reason = guard.addressBlockReason(addr)
            if (reason !== undefined) {
              socket.destroy()
              return cb(new HostBlockedError(opts.hostname, reason), null)
            }
          }
          cb(null, socket)
        })
      }
      a = new Agent({ connect, connections: this.limits.concurrencyPerRegistry, headersTimeout: this.limits.requestTimeoutMs, bodyTimeout: this.limits.requestTimeoutMs })
      this.agents.set(key, a)
    }
    return a
  }

  private endpointConfigFor(host: string): Endpoint | undefined {
    for (const reg of Object.keys(this.hosts?.hosts ?? {})) {
      for (const ep of this.endpoints(reg)) if (ep.host === host) return ep
    }
    return undefined
  }

  /** A network failure as a coded error without credentials. */
  mapError(e: unknown, ctx: RequestContext, host: string): WasmAdmissionError {
    if (e instanceof WasmAdmissionError) return e
    if (ctx.signal.aborted) return deadline(ctx)
    const hb = findHostBlocked(e)
    if (hb !== undefined) return new WasmAdmissionError('WA_ERR_IMAGE_HOST_BLOCKED', [hb.host, hb.detail])
    const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } }
    const code = err.code ?? err.cause?.code
    let reason: string
    if (err.name === 'TimeoutError' || err.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      reason = `no response within ${this.limits.requestTimeoutMs} ms`
    } else if (code === 'ECONNREFUSED') reason = 'connection refused'
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reason = 'host name does not resolve'
    else if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') reason = 'connection reset'
    else if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED/i.test(code)) reason = `TLS error (${code})`
    else reason = code ?? err.name ?? 'request failed'
    return new WasmAdmissionError('WA_ERR_IMAGE_UNREACHABLE', [host || 'registry', reason])
  }
}

/** The caller's deadline passed. */
export function deadline(ctx: RequestContext): WasmAdmissionError {
  return new WasmAdmissionError('WA_ERR_IMAGE_DEADLINE', [ctx.subject])
}
