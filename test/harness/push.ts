/**
 * Pushes blobs, manifests and indexes (built from bytes by tests) to a registry over the
 * OCI distribution API. Handles Basic and Bearer (token) challenges with the given user.
 */
import { createHash } from 'node:crypto'

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'

export interface PushCredentials {
  username: string
  password: string
}

export interface PushedDescriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { os: string; architecture: string; variant?: string }
  annotations?: Record<string, string>
  artifactType?: string
}

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
export const bytesOf = (v: string | Uint8Array | object): Uint8Array =>
  typeof v === 'string' ? Buffer.from(v, 'utf8') : v instanceof Uint8Array ? v : Buffer.from(JSON.stringify(v), 'utf8')

export class Pusher {
  private readonly base: string
  private readonly tokens = new Map<string, string>()
  private challenge: { scheme: string; params: Record<string, string> } | undefined

  /** `host` like `127.0.0.1:5000`; plain HTTP. */
  constructor(
    readonly host: string,
    private readonly creds?: PushCredentials,
  ) {
    this.base = `http://${host}`
  }

  /** Uploads a blob (monolithic) and returns its descriptor. */
  async pushBlob(repo: string, data: Uint8Array, mediaType = 'application/octet-stream'): Promise<PushedDescriptor> {
    const digest = sha256(data)
    const start = await this.fetch(repo, `${this.base}/v2/${repo}/blobs/uploads/`, { method: 'POST' })
    if (start.status !== 202) throw new Error(`blob upload start for ${repo}: HTTP ${start.status} ${await start.text()}`)
    await start.arrayBuffer()
    const loc = new URL(start.headers.get('location') ?? '', this.base)
    loc.searchParams.set('digest', digest)
    const put = await this.fetch(repo, loc.toString(), { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: data })
    if (put.status !== 201) throw new Error(`blob upload for ${repo}: HTTP ${put.status} ${await put.text()}`)
    await put.arrayBuffer()
    return { mediaType, digest, size: data.length }
  }

  /** PUTs a manifest or index under `reference` (tag or digest); returns its descriptor. */
  async pushManifest(repo: string, reference: string, body: Uint8Array, mediaType: string): Promise<PushedDescriptor> {
    const r = await this.fetch(repo, `${this.base}/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body })
    if (r.status !== 201) throw new Error(`manifest push ${repo}:${reference}: HTTP ${r.status} ${await r.text()}`)
    await r.arrayBuffer()
    const digest = sha256(body)
    const sent = r.headers.get('docker-content-digest')
    if (sent !== null && sent !== digest) throw new Error(`registry digest ${sent} != ${digest}`)
    return { mediaType, digest, size: body.length }
  }

  /** Builds an image manifest from pushed config + layers and pushes it. */
  async pushImageManifest(
    repo: string,
    reference: string,
    m: { mediaType?: string; config: PushedDescriptor; layers: PushedDescriptor[]; annotations?: Record<string, string>; artifactType?: string },
  ): Promise<PushedDescriptor & { bytes: Uint8Array }> {
    const mediaType = m.mediaType ?? OCI_MANIFEST
    const doc: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType,
      ...(m.artifactType !== undefined ? { artifactType: m.artifactType } : {}),
      config: { mediaType: m.config.mediaType, digest: m.config.digest, size: m.config.size },
      layers: m.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })),
      ...(m.annotations !== undefined ? { annotations: m.annotations } : {}),
    }
    const bytes = bytesOf(doc)
    const d = await this.pushManifest(repo, reference, bytes, mediaType)
    return { ...d, bytes }
  }

  /** Pushes an index / manifest list over already pushed manifests. */
  async pushIndex(repo: string, reference: string, entries: PushedDescriptor[], mediaType = OCI_INDEX, annotations?: Record<string, string>): Promise<PushedDescriptor> {
    const doc = {
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({
        mediaType: e.mediaType,
        digest: e.digest,
        size: e.size,
        ...(e.platform ? { platform: e.platform } : {}),
        ...(e.annotations ? { annotations: e.annotations } : {}),
      })),
      ...(annotations ? { annotations } : {}),
    }
    return this.pushManifest(repo, reference, bytesOf(doc), mediaType)
  }

  // ---------------------------------------------------------- auth

  private async fetch(repo: string, url: string, init: RequestInit): Promise<Response> {
    const auth = await this.authHeader(repo)
    const first = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(auth ? { authorization: auth } : {}) } })
    if (first.status !== 401 || this.creds === undefined) return first
    await first.arrayBuffer()
    this.challenge = parseChallenge(first.headers.get('www-authenticate') ?? '')
    this.tokens.delete(repo)
    const again = await this.authHeader(repo)
    return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(again ? { authorization: again } : {}) } })
  }

  private async authHeader(repo: string): Promise<string | undefined> {
    if (this.creds === undefined || this.challenge === undefined) return undefined
    const basic = `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}`
    if (this.challenge.scheme === 'basic') return basic
    let token = this.tokens.get(repo)
    if (token === undefined) {
      const u = new URL(this.challenge.params.realm ?? '')
      if (this.challenge.params.service) u.searchParams.set('service', this.challenge.params.service)
      u.searchParams.set('scope', `repository:${repo}:pull,push`)
      const r = await fetch(u, { headers: { authorization: basic } })
      if (r.status !== 200) throw new Error(`token fetch for push: HTTP ${r.status}`)
      const j = (await r.json()) as { token?: string; access_token?: string }
      token = j.token ?? j.access_token ?? ''
      this.tokens.set(repo, token)
    }
    return `Bearer ${token}`
  }
}

function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(h)
  const params: Record<string, string> = {}
  const re = /(\w+)="([^"]*)"/g
  let p: RegExpExecArray | null
  while (m && (p = re.exec(m[2]!)) !== null) params[p[1]!.toLowerCase()] = p[2]!
  return { scheme: (m?.[1] ?? '').toLowerCase(), params }
}
