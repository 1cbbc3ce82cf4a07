/**
 * Registry credentials: dockerconfigjson / dockercfg parsing, kubelet-style matching of
 * registry keys to images, and providers (mounted file, Kubernetes Secrets via interfaces).
 *
 * Credentials never leave this module except as the `RegistryCredential` handed to the
 * registry client's auth code; they are never put into errors, logs, evidence or metrics.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type { ImageLookupContext } from '../../domain/facts.js'

export interface RegistryCredential {
  username?: string
  password?: string
  /** `identitytoken`: an OAuth2 refresh token for the token endpoint. */
  identityToken?: string
  /** `registrytoken`: a bearer token sent as is. */
  registryToken?: string
  /** Where it came from, for diagnostics (e.g. `secret ns/name`); never the secret itself. */
  source: string
}

/** One `auths` entry, keyed by the registry pattern it was written under. */
export interface DockerAuthEntry {
  key: string
  credential: RegistryCredential
}

export class CredentialParseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CredentialParseError'
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function entryToCredential(v: unknown, source: string): RegistryCredential | undefined {
  if (!isObj(v)) return undefined
  const c: RegistryCredential = { source }
  if (typeof v.auth === 'string' && v.auth !== '') {
    const decoded = Buffer.from(v.auth, 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    if (i < 0) throw new CredentialParseError(`an auth entry in ${source} is not base64("user:password")`)
    c.username = decoded.slice(0, i)
    c.password = decoded.slice(i + 1)
  }
  if (typeof v.username === 'string' && v.username !== '') c.username = v.username
  if (typeof v.password === 'string' && v.password !== '') c.password = v.password
  if (typeof v.identitytoken === 'string' && v.identitytoken !== '') c.identityToken = v.identitytoken
  if (typeof v.registrytoken === 'string' && v.registrytoken !== '') c.registryToken = v.registrytoken
  if (c.username === undefined && c.password === undefined && c.identityToken === undefined && c.registryToken === undefined) return undefined
  return c
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // do not echo the content: it is a secret
    throw new CredentialParseError(`${source} is not valid JSON`)
  }
}

