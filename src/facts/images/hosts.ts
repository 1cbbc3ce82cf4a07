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
import { parse as parseToml } from 'smol-toml'
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
 * The form registry host names are compared in: lowercase. Host names are case-insensitive
 * (RFC 4343; RFC 3986 §3.2.2), and every host that comes out of a parsed URL (mirrors,
 * servers, redirect targets) is already lowercase (WHATWG URL), while image references,
 * the plain-HTTP list, hosts.toml directory names and dockerconfigjson keys keep the case they
 * were written in. So `Registry.Example.com/app` finds the config written for
 * `registry.example.com` and the other way round, in each of those places.
 *
 * Not what containerd and the kubelet do (checked against their source): containerd's hosts
 * directory lookup stats `<certs.d>/<host as written>` (core/remotes/docker/config/hosts.go
 * HostDirFromRoot and config_unix.go hostPaths, containerd commit 301026e5), the CRI compares
 * an auth's server address with `host != u.Host` (internal/cri/server/images/image_pull.go
 * ParseAuth), and the kubelet's keyring matches dockerconfigjson keys label by label with
 * filepath.Match (pkg/credentialprovider/keyring.go URLsMatch); none of them lowercases. A
 * mixed-case registry name that differs from its config only in case is therefore read here
 * with the config, while a node's pull may not use it (docs/inspect.md).
 */
export function hostKey(host: string): string {
  return host.toLowerCase()
}

/** The hosts.toml config of a registry (names compared with hostKey), else `_default`. */
function configFor(registry: string, hosts: HostsConfig | undefined): RegistryHostConfig | undefined {
  if (hosts === undefined) return undefined
  const key = hostKey(registry)
  for (const [name, cfg] of Object.entries(hosts.hosts)) if (name !== '_default' && hostKey(name) === key) return cfg
  return hosts.hosts._default
}

/**
 * Endpoints for a registry, in the order to try them. `plainHttp` lists registry hosts whose
 * default server is reached over http (operator-listed only). Host names compare with hostKey.
 */
export function endpointsFor(registry: string, hosts: HostsConfig | undefined, plainHttp: ReadonlySet<string>): Endpoint[] {
  const cfg = configFor(registry, hosts)
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
  const key = hostKey(registry)
  const scheme = plainHttp.has(key) || [...plainHttp].some((h) => hostKey(h) === key) ? 'http' : 'https'
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

// ---------------------------------------------------------------- hosts.toml

export interface ParsedHostsToml {
  server?: string
  ca?: string | string[]
  skipVerify?: boolean
  hosts: Array<{ url: string; capabilities?: HostCapability[]; ca?: string | string[]; skipVerify?: boolean; overridePath?: boolean }>
}

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
const caOf = (v: unknown): string | string[] | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) && v.every((x): x is string => typeof x === 'string') ? v : undefined

/**
 * Reads the keys of containerd's hosts.toml that matter here: `server`, `ca`, `skip_verify`,
 * and `[host."<url>"]` tables (in file order, as containerd tries them) with `capabilities`,
 * `ca`, `skip_verify`, `override_path`. `ca` values are file paths (resolved by loadHostsDir).
 * Headers, client certificates and other keys are ignored. The file is TOML 1.0 (smol-toml);
 * invalid TOML throws.
 */
export function parseHostsToml(text: string): ParsedHostsToml {
  const doc = parseToml(text)
  const out: ParsedHostsToml = { hosts: [] }
  if (typeof doc.server === 'string') out.server = doc.server
  const ca = caOf(doc.ca)
  if (ca !== undefined) out.ca = ca
  if (typeof doc.skip_verify === 'boolean') out.skipVerify = doc.skip_verify
  const hosts = isTable(doc.host) ? doc.host : {}
  for (const [url, h] of Object.entries(hosts)) {
    if (!isTable(h)) continue
    const host: ParsedHostsToml['hosts'][number] = { url }
    if (Array.isArray(h.capabilities)) host.capabilities = h.capabilities.filter((x): x is HostCapability => x === 'pull' || x === 'resolve' || x === 'push')
    const hca = caOf(h.ca)
    if (hca !== undefined) host.ca = hca
    if (typeof h.skip_verify === 'boolean') host.skipVerify = h.skip_verify
    if (typeof h.override_path === 'boolean') host.overridePath = h.override_path
    out.hosts.push(host)
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
