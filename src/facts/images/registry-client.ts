/**
 * OCI distribution client: manifests and blobs, over the endpoints of a registry.
 *
 * - Accept header lists OCI index + manifest and Docker list + v2 manifest.
 * - Every body is digest-checked: against the digest asked for, or for a tag against the
 *   registry's Docker-Content-Digest header when present.
 * - Mirrors (containerd hosts.toml semantics) are tried in order, then the registry itself.
 * - Limits: manifest/config size.
 *
 * Authentication is registry-auth.ts; connections, TLS, SSRF, redirects and timeouts are
 * registry-transport.ts. Failures are thrown as WasmAdmissionError with a WA_ERR_IMAGE_* code;
 * the inspector turns them into UnknownImageFacts.
 */
import { createHash } from 'node:crypto'
import { WasmAdmissionError } from '../../errors.js'
import type { CredentialProvider } from './credentials.js'
import type { Endpoint, HostsConfig } from './hosts.js'
import { MANIFEST_ACCEPT } from './media-types.js'
import type { RegistryRequestKind, RegistryRequestObserver } from './metrics.js'
import type { ImageReference } from './reference.js'
import { RegistryAuth } from './registry-auth.js'
import { deadline, dump, header, RegistryTransport, type RequestContext, type Resp, type TransportLimits } from './registry-transport.js'
import { SsrfGuard } from './ssrf-guard.js'

export type { RequestContext } from './registry-transport.js'

export interface RegistryLimits extends TransportLimits {
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

const DIGEST_ALGOS: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' }

export function computeDigest(bytes: Uint8Array, algo = 'sha256'): string {
  return `${algo}:${createHash(algo).update(bytes).digest('hex')}`
}

export class RegistryClient {
  readonly limits: RegistryLimits
  readonly guard: SsrfGuard
  private readonly transport: RegistryTransport
  private readonly auth: RegistryAuth

  constructor(opts: RegistryClientOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) }
    this.guard = opts.ssrf instanceof SsrfGuard ? opts.ssrf : new SsrfGuard(opts.ssrf ?? {})
    const userAgent = opts.userAgent ?? 'wasm-admission'
    this.transport = new RegistryTransport({
      limits: this.limits,
      guard: this.guard,
      hosts: opts.hosts,
      plainHttp: opts.plainHttp ?? [],
      caBundle: opts.caBundle === undefined ? [] : Array.isArray(opts.caBundle) ? opts.caBundle : [opts.caBundle],
      userAgent,
      observer: opts.observer,
    })
    this.auth = new RegistryAuth({ transport: this.transport, credentials: opts.credentials, tokenBytes: this.limits.tokenBytes, clientId: userAgent })
  }

  /** Endpoints tried for a registry (mirrors first). */
  endpoints(registry: string): Endpoint[] {
    return this.transport.endpoints(registry)
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
    await this.transport.close()
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
        if (ctx.signal.aborted) throw deadline(ctx)
        if (e instanceof WasmAdmissionError && e.code === 'WA_ERR_IMAGE_NOT_FOUND') notFound ??= e
        else firstErr ??= e
      }
    }
    throw firstErr ?? notFound ?? new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `no registry host has the ${cap} capability`])
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
    const release = await this.transport.acquire(ep.host, ctx)
    try {
      const resp = await this.auth.send(ep, url, ref, kind, headers, ctx)
      const status = resp.statusCode
      if (status !== 200) {
        await dump(resp)
        throw this.statusError(status, ep, ctx, resp)
      }
      const bytes = await this.transport.readBody(resp, maxBytes, ctx)
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
}
