/**
 * The classifier: fetched documents in, verdict out. PURE (no I/O, no clock).
 * Follows the decision rules of ../shared/reference/wasm-oci.md §0. Every verdict carries
 * evidence strings naming the media type, field or file that decided it.
 *
 * The inspector drives it in steps: parseManifestDocument -> (index) selectIndexEntry ->
 * configToFetch -> layersToPeek -> classify.
 */
import type { RuntimeFamily } from '../types.js'
import {
  CRUN_ANNOTATIONS,
  IMAGE_CONFIG_MEDIA_TYPES,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MT,
  RUNWASI_LAYER_MEDIA_TYPES,
  SPIN_LAYER_MEDIA_TYPES,
  SPIN_LOCKED_APP_LABEL,
  TAR_LAYER_MEDIA_TYPES,
  WASM_ARCH,
  WASM_OS,
} from './media-types.js'
import type { TarEntry, TarPeekResult } from './tar-peek.js'

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

// ---------------------------------------------------------------- platforms & indexes

export function isWasmOs(os: string | undefined): boolean {
  return os !== undefined && WASM_OS.has(os.toLowerCase())
}
export function isWasmArch(arch: string | undefined): boolean {
  return arch !== undefined && WASM_ARCH.has(arch.toLowerCase())
}
/** Rule 1: a Wasm platform has a Wasm architecture and/or a WASI os (os compared case-insensitively). */
export function isWasmPlatform(p: Platform | undefined): boolean {
  return p !== undefined && (isWasmOs(p.os) || isWasmArch(p.architecture))
}

export function formatPlatform(p: Platform | undefined): string {
  if (p === undefined) return 'no platform'
  return `${p.os ?? '?'}/${p.architecture ?? '?'}${p.variant !== undefined ? `/${p.variant}` : ''}`
}

function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  )
}

export interface IndexSelection {
  /** The Wasm entry to follow, when there is one. */
  entry: Descriptor | undefined
  wasmEntries: Descriptor[]
  otherEntries: Descriptor[]
  evidence: string[]
}

/** Picks the Wasm entry of an index (the first one; WASI os preferred over a bare wasm arch). */
export function selectIndexEntry(index: IndexDocument): IndexSelection {
  const usable = index.manifests.filter((d) => !isAttestation(d))
  const wasmEntries = usable.filter((d) => isWasmPlatform(d.platform))
  const otherEntries = usable.filter((d) => !isWasmPlatform(d.platform))
  const evidence: string[] = [`${index.mediaType || 'index'} with ${index.manifests.length} entr${index.manifests.length === 1 ? 'y' : 'ies'}`]
  const preferred = wasmEntries.find((d) => isWasmOs(d.platform?.os) && isWasmArch(d.platform?.architecture)) ?? wasmEntries[0]
  if (preferred !== undefined) {
    evidence.push(`index entry ${preferred.digest} has Wasm platform ${formatPlatform(preferred.platform)}`)
    if (otherEntries.length === 0) {
      evidence.push('index has only Wasm entries: a CRI pull by tag fails on Linux nodes, so the image must be pinned to the entry digest')
    } else {
      evidence.push(
        `mixed index (also ${otherEntries.map((d) => formatPlatform(d.platform)).join(', ')}): CRI would pick the Linux entry, so the image must be pinned to the Wasm entry digest`,
      )
    }
  }
  return { entry: preferred, wasmEntries, otherEntries, evidence }
}

// ---------------------------------------------------------------- image config

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

/** Which config blob the classifier wants to read (image configs and CNCF Wasm configs). */
export function configToFetch(m: ManifestDocument): Descriptor | undefined {
  const t = m.config.mediaType
  if (IMAGE_CONFIG_MEDIA_TYPES.has(t) || t === MT.WASM_CONFIG_V0) return m.config
  return undefined
}

export interface PeekBudget {
  /** Only layers whose (compressed) size is at most this are peeked. */
  maxLayerBytes: number
  /** Sum of compressed sizes peeked per image. */
  maxTotalBytes: number
}

function crunAnnotation(annotations: Record<string, string> | undefined): [string, string] | undefined {
  if (annotations === undefined) return undefined
  for (const k of CRUN_ANNOTATIONS) {
    const v = annotations[k]
    if (v !== undefined) return [k, v]
  }
  return undefined
}