/** Parses `.dockerconfigjson` (`{"auths": {...}}`); credsStore/credHelpers are ignored. */
export function parseDockerConfigJson(text: string | Uint8Array, source = 'dockerconfigjson'): DockerAuthEntry[] {
  const json = parseJson(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'), source)
  if (!isObj(json)) throw new CredentialParseError(`${source} is not a JSON object`)
  const auths = json.auths
  if (auths === undefined) return []
  if (!isObj(auths)) throw new CredentialParseError(`${source}: "auths" is not an object`)
  return entriesOf(auths, source)
}

/** Parses legacy `.dockercfg` (the `auths` map itself, at the top level). */
export function parseDockerCfg(text: string | Uint8Array, source = 'dockercfg'): DockerAuthEntry[] {
  const json = parseJson(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'), source)
  if (!isObj(json)) throw new CredentialParseError(`${source} is not a JSON object`)
  return entriesOf(json, source)
}

function entriesOf(map: Record<string, unknown>, source: string): DockerAuthEntry[] {
  const out: DockerAuthEntry[] = []
  for (const [key, v] of Object.entries(map)) {
    const credential = entryToCredential(v, source)
    if (credential !== undefined) out.push({ key, credential })
  }
  return out
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

interface ParsedKey {
  host: string
  port: string | undefined
  path: string
}

function parseKey(key: string): ParsedKey | undefined {
  let k = key.trim()
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  const slash = k.indexOf('/')
  const hostPort = (slash >= 0 ? k.slice(0, slash) : k).toLowerCase()
  let path = slash >= 0 ? k.slice(slash + 1) : ''
  path = path.replace(/^v[12]\/?/, '').replace(/\/+$/, '')
  if (hostPort === '') return undefined
  const c = hostPort.lastIndexOf(':')
  const host = c > 0 && !hostPort.includes(']') ? hostPort.slice(0, c) : hostPort
  const port = c > 0 && !hostPort.includes(']') ? hostPort.slice(c + 1) : undefined
  return { host: DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host, port, path }
}

function globMatchHost(pattern: string, host: string): boolean {
  const p = pattern.split('.')
  const h = host.split('.')
  if (p.length !== h.length) return false
  return p.every((part, i) => {
    if (!part.includes('*')) return part === h[i]
    const re = new RegExp(`^${part.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*')}$`)
    return re.test(h[i]!)
  })
}

/**
 * Kubelet-style match of a registry key against the registry host being contacted and the
 * repository path: host glob per label, port must match when given, key path is a prefix.
 * Returns the match specificity (longer = more specific), or -1.
 */
export function matchKey(key: string, registryHost: string, repositoryPath: string): number {
  const k = parseKey(key)
  const t = parseKey(registryHost)
  if (k === undefined || t === undefined) return -1
  if (!globMatchHost(k.host, t.host)) return -1
  if (k.port !== t.port) return -1
  if (k.path !== '' && !(repositoryPath === k.path || repositoryPath.startsWith(`${k.path}/`))) return -1
  return k.host.length + (k.port?.length ?? 0) + k.path.length
}

/** Credentials from a list of auth entries for a host + repository, most specific first. */
export function credentialsFor(entries: DockerAuthEntry[], registryHost: string, repositoryPath: string): RegistryCredential[] {
  return entries
    .map((e) => ({ e, score: matchKey(e.key, registryHost, repositoryPath) }))
    .filter((x) => x.score >= 0)
    .sort((a, b) => b.score - a.score)
    .map((x) => x.e.credential)
}

/** What a credential request is about. */
export interface CredentialRequest {
  /** The host actually contacted (`127.0.0.1:5000`, `docker.io`, or a mirror's host). */
  registryHost: string
  /** Repository path (`library/nginx`). */
  repository: string
  /** The admission request's context (namespace, pull secrets, service account), when any. */
  lookup?: Pick<ImageLookupContext, 'namespace' | 'pullSecretNames' | 'serviceAccountName'>
}

export interface CredentialProvider {
  /** Candidate credentials, best first; an empty list means anonymous. Must not throw for missing data. */
  credentials(req: CredentialRequest): Promise<RegistryCredential[]>
}

// ---------------------------------------------------------------- providers

/** Static entries (tests, CLI). */
export class StaticCredentialProvider implements CredentialProvider {
  constructor(private readonly entries: DockerAuthEntry[]) {}
  async credentials(req: CredentialRequest): Promise<RegistryCredential[]> {
    return credentialsFor(this.entries, req.registryHost, req.repository)
  }
}

/**
 * A dockerconfigjson (or dockercfg) file the operator mounts (e.g. a Secret volume).
 * Re-read when its mtime changes, so rotated Secrets apply without a restart.
 */
export class FileCredentialProvider implements CredentialProvider {
  private cached: { mtimeMs: number; entries: DockerAuthEntry[] } | undefined
  constructor(private readonly path: string) {}

  async credentials(req: CredentialRequest): Promise<RegistryCredential[]> {
    return credentialsFor(await this.load(), req.registryHost, req.repository)
  }

  private async load(): Promise<DockerAuthEntry[]> {
    let st
    try {
      st = await stat(this.path)
    } catch {
      return []
    }
    if (this.cached?.mtimeMs === st.mtimeMs) return this.cached.entries
    const text = await readFile(this.path, 'utf8')
    const source = `file ${this.path}`
    const json = parseJson(text, source)
    const entries = isObj(json) && 'auths' in json ? parseDockerConfigJson(text, source) : parseDockerCfg(text, source)
    this.cached = { mtimeMs: st.mtimeMs, entries }
    return entries
  }
}

/** A Secret as the API returns it: `data` values base64-encoded. */
export interface SecretValue {
  type: string
  data: Record<string, string>
}

/** Reads Secrets (an informer-backed cache in the webhook; a plain map in tests). */
export interface SecretReader {
  get(namespace: string, name: string): Promise<SecretValue | undefined>
}

/** Reads ServiceAccounts' imagePullSecrets. */
export interface ServiceAccountReader {
  get(namespace: string, name: string): Promise<{ imagePullSecrets?: Array<{ name?: string }> } | undefined>
}

export const DOCKERCONFIGJSON_TYPE = 'kubernetes.io/dockerconfigjson'
export const DOCKERCFG_TYPE = 'kubernetes.io/dockercfg'

/** Decodes a Secret's dockerconfigjson / dockercfg payload into auth entries. */
export function secretToAuthEntries(secret: SecretValue, source: string): DockerAuthEntry[] {
  if (secret.type === DOCKERCONFIGJSON_TYPE) {
    const b64 = secret.data['.dockerconfigjson']
    return b64 === undefined ? [] : parseDockerConfigJson(Buffer.from(b64, 'base64'), source)
  }
  if (secret.type === DOCKERCFG_TYPE) {
    const b64 = secret.data['.dockercfg']
    return b64 === undefined ? [] : parseDockerCfg(Buffer.from(b64, 'base64'), source)
  }
  return []
}

/**
 * Credentials from the pod's imagePullSecrets and its ServiceAccount's imagePullSecrets
 * (kubelet order: pod secrets first). Opt-in: needs RBAC to read Secrets (and SAs).
 * Unreadable or malformed Secrets are skipped (reported through `onError`, without content).
 */
export class SecretCredentialProvider implements CredentialProvider {
  constructor(
    private readonly secrets: SecretReader,
    private readonly serviceAccounts?: ServiceAccountReader,
    private readonly onError?: (message: string) => void,
  ) {}

  async credentials(req: CredentialRequest): Promise<RegistryCredential[]> {
    const l = req.lookup
    if (l === undefined) return []
    const names = [...l.pullSecretNames]
    if (this.serviceAccounts !== undefined && l.serviceAccountName !== '') {
      try {
        const sa = await this.serviceAccounts.get(l.namespace, l.serviceAccountName)
        for (const s of sa?.imagePullSecrets ?? []) if (s.name && !names.includes(s.name)) names.push(s.name)
      } catch (e) {
        this.onError?.(`cannot read ServiceAccount ${l.namespace}/${l.serviceAccountName}: ${(e as Error).message}`)
      }
    }
    const out: RegistryCredential[] = []
    for (const name of names) {
      const source = `secret ${l.namespace}/${name}`
      try {
        const secret = await this.secrets.get(l.namespace, name)
        if (secret === undefined) continue
        out.push(...credentialsFor(secretToAuthEntries(secret, source), req.registryHost, req.repository))
      } catch (e) {
        this.onError?.(`cannot use ${source}: ${e instanceof CredentialParseError ? e.message : 'read failed'}`)
      }
    }
    return out
  }
}

/** Concatenates providers' candidates in order. */
export class ChainCredentialProvider implements CredentialProvider {
  constructor(private readonly providers: CredentialProvider[]) {}
  async credentials(req: CredentialRequest): Promise<RegistryCredential[]> {
    const out: RegistryCredential[] = []
    for (const p of this.providers) out.push(...(await p.credentials(req)))
    return out
  }
}

/** A stable, non-reversible id for a credential (token cache keys). */
export function credentialId(c: RegistryCredential | undefined): string {
  if (c === undefined) return 'anonymous'
  // Hash so that the key held in memory maps never spells the secret.
  return hashId(`${c.username ?? ''}\0${c.password ?? ''}\0${c.identityToken ?? ''}\0${c.registryToken ?? ''}`)
}

function hashId(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 32)
}
