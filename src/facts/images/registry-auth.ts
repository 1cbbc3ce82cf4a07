/**
 * Registry authentication: anonymous, bearer token challenges (tokens cached until expiry in an
 * lru-cache of 1,000 entries, least recently used evicted first), basic, identity tokens (OAuth2
 * refresh_token grant), registry tokens. Credentials come from a CredentialProvider and never
 * appear in errors, logs or metrics.
 */
import { LRUCache } from 'lru-cache'
import { WasmAdmissionError } from '../../errors.js'
import { credentialId, type CredentialProvider, type RegistryCredential } from './credentials.js'
import type { Endpoint } from './hosts.js'
import type { RegistryRequestKind } from './metrics.js'
import type { ImageReference } from './reference.js'
import { dump, header, type RegistryTransport, type RequestContext, type Resp } from './registry-transport.js'

export interface Challenge {
  scheme: 'bearer' | 'basic'
  params: Record<string, string>
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

function basic(cred: RegistryCredential | undefined): string | undefined {
  if (cred?.username === undefined || cred.password === undefined) return undefined
  return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
}

export interface RegistryAuthOptions {
  transport: RegistryTransport
  credentials: CredentialProvider | undefined
  /** Max token response size. */
  tokenBytes: number
  /** OAuth2 client_id sent with identity tokens. */
  clientId: string
}

export class RegistryAuth {
  private readonly transport: RegistryTransport
  private readonly credentials: CredentialProvider | undefined
  private readonly tokenBytes: number
  private readonly clientId: string
  private readonly challenges = new Map<string, Challenge>()
  /** Bearer tokens by realm, service, scope and credential; each entry's TTL is its token's lifetime. */
  private readonly tokens = new LRUCache<string, string>({ max: 1000, ttlResolution: 0 })

  constructor(opts: RegistryAuthOptions) {
    this.transport = opts.transport
    this.credentials = opts.credentials
    this.tokenBytes = opts.tokenBytes
    this.clientId = opts.clientId
  }

  /** Sends with auth; on 401 answers the challenge and retries, per credential candidate. */
  async send(ep: Endpoint, url: URL, ref: ImageReference, kind: RegistryRequestKind, headers: Record<string, string>, ctx: RequestContext): Promise<Resp> {
    const scope = `repository:${ref.path}:pull`
    const creds = await this.candidates(ep, ref, ctx)
    let last: Resp | undefined
    for (const cred of creds) {
      let challenge = this.challenges.get(ep.host)
      let auth = challenge !== undefined ? this.cachedAuth(challenge, scope, cred) : undefined
      let resp = await this.transport.send(url, { ...headers, ...(auth ? { authorization: auth } : {}) }, ep.host, kind, ctx)
      if (resp.statusCode !== 401) return resp
      const parsed = parseWwwAuthenticate(header(resp, 'www-authenticate'))
      await dump(resp)
      last = resp
      if (parsed === undefined) continue
      challenge = parsed
      this.challenges.set(ep.host, challenge)
      auth = await this.obtainAuth(challenge, scope, cred, ep, ctx)
      if (auth === undefined) continue
      resp = await this.transport.send(url, { ...headers, authorization: auth }, ep.host, kind, ctx)
      if (resp.statusCode !== 401) return resp
      await dump(resp)
      last = resp
      this.tokens.delete(this.tokenKey(challenge, scope, cred))
    }
    return last!
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

  private tokenKey(ch: Challenge, scope: string, cred: RegistryCredential | undefined): string {
    return `${ch.params.realm ?? ''}\0${ch.params.service ?? ''}\0${ch.params.scope ?? scope}\0${credentialId(cred)}`
  }

  private cachedAuth(ch: Challenge, scope: string, cred: RegistryCredential | undefined): string | undefined {
    if (ch.scheme === 'basic') return basic(cred)
    if (cred?.registryToken !== undefined) return `Bearer ${cred.registryToken}`
    const t = this.tokens.get(this.tokenKey(ch, scope, cred))
    return t !== undefined ? `Bearer ${t}` : undefined
  }

  private async obtainAuth(ch: Challenge, scope: string, cred: RegistryCredential | undefined, ep: Endpoint, ctx: RequestContext): Promise<string | undefined> {
    if (ch.scheme === 'basic') return basic(cred)
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
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: this.clientId, scope })
      if (ch.params.service !== undefined) form.set('service', ch.params.service)
      body = form.toString()
      headers['content-type'] = 'application/x-www-form-urlencoded'
    } else {
      const b = basic(cred)
      if (b !== undefined) headers.authorization = b
      for (const [k, v] of q) realmUrl.searchParams.append(k, v)
    }
    const resp = await this.transport.send(realmUrl, headers, realmUrl.host, 'token', ctx, method, body)
    if (resp.statusCode === 401 || resp.statusCode === 403) {
      await dump(resp)
      return undefined
    }
    if (resp.statusCode === 429) {
      await dump(resp)
      throw new WasmAdmissionError('WA_ERR_IMAGE_RATE_LIMITED', [ctx.subject])
    }
    if (resp.statusCode !== 200) {
      await dump(resp)
      throw new WasmAdmissionError('WA_ERR_IMAGE_REGISTRY', [ctx.subject, `token service ${realmUrl.host} answered HTTP ${resp.statusCode}`])
    }
    const bytes = await this.transport.readBody(resp, this.tokenBytes, ctx)
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
    // A token already expired (issued_at far in the past) is used once, not cached (ttl 0 would mean forever).
    const ttl = Math.floor(expiresAt - Date.now())
    if (ttl > 0) this.tokens.set(this.tokenKey(ch, scope, cred), token, { ttl })
    return `Bearer ${token}`
  }
}