/**
 * Layers worth opening: only for FROM-scratch images with a Wasm platform and no
 * Entrypoint/Cmd (where spin.toml / slightfile.toml decide), only tar layers within the
 * budget, topmost layer first.
 */
export function layersToPeek(m: ManifestDocument, config: unknown, budget: PeekBudget, platformHint?: Platform): Descriptor[] {
  if (!IMAGE_CONFIG_MEDIA_TYPES.has(m.config.mediaType)) return []
  if (crunAnnotation(m.annotations) !== undefined) return []
  let c: ImageConfigSummary
  try {
    c = summariseConfig(config)
  } catch {
    return []
  }
  const wasmPlatform = isWasmPlatform({ os: c.os, architecture: c.architecture }) || isWasmPlatform(platformHint)
  if (!wasmPlatform) return []
  if (m.layers.some((l) => !TAR_LAYER_MEDIA_TYPES.has(l.mediaType))) return []
  if (c.entrypoint.length > 0 || c.cmd.length > 0) return []
  const out: Descriptor[] = []
  let total = 0
  for (const l of [...m.layers].reverse()) {
    if (l.size < 0 || l.size > budget.maxLayerBytes) continue
    if (total + l.size > budget.maxTotalBytes) continue
    total += l.size
    out.push(l)
  }
  return out
}

// ---------------------------------------------------------------- verdicts

export type Verdict =
  | { kind: 'wasm'; runtime: RuntimeFamily; pinnedImage: string | null; hasEntrypoint: boolean; evidence: string[] }
  | { kind: 'linux'; evidence: string[] }
  | { kind: 'unsupported'; evidence: string[] }
  | { kind: 'malformed'; reason: string; evidence: string[] }

export interface LayerPeek {
  digest: string
  mediaType: string
  result: TarPeekResult
}

export interface ClassifyInput {
  /** Normalised repository name (`registry/path`), used for pinnedImage. */
  repository: string
  /** The document the reference resolved to, when it is an index. */
  index?: IndexDocument
  /** The manifest: the reference's own, or the selected index entry's. Absent for an index without Wasm entries. */
  manifest?: ManifestDocument
  /** Digest of `manifest` (needed for pinnedImage when it is an index entry). */
  manifestDigest?: string
  /** Parsed JSON of the config blob, when configToFetch() asked for it. */
  config?: unknown
  /** Tar entries of peeked layers (layersToPeek()). */
  peeks?: LayerPeek[]
}

const short = (d: string): string => (d.length > 19 ? `${d.slice(0, 19)}…` : d)

function findEntry(peeks: LayerPeek[], pred: (e: TarEntry) => boolean): { entry: TarEntry; layer: LayerPeek } | undefined {
  // topmost layer wins
  for (const layer of peeks) {
    for (let i = layer.result.entries.length - 1; i >= 0; i--) {
      const e = layer.result.entries[i]!
      if (pred(e)) return { entry: e, layer }
    }
  }
  return undefined
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]
const hasWasmMagic = (h: Uint8Array | undefined): boolean => h !== undefined && h.length >= 4 && WASM_MAGIC.every((b, i) => h[i] === b)

