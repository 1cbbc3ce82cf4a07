/**
 * Registry mirrors with containerd hosts.toml semantics (containerd docs/hosts.md):
 * for a registry, the `[host."<url>"]` entries are tried in order, then `server`
 * (default `https://<registry>`, `https://registry-1.docker.io` for docker.io). A host's
 * `capabilities` say what it may do: `resolve` (tag -> digest) and/or `pull` (by digest).
 * The `/v2` API root is appended to a host URL's path unless `override_path` is set.
 * Mirrors get the `?ns=<registry>` query containerd sends.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_REGISTRY, registryEndpointHost } from './reference.js'

export type HostCapability = 'pull' | 'resolve' | 'push'

export interface MirrorHost {
  /** `https://mirror.example.com`, optionally with a path prefix. */
  url: string
  /** Default `['pull', 'resolve']`. */
  capabilities?: HostCapability[]
  /** PEM CA bundle (contents) for this host. */
  ca?: string | string[]
  /** Disable TLS verification for this host (containerd `skip_verify`). */
  skipVerify?: boolean
  /** The URL path is the API root as is (no `/v2` appended). */
  overridePath?: boolean
}

export interface RegistryHostConfig {
  /** Upstream server URL (default: https://<registry>). */
  server?: string
  mirrors?: MirrorHost[]
  /** PEM CA bundle for the server. */
  ca?: string | string[]
  skipVerify?: boolean
}

/** `{ hosts: { 'docker.io': { mirrors: [{ url, capabilities }], server } } }`; key `_default` applies to registries without an entry. */
export interface HostsConfig {
  hosts: Record<string, RegistryHostConfig>
}

export interface Endpoint {
  /** host[:port] as in the URL (SSRF checks, concurrency, metrics label, credentials lookup). */
  host: string
  /** `scheme://host[:port][/prefix]/v2` without trailing slash. */
  apiRoot: string
  /** Query string to append (`ns=docker.io` for mirrors), or ''. */
  query: string
  capabilities: ReadonlySet<HostCapability>
  mirror: boolean
  ca?: string[]
  skipVerify: boolean
}

function apiRootOf(url: URL, overridePath: boolean): string {
  let path = url.pathname.replace(/\/+$/, '')
  if (!overridePath && !path.endsWith('/v2')) path = `${path}/v2`
  return `${url.protocol}//${url.host}${path}`
}

const toList = (ca: string | string[] | undefined): string[] | undefined => (ca === undefined ? undefined : Array.isArray(ca) ? ca : [ca])

/**
 * Endpoints for a registry, in the order to try them. `plainHttp` lists registry hosts whose
 * default server is reached over http (operator-listed only).
 */
export function endpointsFor(registry: string, hosts: HostsConfig | undefined, plainHttp: ReadonlySet<string>): Endpoint[] {
  const cfg = hosts?.hosts[registry] ?? hosts?.hosts._default
  const out: Endpoint[] = []
  for (const m of cfg?.mirrors ?? []) {
    const u = new URL(m.url)
    const e: Endpoint = {
      host: u.host,
      apiRoot: apiRootOf(u, m.overridePath === true),
      query: `ns=${encodeURIComponent(registry)}`,
      capabilities: new Set(m.capabilities ?? ['pull', 'resolve']),
      mirror: true,
      skipVerify: m.skipVerify === true,
    }
    const ca = toList(m.ca)
    if (ca !== undefined) e.ca = ca
    out.push(e)
  }
  const scheme = plainHttp.has(registry) ? 'http' : 'https'
  const server = new URL(cfg?.server ?? `${scheme}://${registryEndpointHost(registry)}`)
  const e: Endpoint = {
    host: server.host,
    apiRoot: apiRootOf(server, false),
    query: '',
    capabilities: new Set<HostCapability>(['pull', 'resolve', 'push']),
    mirror: false,
    skipVerify: cfg?.skipVerify === true,
  }
  const ca = toList(cfg?.ca)
  if (ca !== undefined) e.ca = ca
  out.push(e)
  return out
}

// ---------------------------------------------------------------- hosts.toml (subset)

function parseTomlValue(raw: string): unknown {
  const v = raw.trim()
  if (v.startsWith('"') || v.startsWith("'")) return JSON.parse(v.startsWith("'") ? `"${v.slice(1, -1).replace(/"/g, '\\"')}"` : v)
  if (v === 'true' || v === 'false') return v === 'true'
  if (v.startsWith('[')) {
    const inner = v.slice(1, v.lastIndexOf(']'))
    return inner
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => parseTomlValue(s))
  }
  if (/^-?\d+$/.test(v)) return Number(v)
  throw new Error(`unsupported TOML value: ${v}`)
}

