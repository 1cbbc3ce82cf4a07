/**
 * Selection: which documents the inspector fetches next. PURE (no I/O, no clock).
 * The Wasm entry of an index, the config blob of a manifest, and the layers worth opening.
 */
import { summariseConfig, type Descriptor, type ImageConfigSummary, type IndexDocument, type ManifestDocument, type Platform } from './documents.js'
import { CRUN_ANNOTATIONS, IMAGE_CONFIG_MEDIA_TYPES, MT, TAR_LAYER_MEDIA_TYPES, WASM_ARCH, WASM_OS } from './media-types.js'

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

/** The first crun-style Wasm annotation (key, value) in `annotations`. */
export function crunAnnotation(annotations: Record<string, string> | undefined): [string, string] | undefined {
  if (annotations === undefined) return undefined
  for (const k of CRUN_ANNOTATIONS) {
    const v = annotations[k]
    if (v !== undefined) return [k, v]
  }
  return undefined
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