function classifyManifest(input: ClassifyInput, m: ManifestDocument, platformHint: Platform | undefined, entryAnnotations?: Record<string, string>): Verdict {
  const ev: string[] = [`manifest ${m.mediaType}`]
  const cfgType = m.config.mediaType
  const layerTypes = m.layers.map((l) => l.mediaType)
  const layerSet = new Set(layerTypes)

  // ---- artifacts no pod can run (rule 2, last bullet)
  if (cfgType.startsWith('application/vnd.wasmcloud.') || layerTypes.some((t) => t.startsWith('application/vnd.wasmcloud.'))) {
    ev.push(`config ${cfgType}${layerTypes.length ? `, layers ${[...layerSet].join(', ')}` : ''}: wasmCloud artifact, not a pod image`)
    return { kind: 'unsupported', evidence: ev }
  }
  if (cfgType === MT.SOLO_CONFIG) {
    ev.push(`config ${cfgType}: solo.io Wasm module (Envoy/Istio filter), not a pod image`)
    return { kind: 'unsupported', evidence: ev }
  }
  if (cfgType === MT.WASM_TO_OCI_CONFIG) {
    ev.push(`config ${cfgType}: wasm-to-oci module, not a pod image`)
    return { kind: 'unsupported', evidence: ev }
  }

  // ---- CNCF Wasm OCI artifact
  if (cfgType === MT.WASM_CONFIG_V0) {
    ev.push(`config ${cfgType}: CNCF Wasm OCI artifact`)
    const wasmLayers = m.layers.filter((l) => l.mediaType === MT.WASM_LAYER)
    if (wasmLayers.length === 0) {
      ev.push(`no ${MT.WASM_LAYER} layer (layers: ${[...layerSet].join(', ') || 'none'})`)
      return { kind: 'unsupported', evidence: ev }
    }
    ev.push(`layer ${MT.WASM_LAYER}${wasmLayers.length > 1 ? ` ×${wasmLayers.length} (the Spin shim requires a single layer; the v0 spec says consumers should reject)` : ''}`)
    if (input.config !== undefined) {
      try {
        const c = summariseConfig(input.config)
        const os = c.os?.toLowerCase()
        if (os === 'wasip2' && c.component) ev.push('config os wasip2 with component: Wasm component')
        else if (os !== undefined) ev.push(`config os ${c.os}${os === 'wasip1' ? ': Wasm module' : ''}`)
      } catch {
        ev.push('config blob unreadable; layer type decides')
      }
    }
    ev.push('runs on the runwasi shims (wasmtime, wasmedge, wasmer, wamr)')
    return { kind: 'wasm', runtime: 'wasi', pinnedImage: null, hasEntrypoint: false, evidence: ev }
  }

  // ---- pre-2.0 Spin: locked app as the config
  if (cfgType === MT.SPIN_LOCKED_APP) {
    ev.push(`config ${cfgType}: Spin locked app as the config (pre-Spin-2.0 push)`)
    if (layerSet.has(MT.SPIN_WASM_LAYER)) ev.push(`layer ${MT.SPIN_WASM_LAYER}`)
    ev.push('whether containerd-shim-spin runs pre-2.0 pushes is unconfirmed (runwasi reads the config as a platform)')
    return { kind: 'wasm', runtime: 'spin', pinnedImage: null, hasEntrypoint: false, evidence: ev }
  }

  // ---- OCI 1.1 artifacts with an empty config
  if (cfgType === MT.OCI_EMPTY) {
    const wasmish = (m.artifactType ?? '').includes('wasm') || layerTypes.some((t) => t.includes('wasm'))
    if (wasmish) {
      ev.push(`config ${cfgType}${m.artifactType ? `, artifactType ${m.artifactType}` : ''}: Wasm artifact without a platform config; runwasi needs architecture wasm`)
      return { kind: 'unsupported', evidence: ev }
    }
    ev.push(`config ${cfgType}${m.artifactType ? `, artifactType ${m.artifactType}` : ''}: OCI artifact, not Wasm`)
    return { kind: 'linux', evidence: ev }
  }

  if (!IMAGE_CONFIG_MEDIA_TYPES.has(cfgType)) {
    if (layerTypes.some((t) => t.includes('wasm')) || cfgType.includes('wasm')) {
      ev.push(`config ${cfgType || '(none)'} with Wasm layers (${[...layerSet].join(', ')}): unknown Wasm artifact, not a pod image`)
      return { kind: 'unsupported', evidence: ev }
    }
    ev.push(`config ${cfgType || '(none)'} is not an image config and nothing is Wasm`)
    return { kind: 'linux', evidence: ev }
  }

  // ---- ordinary image config (OCI or Docker)
  if (input.config === undefined) return { kind: 'malformed', reason: 'image config was not read', evidence: ev }
  let c: ImageConfigSummary
  try {
    c = summariseConfig(input.config)
  } catch (e) {
    return { kind: 'malformed', reason: (e as Error).message, evidence: ev }
  }
  const hasEntrypoint = c.entrypoint.length > 0 || c.cmd.length > 0
  const ep = c.entrypoint[0] ?? c.cmd[0]
  const platform = `${c.os ?? '?'}/${c.architecture ?? '?'}`

  // rule 3: crun-style annotation
  const crun = crunAnnotation(m.annotations) ?? crunAnnotation(entryAnnotations)
  if (crun !== undefined) {
    ev.push(`annotation ${crun[0]}=${crun[1]}: crun Wasm handler`, `config platform ${platform}`)
    return { kind: 'wasm', runtime: 'crun', pinnedImage: null, hasEntrypoint, evidence: ev }
  }

  const archIsWasm = c.architecture === 'wasm'
  const spinLayers = layerTypes.filter((t) => SPIN_LAYER_MEDIA_TYPES.has(t))
  const runwasiLayers = layerTypes.filter((t) => RUNWASI_LAYER_MEDIA_TYPES.has(t))
  const soloLayers = layerTypes.filter((t) => t === MT.SOLO_LAYER)
  const tarLayers = layerTypes.filter((t) => TAR_LAYER_MEDIA_TYPES.has(t))
  const historic = layerTypes.filter((t) => t === MT.RUNWASI_HISTORIC_MODULE || t === MT.RUNWASI_HISTORIC_COMPONENT)

  if (spinLayers.length > 0 || runwasiLayers.length > 0 || historic.length > 0) {
    if (!archIsWasm) {
      ev.push(
        `Wasm layers (${[...new Set([...spinLayers, ...runwasiLayers, ...historic])].join(', ')}) but config architecture is "${c.architecture ?? ''}": runwasi only loads Wasm layers when architecture is exactly "wasm"`,
      )
      return { kind: 'unsupported', evidence: ev }
    }
    ev.push(`config architecture wasm, os ${c.os ?? '?'}`)
    if (spinLayers.length > 0) {
      ev.push(`layers ${[...new Set(spinLayers)].join(', ')}: Spin (>= 2.0 registry push)`)
      if (layerTypes[layerTypes.length - 1] === MT.SPIN_LOCKED_APP) ev.push(`last layer ${MT.SPIN_LOCKED_APP}: locked app`)
      const locked = c.labels[SPIN_LOCKED_APP_LABEL]
      if (locked !== undefined) ev.push(`config label ${SPIN_LOCKED_APP_LABEL}=${short(locked)}`)
      return { kind: 'wasm', runtime: 'spin', pinnedImage: null, hasEntrypoint, evidence: ev }
    }
    if (runwasiLayers.length > 0) {
      ev.push(`layers ${[...new Set(runwasiLayers)].join(', ')}: runwasi Wasm layers (oci-tar-builder)`)
      if (ep !== undefined) ev.push(`entrypoint ${ep}`)
      return { kind: 'wasm', runtime: 'wasi', pinnedImage: null, hasEntrypoint, evidence: ev }
    }
    ev.push(`layers ${[...new Set(historic)].join(', ')}: historic runwasi oci-tar-builder media types, not loaded by current shims`)
    return { kind: 'unsupported', evidence: ev }
  }

  if (soloLayers.length > 0 && tarLayers.length === 0) {
    ev.push(`layer ${MT.SOLO_LAYER} with config ${cfgType}: legacy wasmCloud / solo.io module, not a pod image`)
    return { kind: 'unsupported', evidence: ev }
  }

  const wasmPlatform = isWasmPlatform({ os: c.os, architecture: c.architecture }) || isWasmPlatform(platformHint)
  if (!wasmPlatform) {
    ev.push(`config platform ${platform}`)
    return { kind: 'linux', evidence: ev }
  }

  // ---- FROM-scratch filesystem image with a Wasm platform
  ev.push(
    `config platform ${platform}${!isWasmPlatform({ os: c.os, architecture: c.architecture }) && platformHint ? ` (index entry platform ${formatPlatform(platformHint)})` : ''}: Wasm`,
  )
  if (layerTypes.length === 0) {
    ev.push('no layers: nothing to run')
    return { kind: 'unsupported', evidence: ev }
  }
  ev.push(`${tarLayers.length} filesystem layer${tarLayers.length === 1 ? '' : 's'} (FROM scratch)`)
  const peeks = input.peeks ?? []
  if (!hasEntrypoint) {
    ev.push('config has no Entrypoint/Cmd')
    const spin = findEntry(peeks, (e) => e.path === 'spin.toml')
    if (spin !== undefined) {
      ev.push(`rootfs has /spin.toml (layer ${short(spin.layer.digest)})`)
      return { kind: 'wasm', runtime: 'spin', pinnedImage: null, hasEntrypoint, evidence: ev }
    }
    const slight = findEntry(peeks, (e) => e.path === 'slightfile.toml')
    if (slight !== undefined) {
      ev.push(`rootfs has /slightfile.toml (layer ${short(slight.layer.digest)})`)
      return { kind: 'wasm', runtime: 'slight', pinnedImage: null, hasEntrypoint, evidence: ev }
    }
    const wasmFile = findEntry(peeks, (e) => (e.type === '0' || e.type === '\0') && /\.(wasm|wat)$/.test(e.path))
    // Say so when the look inside the layers stopped early: a spin.toml past the budget was not seen.
    const cut = peeks.find((p) => p.result.truncated)
    const partial = cut !== undefined || peeks.length < tarLayers.length
    const partialNote = partial ? ` (rootfs only partly inspected${cut?.result.note ? `: ${cut.result.note}` : ': layers over the peek budget'}; a spin.toml or slightfile.toml beyond that was not seen)` : ''
    if (wasmFile !== undefined) {
      ev.push(`rootfs has ${wasmFile.entry.path}${hasWasmMagic(wasmFile.entry.head) ? ' (starts with \\0asm)' : ''}: generic WASI${partialNote}`)
    } else if (peeks.length === 0) {
      ev.push('layers not inspected (over the peek budget); no spin.toml/slightfile.toml seen: assuming generic WASI')
    } else {
      ev.push(`no spin.toml, slightfile.toml or .wasm file found${partial ? ' in the inspected part of the rootfs' : ''}: assuming generic WASI`)
    }
    return { kind: 'wasm', runtime: 'wasi', pinnedImage: null, hasEntrypoint, evidence: ev }
  }
  ev.push(`entrypoint ${ep ?? ''}`)
  if (ep !== undefined && /\.(wasm|wat)$/.test(ep)) ev.push('entrypoint is a .wasm module: generic WASI')
  else ev.push('Wasm platform with a non-.wasm entrypoint: generic WASI (runwasi checks the \\0asm magic at start)')
  return { kind: 'wasm', runtime: 'wasi', pinnedImage: null, hasEntrypoint, evidence: ev }
}