function stripComment(line: string): string {
  let inStr: string | undefined
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!
    if (inStr !== undefined) {
      if (ch === '\\') i++
      else if (ch === inStr) inStr = undefined
    } else if (ch === '"' || ch === "'") inStr = ch
    else if (ch === '#') return line.slice(0, i)
  }
  return line
}

export interface ParsedHostsToml {
  server?: string
  ca?: string | string[]
  skipVerify?: boolean
  hosts: Array<{ url: string; capabilities?: HostCapability[]; ca?: string | string[]; skipVerify?: boolean; overridePath?: boolean }>
}

/**
 * Parses the subset of containerd's hosts.toml that matters here: `server`, `ca`,
 * `skip_verify`, and `[host."<url>"]` tables with `capabilities`, `ca`, `skip_verify`,
 * `override_path`. `ca` values are file paths (resolved by loadHostsDir). Headers and client
 * certificates are ignored.
 */
export function parseHostsToml(text: string): ParsedHostsToml {
  const out: ParsedHostsToml = { hosts: [] }
  let current: ParsedHostsToml['hosts'][number] | undefined
  let inIgnoredTable = false
  for (const raw of text.split('\n')) {
    const line = stripComment(raw).trim()
    if (line === '') continue
    const table = /^\[\s*host\.(?:"([^"]+)"|'([^']+)')\s*(\.[^\]]*)?\]$/.exec(line)
    if (table) {
      if (table[3] !== undefined) {
        inIgnoredTable = true
        continue
      }
      inIgnoredTable = false
      current = { url: (table[1] ?? table[2])! }
      out.hosts.push(current)
      continue
    }
    if (line.startsWith('[')) {
      inIgnoredTable = true
      continue
    }
    if (inIgnoredTable) continue
    const eq = line.indexOf('=')
    if (eq < 0) throw new Error(`hosts.toml: cannot parse line: ${line}`)
    const key = line.slice(0, eq).trim()
    const value = parseTomlValue(line.slice(eq + 1))
    const target = current ?? out
    switch (key) {
      case 'server':
        if (current === undefined && typeof value === 'string') out.server = value
        break
      case 'capabilities':
        if (current !== undefined && Array.isArray(value)) current.capabilities = value.filter((x): x is HostCapability => x === 'pull' || x === 'resolve' || x === 'push')
        break
      case 'ca':
        if (typeof value === 'string' || Array.isArray(value)) target.ca = value as string | string[]
        break
      case 'skip_verify':
        if (typeof value === 'boolean') target.skipVerify = value
        break
      case 'override_path':
        if (current !== undefined && typeof value === 'boolean') current.overridePath = value
        break
      default:
        break
    }
  }
  return out
}

/**
 * Reads a containerd certs.d-style directory: `<dir>/<registry>/hosts.toml`
 * (`<dir>/_default/hosts.toml` for all others). CA paths are read (relative to the file's dir).
 */
export async function loadHostsDir(dir: string): Promise<HostsConfig> {
  const hosts: Record<string, RegistryHostConfig> = {}
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return { hosts }
  }
  const readCa = async (base: string, ca: string | string[] | undefined): Promise<string[] | undefined> => {
    if (ca === undefined) return undefined
    const list = Array.isArray(ca) ? ca : [ca]
    return Promise.all(list.map((p) => readFile(p.startsWith('/') ? p : join(base, p), 'utf8')))
  }
  for (const name of names) {
    const base = join(dir, name)
    let text: string
    try {
      text = await readFile(join(base, 'hosts.toml'), 'utf8')
    } catch {
      continue
    }
    const parsed = parseHostsToml(text)
    const registry = name === 'docker.io' ? DEFAULT_REGISTRY : name
    const cfg: RegistryHostConfig = { mirrors: [] }
    if (parsed.server !== undefined) cfg.server = parsed.server
    const ca = await readCa(base, parsed.ca)
    if (ca !== undefined) cfg.ca = ca
    if (parsed.skipVerify !== undefined) cfg.skipVerify = parsed.skipVerify
    for (const h of parsed.hosts) {
      const m: MirrorHost = { url: h.url }
      if (h.capabilities !== undefined) m.capabilities = h.capabilities
      const hca = await readCa(base, h.ca)
      if (hca !== undefined) m.ca = hca
      if (h.skipVerify !== undefined) m.skipVerify = h.skipVerify
      if (h.overridePath !== undefined) m.overridePath = h.overridePath
      cfg.mirrors!.push(m)
    }
    hosts[registry] = cfg
  }
  return { hosts }
}
