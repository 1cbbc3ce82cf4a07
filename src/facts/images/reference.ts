/**
 * Image references, parsed and normalised the way containerd / docker/distribution do it
 * (github.com/distribution/reference: ParseNormalizedNamed):
 *   nginx                      -> docker.io/library/nginx:latest
 *   user/app                   -> docker.io/user/app:latest
 *   index.docker.io/x/y        -> docker.io/x/y:latest
 *   localhost:5000/a/b@sha256: -> localhost:5000/a/b@sha256:...
 * A reference with both tag and digest is resolved by digest (the tag is kept for display).
 * Pure: no I/O.
 */

export const DEFAULT_REGISTRY = 'docker.io'
/** The API endpoint behind docker.io. */
export const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io'
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io'
const OFFICIAL_REPO_PREFIX = 'library/'

export interface ImageReference {
  /** The string as written. */
  original: string
  /** Registry host as in the normalised name, with port when given (`docker.io`, `127.0.0.1:5000`). */
  registry: string
  /** Repository path inside the registry (`library/nginx`). */
  path: string
  /** `registry/path`, the normalised repository name. */
  name: string
  /** Tag, when written or defaulted (`latest` only when there is no digest). */
  tag: string | undefined
  /** Digest when written (`sha256:<64 hex>`). */
  digest: string | undefined
}

export class ReferenceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReferenceError'
  }
}

// distribution/reference grammar
const ALNUM = '[a-z0-9]+'
const SEPARATOR = '(?:[._]|__|[-]+)'
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`)
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]'
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?$`)
const TAG_RE = /^[\w][\w.-]{0,127}$/
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/
const KNOWN_DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha512: 128 }
const NAME_TOTAL_LENGTH_MAX = 255

/** Parses and normalises an image reference; throws ReferenceError with a reason. */
export function parseReference(input: string): ImageReference {
  const original = input
  if (typeof input !== 'string' || input.length === 0) throw new ReferenceError('empty reference')
  if (input !== input.trim() || /\s/.test(input)) throw new ReferenceError('reference contains whitespace')

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST_RE.test(digest)) throw new ReferenceError(`invalid digest "${digest}"`)
    const [algo, hex] = digest.split(':') as [string, string]
    const want = KNOWN_DIGEST_LENGTHS[algo]
    if (want === undefined) throw new ReferenceError(`unsupported digest algorithm "${algo}"`)
    if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) throw new ReferenceError(`invalid ${algo} digest "${digest}"`)
  }

  // A tag follows the last ':' after the last '/' (a ':' before it belongs to a port).
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG_RE.test(tag)) throw new ReferenceError(`invalid tag "${tag}"`)
  }

  // Split domain: the first component is a registry when it contains '.' or ':', is
  // 'localhost', or has upper-case letters (which no repository path may have).
  let registry: string
  let path: string
  const slash = rest.indexOf('/')
  const first = slash >= 0 ? rest.slice(0, slash) : ''
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DEFAULT_REGISTRY
    path = rest
  } else {
    registry = first
    path = rest.slice(slash + 1)
  }
  if (registry === LEGACY_DEFAULT_REGISTRY) registry = DEFAULT_REGISTRY
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path

  if (!DOMAIN_RE.test(registry)) throw new ReferenceError(`invalid registry host "${registry}"`)
  if (path.length === 0) throw new ReferenceError('empty repository name')
  if (path.toLowerCase() !== path) throw new ReferenceError('repository name must be lowercase')
  if (!PATH_RE.test(path)) throw new ReferenceError(`invalid repository name "${path}"`)
  const name = `${registry}/${path}`
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw new ReferenceError(`repository name longer than ${NAME_TOTAL_LENGTH_MAX} characters`)

  if (tag === undefined && digest === undefined) tag = 'latest'
  return { original, registry, path, name, tag, digest }
}

/** The tag or digest to ask the registry for (digest wins when both are present). */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest'
}

/** Canonical string: `name[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return ref.name + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '')
}

/** Cache / coalescing key: the normalised name plus what will be resolved. */
export function referenceKey(ref: ImageReference): string {
  return ref.digest !== undefined ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`
}

/** `name@digest`, used for pinned images. */
export function pinnedReference(ref: ImageReference, digest: string): string {
  return `${ref.name}@${digest}`
}

/** Host the default (non-mirror) endpoint of a registry lives at. */
export function registryEndpointHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_ENDPOINT : registry
}

/** Splits `host[:port]` (IPv6 in brackets) into hostname and port string. */
export function splitHostPort(host: string): { hostname: string; port: string | undefined } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    const hostname = host.slice(1, end)
    const rest = host.slice(end + 1)
    return { hostname, port: rest.startsWith(':') ? rest.slice(1) : undefined }
  }
  const c = host.lastIndexOf(':')
  if (c >= 0 && host.indexOf(':') === c) return { hostname: host.slice(0, c), port: host.slice(c + 1) }
  return { hostname: host, port: undefined }
}