/** The verdict for a fetched image. */
export function classify(input: ClassifyInput): Verdict {
  if (input.index !== undefined) {
    const sel = selectIndexEntry(input.index)
    if (sel.entry === undefined) {
      const ev = [...sel.evidence]
      const crun = crunAnnotation(input.index.annotations) ?? input.index.manifests.map((d) => crunAnnotation(d.annotations)).find((x) => x !== undefined)
      const plats = sel.otherEntries.map((d) => formatPlatform(d.platform))
      if (crun !== undefined) {
        ev.push(`index annotation ${crun[0]}=${crun[1]}: crun Wasm handler`)
        return { kind: 'wasm', runtime: 'crun', pinnedImage: null, hasEntrypoint: true, evidence: ev }
      }
      ev.push(`no Wasm entry (platforms: ${plats.join(', ') || 'none'})`)
      return { kind: 'linux', evidence: ev }
    }
    if (input.manifest === undefined) return { kind: 'malformed', reason: 'index entry manifest was not read', evidence: sel.evidence }
    const v = classifyManifest(input, input.manifest, sel.entry.platform, sel.entry.annotations)
    const evidence = [...sel.evidence, ...v.evidence]
    if (v.kind === 'wasm') {
      return { ...v, pinnedImage: `${input.repository}@${input.manifestDigest ?? sel.entry.digest}`, evidence }
    }
    if (v.kind === 'linux') {
      // The index platform says Wasm, the manifest has nothing Wasm: trust the content.
      evidence.push('entry content has no Wasm evidence: treated as Linux')
    }
    return { ...v, evidence }
  }
  if (input.manifest === undefined) return { kind: 'malformed', reason: 'no manifest', evidence: [] }
  return classifyManifest(input, input.manifest, undefined)
}
