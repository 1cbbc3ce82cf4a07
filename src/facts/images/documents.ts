/**
 * Parsing of the JSON documents a registry serves: manifests, indexes and image configs.
 * PURE (no I/O, no clock). Anything that is not a usable document is a MalformedDocumentError.
 */
import { MT, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from './media-types.js'

export interface Platform {
  os?: string
  architecture?: string
  variant?: string
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
  annotations?: Record<string, string>
  artifactType?: string
}

export interface IndexDocument {
  kind: 'index'
  mediaType: string
  manifests: Descriptor[]
  annotations: Record<string, string>
}

export interface ManifestDocument {
  kind: 'manifest'
  mediaType: string
  config: Descriptor
  layers: Descriptor[]
  annotations: Record<string, string>
  artifactType?: string
}

export type ParsedManifest = IndexDocument | ManifestDocument

export class MalformedDocumentError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedDocumentError'
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function stringMap(v: unknown): Record<string, string> {
  if (!isObj(v)) return {}
  const out: Record<string, string> = {}
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x
  return out
}

function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isObj(v)) throw new MalformedDocumentError(`${where} is not an object`)
  const { mediaType, digest, size } = v
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) {
    throw new MalformedDocumentError(`${where} has no valid digest`)
  }
  const d: Descriptor = {
    mediaType: typeof mediaType === 'string' ? mediaType : '',
    digest,
    size: typeof size === 'number' && Number.isFinite(size) ? size : -1,
  }
  if (isObj(v.platform)) {
    const p: Platform = {}
    if (typeof v.platform.os === 'string') p.os = v.platform.os
    if (typeof v.platform.architecture === 'string') p.architecture = v.platform.architecture
    if (typeof v.platform.variant === 'string') p.variant = v.platform.variant
    d.platform = p
  }
  if (isObj(v.annotations)) d.annotations = stringMap(v.annotations)
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType
  return d
}

/**
 * Parses a manifest-endpoint document. `contentType` is the response Content-Type; the
 * document's own `mediaType` wins when present, else the shape decides.
 */
export function parseManifestDocument(json: unknown, contentType = ''): ParsedManifest {
  if (!isObj(json)) throw new MalformedDocumentError('manifest is not a JSON object')
  const ct = contentType.split(';')[0]!.trim().toLowerCase()
  const declared = typeof json.mediaType === 'string' ? json.mediaType : ct
  if (declared === MT.DOCKER_SCHEMA1 || declared === MT.DOCKER_SCHEMA1_SIGNED || json.schemaVersion === 1) {
    throw new MalformedDocumentError('Docker schema 1 manifests are not supported')
  }
  const looksIndex = Array.isArray(json.manifests)
  const looksManifest = json.config !== undefined || Array.isArray(json.layers)
  const isIndex = INDEX_MEDIA_TYPES.has(declared) || (!MANIFEST_MEDIA_TYPES.has(declared) && looksIndex && !looksManifest)
  if (isIndex) {
    if (!Array.isArray(json.manifests)) throw new MalformedDocumentError('index has no manifests array')
    return {
      kind: 'index',
      mediaType: declared || MT.OCI_INDEX,
      manifests: json.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
      annotations: stringMap(json.annotations),
    }
  }
  if (!looksManifest) throw new MalformedDocumentError(`unrecognised manifest (mediaType "${declared}")`)
  const config = parseDescriptor(json.config, 'config')
  const layers = Array.isArray(json.layers) ? json.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)) : []
  const doc: ManifestDocument = {
    kind: 'manifest',
    mediaType: declared || MT.OCI_MANIFEST,
    config,
    layers,
    annotations: stringMap(json.annotations),
  }
  if (typeof json.artifactType === 'string') doc.artifactType = json.artifactType
  return doc
}

/** The parts of an image config (OCI or Docker) the classifier reads. */
export interface ImageConfigSummary {
  os: string | undefined
  architecture: string | undefined
  entrypoint: string[]
  cmd: string[]
  labels: Record<string, string>
  /** CNCF Wasm config: `component` present and not null. */
  component: boolean
}

const stringArray = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

export function summariseConfig(json: unknown): ImageConfigSummary {
  if (!isObj(json)) throw new MalformedDocumentError('image config is not a JSON object')
  const inner = isObj(json.config) ? json.config : isObj(json.container_config) ? json.container_config : {}
  return {
    os: typeof json.os === 'string' ? json.os : undefined,
    architecture: typeof json.architecture === 'string' ? json.architecture : undefined,
    entrypoint: stringArray(inner.Entrypoint),
    cmd: stringArray(inner.Cmd),
    labels: stringMap(inner.Labels),
    component: json.component !== undefined && json.component !== null,
  }
}
