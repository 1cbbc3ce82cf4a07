/**
 * OCI distribution client (manifests and blobs) on undici.
 *
 * - Accept header lists OCI index + manifest and Docker list + v2 manifest.
 * - Every body is digest-checked: against the digest asked for, or for a tag against the
 *   registry's Docker-Content-Digest header when present.
 * - Auth: anonymous, bearer token challenges (tokens cached until expiry), basic;
 *   credentials come from a CredentialProvider and never appear in errors, logs or metrics.
 * - Mirrors (containerd hosts.toml semantics), CA bundles, plain HTTP only where listed.
 * - Limits: manifest/config size, redirect count, per-request timeout bounded by the caller's
 *   AbortSignal, per-registry concurrency cap.
 * - SSRF guard on every connection (IP literals before the request, names in the connect
 *   lookup, the connected address once more), including redirect targets and token realms.
 *
 * Failures are thrown as WasmAdmissionError with a WA_ERR_IMAGE_* code; the inspector turns
 * them into UnknownImageFacts.
 */
import { createHash } from 'node:crypto'
import { rootCertificates } from 'node:tls'
import { Agent, buildConnector, request, type Dispatcher } from 'undici'
import { WasmAdmissionError, type ErrorCode } from '../../errors.js'
import type { ImageLookupContext } from '../../domain/facts.js'
import { credentialId, type CredentialProvider, type RegistryCredential } from './credentials.js'
import { endpointsFor, type Endpoint, type HostsConfig } from './hosts.js'
import { MANIFEST_ACCEPT } from './media-types.js'
import type { RegistryRequestKind, RegistryRequestObserver } from './metrics.js'
import type { ImageReference } from './reference.js'
import { findHostBlocked, HostBlockedError, SsrfGuard } from './ssrf-guard.js'

export interface RegistryLimits {
  /** Max manifest / index size in bytes (default 4 MiB). */
  manifestBytes: number
  /** Max config blob size (default 1 MiB). */
  configBytes: number
  /** Max token response size (default 1 MiB). */
  tokenBytes: number
  /** Max redirects per request (default 5). */
  maxRedirects: number
  /** Upper bound per HTTP request in ms (default 10 s); the caller's signal may end it sooner. */
  requestTimeoutMs: number
  /** Concurrent requests per registry host (default 8). */
  concurrencyPerRegistry: number
}

export const DEFAULT_LIMITS: RegistryLimits = {
  manifestBytes: 4 * 1024 * 1024,
  configBytes: 1024 * 1024,
  tokenBytes: 1024 * 1024,
  maxRedirects: 5,
  requestTimeoutMs: 10_000,
  concurrencyPerRegistry: 8,
}

export interface RegistryClientOptions {
  /** Mirrors per registry (containerd hosts.toml semantics; see hosts.ts / loadHostsDir). */
  hosts?: HostsConfig
  /** Registry hosts (`host[:port]`, as in image references) reached over plain HTTP. Also allows http redirects / token realms on those hosts. */
  plainHttp?: string[]
  /** SSRF guard, or its allow-list. Default: block loopback, link-local, private, unspecified. */
  ssrf?: SsrfGuard | { allow?: string[] }
  /** Where credentials come from; default anonymous only. */
  credentials?: CredentialProvider
  /** Extra PEM CA certificates trusted for every https registry (added to Node's roots). */
  caBundle?: string | string[]
  limits?: Partial<RegistryLimits>
  userAgent?: string
  /** Request metrics hook. */
  observer?: RegistryRequestObserver
}

/** What one request needs from its caller. */
export interface RequestContext {
  /** Aborted at the admission deadline. */
  signal: AbortSignal
  /** The image as written, used in error messages. */
  subject: string
  /** The admission context, for credential providers that read pull secrets. */
  lookup?: Pick<ImageLookupContext, 'namespace' | 'pullSecretNames' | 'serviceAccountName'>
}

export interface FetchedManifest {
  /** Digest of the bytes received (verified). */
  digest: string
  /** Response Content-Type (without parameters). */
  contentType: string
  bytes: Uint8Array
  json: unknown
  /** The endpoint host that answered. */
  host: string
}

interface Challenge {
  scheme: 'bearer' | 'basic'
  params: Record<string, string>
}

interface CachedToken {
  token: string
  expiresAt: number
}

const DIGEST_ALGOS: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' }

export function computeDigest(bytes: Uint8Array, algo = 'sha256'): string {
  return `${algo}:${createHash(algo).update(bytes).digest('hex')}`
}

/** Parses a WWW-Authenticate header (first challenge). */
export function parseWwwAuthenticate(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!m) return undefined
  const scheme = m[1]!.toLowerCase()
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined
  const params: Record<string, string> = {}
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g
  let p: RegExpExecArray | null
  while ((p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!
  return { scheme, params }
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

type Resp = Dispatcher.ResponseData

/** Redacted URL for messages: host + path, never the query (presigned URLs carry secrets). */
const redact = (u: URL): string => `${u.protocol}//${u.host}${u.pathname}`

function header(resp: Resp, name: string): string | undefined {
  const v = resp.headers[name]
  return Array.isArray(v) ? v[0] : v
}

export class RegistryClient {
  readonly limits: RegistryLimits
  readonly guard: SsrfGuard
  private readonly hosts: HostsConfig | undefined
  private readonly plainHttp: Set<string>
  private readonly credentials: CredentialProvider | undefined
  private readonly extraCa: string[]
  private readonly userAgent: string
  private readonly observer: RegistryRequestObserver | undefined
  private readonly agents = new Map<string, Agent>()
  private readonly semaphores = new Map<string, Semaphore>()
  private readonly challenges = new Map<string, Challenge>()
  private readonly tokens = new Map<string, CachedToken>()
  private closed = false

  constructor(opts: RegistryClientOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) }
    this.guard = opts.ssrf instanceof SsrfGuard ? opts.ssrf : new SsrfGuard(opts.ssrf ?? {})
    this.hosts = opts.hosts
    this.plainHttp = new Set(opts.plainHttp ?? [])
    this.credentials = opts.credentials
    this.extraCa = opts.caBundle === undefined ? [] : Array.isArray(opts.caBundle) ? opts.caBundle : [opts.caBundle]
    this.userAgent = opts.userAgent ?? 'wasm-admission'
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

  /** Fetches a manifest or index by tag or digest; verifies its digest. */
  async getManifest(ref: ImageReference, reference: string, ctx: RequestContext): Promise<FetchedManifest> {
    const byDigest = reference.includes(':')
    return this.tryEndpoints(ref, byDigest ? 'pull' : 'resolve', ctx, async (ep) => {
      const url = this.url(ep, `${ref.path}/manifests/${reference}`)
      const { resp, bytes } = await this.fetchLimited(ep, url, ref, 'manifest', { accept: MANIFEST_ACCEPT }, this.limits.manifestBytes, ctx)
      const contentType = (header(resp, 'content-type') ?? '').split(';')[0]!.trim()
      let digest: string
      if (byDigest) {
        digest = this.verify(bytes, reference, ctx)
      } else {
        digest = computeDigest(bytes)
        const sent = header(resp, 'docker-content-digest')
        if (sent !== undefined && sent.startsWith('sha256:') && sent !== digest) {
          throw new WasmAdmissionError('WA_ERR_IMAGE_DIGEST_MISMATCH', [ctx.subject, sent, digest])
        }
      }
      let json: unknown
      try {
        json = JSON.parse(Buffer.from(bytes).toString('utf8'))
      } catch (e) {
        throw new WasmAdmissionError('WA_ERR_IMAGE_MALFORMED', [ctx.subject, `manifest is not valid JSON (${(e as Error).message})`])
      }
      return { digest, contentType, bytes, json, host: ep.host }
    })
  }

  /** Fetches a blob by digest (at most maxBytes); verifies its digest. */
  async getBlob(ref: ImageReference, digest: string, maxBytes: number, ctx: RequestContext): Promise<Uint8Array> {
    return this.tryEndpoints(ref, 'pull', ctx, async (ep) => {
      const url = this.url(ep, `${ref.path}/blobs/${digest}`)
      const { bytes } = await this.fetchLimited(ep, url, ref, 'blob', {}, maxBytes, ctx)
      this.verify(bytes, digest, ctx)
      return bytes
    })
  }

  /** Fetches and parses a JSON blob (image config). */
  async getJsonBlob(ref: ImageReference, digest: string, maxBytes: number, ctx: RequestContext): Promise<unknown> {
    const bytes = await this.getBlob(ref, digest, maxBytes, ctx)
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'))
    } catch (e) {
      throw new WasmAdmissionError('WA_ERR_IMAGE_MALFORMED', [ctx.subject, `blob ${digest} is not valid JSON (${(e as Error).message})`])
    }
  }

  async close(): Promise<void> {
    this.closed = true
    const agents = [...this.agents.values()]
    this.agents.clear()
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)))
  }

  // ------------------------------------------------------------ internals

  private url(ep: Endpoint, path: string): URL {
    return new URL(`${ep.apiRoot}/${path}${ep.query ? `?${ep.query}` : ''}`)
  }

  private verify(bytes: Uint8Array, expected: string, ctx: RequestContext): string {
    const algo = expected.split(':')[0]!
    const node = DIGEST_ALGOS[algo]
    if (node === undefined) throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `unsupported digest algorithm ${algo}`])
    const got = computeDigest(bytes, node)
    if (got !== expected) throw new WasmAdmissionError('WA_ERR_IMAGE_DIGEST_MISMATCH', [ctx.subject, expected, got])
    return got
  }

  /** containerd resolver order: each endpoint with the capability; 404 moves on; other errors move on too but the first is kept. */
  private async tryEndpoints<T>(ref: ImageReference, cap: 'pull' | 'resolve', ctx: RequestContext, fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    const eps = this.endpoints(ref.registry).filter((e) => e.capabilities.has(cap))
    let firstErr: unknown
    let notFound: unknown
    for (const ep of eps) {
      try {
        return await fn(ep)
      } catch (e) {
        if (ctx.signal.aborted) throw this.deadline(ctx)
        if (e instanceof WasmAdmissionError && e.code === 'WA_ERR_IMAGE_NOT_FOUND') notFound ??= e
        else firstErr ??= e
      }
    }
    throw firstErr ?? notFound ?? new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `no registry host has the ${cap} capability`])
  }

  private deadline(ctx: RequestContext): WasmAdmissionError {
    return new WasmAdmissionError('WA_ERR_IMAGE_DEADLINE', [ctx.subject])
  }

  private semaphore(host: string): Semaphore {
    let s = this.semaphores.get(host)
    if (s === undefined) {
      s = new Semaphore(this.limits.concurrencyPerRegistry)
      this.semaphores.set(host, s)
    }
    return s
  }

  /** One registry request with auth, status mapping and a size-limited body. */
  private async fetchLimited(
    ep: Endpoint,
    url: URL,
    ref: ImageReference,
    kind: RegistryRequestKind,
    headers: Record<string, string>,
    maxBytes: number,
    ctx: RequestContext,
  ): Promise<{ resp: Resp; bytes: Uint8Array }> {
    let release: () => void
    try {
      release = await this.semaphore(ep.host).acquire(ctx.signal)
    } catch {
      throw this.deadline(ctx)
    }
    try {
      const resp = await this.authed(ep, url, ref, kind, headers, ctx)
      const status = resp.statusCode
      if (status !== 200) {
        await resp.body.dump().catch(() => undefined)
        throw this.statusError(status, ep, ctx, resp)
      }
      const bytes = await this.readBody(resp, maxBytes, ctx)
      return { resp, bytes }
    } finally {
      release()
    }
  }

  private statusError(status: number, ep: Endpoint, ctx: RequestContext, resp: Resp): WasmAdmissionError {
    if (status === 404) return new WasmAdmissionError('WA_ERR_IMAGE_NOT_FOUND', [ctx.subject])
    if (status === 401 || status === 403) return new WasmAdmissionError('WA_ERR_IMAGE_UNAUTHORIZED', [ctx.subject])
    if (status === 429) {
      const retry = header(resp, 'retry-after')
      const e = new WasmAdmissionError('WA_ERR_IMAGE_RATE_LIMITED', [ctx.subject])
      if (retry !== undefined) e.message += ` (Retry-After: ${retry.slice(0, 32)})`
      return e
    }
    return new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `${ep.host} answered HTTP ${status}`])
  }

  private async readBody(resp: Resp, maxBytes: number, ctx: RequestContext): Promise<Uint8Array> {
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

  private async candidates(ep: Endpoint, ref: ImageReference, ctx: RequestContext): Promise<Array<RegistryCredential | undefined>> {
    if (this.credentials === undefined) return [undefined]
    let list: RegistryCredential[]
    try {
      const req = { registryHost: ep.mirror ? ep.host : ref.registry, repository: ref.path, ...(ctx.lookup !== undefined ? { lookup: ctx.lookup } : {}) }
      list = await this.credentials.credentials(req)
    } catch {
      list = []
    }
    return list.length > 0 ? list : [undefined]
  }

  /** Sends with auth; on 401 answers the challenge and retries, per credential candidate. */
  private async authed(ep: Endpoint, url: URL, ref: ImageReference, kind: RegistryRequestKind, headers: Record<string, string>, ctx: RequestContext): Promise<Resp> {
    const scope = `repository:${ref.path}:pull`
    const creds = await this.candidates(ep, ref, ctx)
    let last: Resp | undefined
    for (const cred of creds) {
      let challenge = this.challenges.get(ep.host)
      let auth = challenge !== undefined ? this.cachedAuth(challenge, scope, cred) : undefined
      let resp = await this.send(url, { ...headers, ...(auth ? { authorization: auth } : {}) }, ep.host, kind, ctx)
      if (resp.statusCode !== 401) return resp
      const parsed = parseWwwAuthenticate(header(resp, 'www-authenticate'))
      await resp.body.dump().catch(() => undefined)
      last = resp
      if (parsed === undefined) continue
      challenge = parsed
      this.challenges.set(ep.host, challenge)
      auth = await this.obtainAuth(challenge, scope, cred, ep, ctx)
      if (auth === undefined) continue
      resp = await this.send(url, { ...headers, authorization: auth }, ep.host, kind, ctx)
      if (resp.statusCode !== 401) return resp
      await resp.body.dump().catch(() => undefined)
      last = resp
      this.tokens.delete(this.tokenKey(challenge, scope, cred))
    }
    return last!
  }

  private tokenKey(ch: Challenge, scope: string, cred: RegistryCredential | undefined): string {
    return `${ch.params.realm ?? ''}\0${ch.params.service ?? ''}\0${ch.params.scope ?? scope}\0${credentialId(cred)}`
  }

  private basic(cred: RegistryCredential | undefined): string | undefined {
    if (cred?.username === undefined || cred.password === undefined) return undefined
    return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
  }

  private cachedAuth(ch: Challenge, scope: string, cred: RegistryCredential | undefined): string | undefined {
    if (ch.scheme === 'basic') return this.basic(cred)
    if (cred?.registryToken !== undefined) return `Bearer ${cred.registryToken}`
    const t = this.tokens.get(this.tokenKey(ch, scope, cred))
    if (t !== undefined && t.expiresAt > Date.now()) return `Bearer ${t.token}`
    return undefined
  }

  private async obtainAuth(ch: Challenge, scope: string, cred: RegistryCredential | undefined, ep: Endpoint, ctx: RequestContext): Promise<string | undefined> {
    if (ch.scheme === 'basic') return this.basic(cred)
    if (cred?.registryToken !== undefined) return `Bearer ${cred.registryToken}`
    const realm = ch.params.realm
    if (realm === undefined) return undefined
    let realmUrl: URL
    try {
      realmUrl = new URL(realm)
    } catch {
      throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `${ep.host} sent an invalid token realm`])
    }
    const q = new URLSearchParams()
    if (ch.params.service !== undefined) q.set('service', ch.params.service)
    q.set('scope', scope)
    const headers: Record<string, string> = {}
    let method: 'GET' | 'POST' = 'GET'
    let body: string | undefined
    if (cred?.identityToken !== undefined) {
      method = 'POST'
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: this.userAgent, scope })
      if (ch.params.service !== undefined) form.set('service', ch.params.service)
      body = form.toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
    } else {
      const b = this.basic(cred)
      if (b !== undefined) headers.authorization = b
      for (const [k, v] of q) realmUrl.searchParams.append(k, v)
    }
    const resp = await this.send(realmUrl, headers, realmUrl.host, 'token', ctx, method, body)
    if (resp.statusCode === 401 || resp.statusCode === 403) {
      await resp.body.dump().catch(() => undefined)
      return undefined
    }
    if (resp.statusCode === 429) {
      await resp.body.dump().catch(() => undefined)
      throw new WasmAdmissionError('WA_ERR_IMAGE_RATE_LIMITED', [ctx.subject])
    }
    if (resp.statusCode !== 200) {
      await resp.body.dump().catch(() => undefined)
      throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `token service ${realmUrl.host} answered HTTP ${resp.statusCode}`])
    }
    const bytes = await this.readBody(resp, this.limits.tokenBytes, ctx)
    let json: Record<string, unknown>
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>
    } catch {
      throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `token service ${realmUrl.host} sent malformed JSON`])
    }
    const token = typeof json.token === 'string' ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined
    if (token === undefined || token === '') throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `token service ${realmUrl.host} sent no token`])
    const expiresIn = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60
    const issued = typeof json.issued_at === 'string' ? Date.parse(json.issued_at) : NaN
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now()
    const expiresAt = start + expiresIn * 1000 - Math.min(10_000, (expiresIn * 1000) / 10)
    if (this.tokens.size >= 1000) this.tokens.delete(this.tokens.keys().next().value!)
    this.tokens.set(this.tokenKey(ch, scope, cred), { token, expiresAt })
    return `Bearer ${token}`
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

  /** Sends one request, following redirects with checks at every hop. */
  private async send(
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
          await resp.body.dump().catch(() => undefined)
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

  private mapError(e: unknown, ctx: RequestContext, host: string): WasmAdmissionError {
    if (e instanceof WasmAdmissionError) return e
    if (ctx.signal.aborted) return this.deadline(ctx)
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
    const c: ErrorCode = 'WA_ERR_IMAGE_UNREACHABLE'
    return new WasmAdmissionError(c, [host || 'registry', reason])
  }
}
