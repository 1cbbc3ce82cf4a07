/**
 * The classification rules for one manifest, as ordered lists of small named rules. PURE.
 * Implements the rules of docs/wasm-oci.md §4 and §5 (each with its public source).
 *
 * Two tiers, each evaluated in order, the first rule that answers wins:
 *  - MANIFEST_RULES look at the manifest's media types only (artifacts, CNCF Wasm, OCI 1.1
 *    empty configs, non-image configs). Their last rule, `image-config`, reads the image
 *    config and hands over to
 *  - IMAGE_RULES, which see the config summary (platform, Entrypoint/Cmd, labels) and the
 *    peeked rootfs entries. Their last rule, `wasm-platform-entrypoint`, always answers.
 * Every verdict starts with the evidence `manifest <mediaType>`, then the rule's own.
 */
import type { RuntimeFamily, WasmPackaging } from '../../domain/facts.js'
import { summariseConfig, type ImageConfigSummary, type ManifestDocument, type Platform } from './documents.js'
import {
  IMAGE_CONFIG_MEDIA_TYPES,
  MT,
  RUNWASI_LAYER_MEDIA_TYPES,
  SPIN_LAYER_MEDIA_TYPES,
  SPIN_LOCKED_APP_LABEL,
  TAR_LAYER_MEDIA_TYPES,
} from './media-types.js'
import { crunAnnotation, formatPlatform, isWasmPlatform } from './selection.js'
import type { TarEntry, TarPeekResult } from './tar-peek.js'

export type Verdict =
  | { kind: 'wasm'; runtime: RuntimeFamily; packaging: WasmPackaging; pinnedImage: string | null; hasEntrypoint: boolean; evidence: string[] }
  | { kind: 'linux'; evidence: string[] }
  | { kind: 'unsupported'; evidence: string[] }
  | { kind: 'malformed'; reason: string; evidence: string[] }

export interface LayerPeek {
  digest: string
  mediaType: string
  result: TarPeekResult
}

/** What the manifest rules see. */
export interface ManifestFacts {
  manifest: ManifestDocument
  cfgType: string
  layerTypes: string[]
  layerSet: Set<string>
  /** Parsed JSON of the config blob, when it was read. */
  config: unknown
  /** Tar entries of peeked layers, topmost layer first. */
  peeks: LayerPeek[]
  /** Platform of the index entry the manifest was selected by. */
  platformHint: Platform | undefined
  /** Annotations of the index entry the manifest was selected by. */
  entryAnnotations: Record<string, string> | undefined
}

/** What the image-config rules see: the manifest facts plus the readable image config. */
export interface ImageFacts extends ManifestFacts {
  c: ImageConfigSummary
  hasEntrypoint: boolean
  /** First Entrypoint element, else first Cmd element. */
  ep: string | undefined
  /** `os/architecture` of the config. */
  platform: string
}

/** A rule answers with a verdict (without the common `manifest …` evidence) or passes with undefined. */
export interface Rule<F> {
  name: string
  verdict: (f: F) => Verdict | undefined
}
/** The last rule of a tier: it always answers. */
export interface FinalRule<F> {
  name: string
  verdict: (f: F) => Verdict
}

function firstMatch<F>(rules: readonly Rule<F>[], final: FinalRule<F>, f: F): Verdict {
  for (const rule of rules) {
    const v = rule.verdict(f)
    if (v !== undefined) return v
  }
  return final.verdict(f)
}

const short = (d: string): string => (d.length > 19 ? `${d.slice(0, 19)}…` : d)
const list = (s: Iterable<string>): string => [...new Set(s)].join(', ')
const wasm = (runtime: RuntimeFamily, packaging: WasmPackaging, hasEntrypoint: boolean, evidence: string[]): Verdict => ({
  kind: 'wasm',
  runtime,
  packaging,
  pinnedImage: null,
  hasEntrypoint,
  evidence,
})

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

// ---------------------------------------------------------------- tier 1: manifest media types

const artifactType = (m: ManifestDocument): string => (m.artifactType ? `, artifactType ${m.artifactType}` : '')

/** Rule 2, last bullet: wasmCloud artifacts are not pod images. */
const wasmCloudArtifact: Rule<ManifestFacts> = {
  name: 'wasmcloud-artifact',
  verdict: ({ cfgType, layerTypes, layerSet }) => {
    if (!cfgType.startsWith('application/vnd.wasmcloud.') && !layerTypes.some((t) => t.startsWith('application/vnd.wasmcloud.'))) return undefined
    return {
      kind: 'unsupported',
      evidence: [`config ${cfgType}${layerTypes.length ? `, layers ${[...layerSet].join(', ')}` : ''}: wasmCloud artifact, not a pod image`],
    }
  },
}

const soloConfig: Rule<ManifestFacts> = {
  name: 'solo-config',
  verdict: ({ cfgType }) =>
    cfgType === MT.SOLO_CONFIG ? { kind: 'unsupported', evidence: [`config ${cfgType}: solo.io Wasm module (Envoy/Istio filter), not a pod image`] } : undefined,
}

const wasmToOciConfig: Rule<ManifestFacts> = {
  name: 'wasm-to-oci-config',
  verdict: ({ cfgType }) => (cfgType === MT.WASM_TO_OCI_CONFIG ? { kind: 'unsupported', evidence: [`config ${cfgType}: wasm-to-oci module, not a pod image`] } : undefined),
}

/** CNCF Wasm OCI artifact: config application/vnd.wasm.config.v0+json with a wasm layer. */
const cncfWasmArtifact: Rule<ManifestFacts> = {
  name: 'cncf-wasm-artifact',
  verdict: ({ cfgType, manifest, layerSet, config }) => {
    if (cfgType !== MT.WASM_CONFIG_V0) return undefined
    const ev = [`config ${cfgType}: CNCF Wasm OCI artifact`]
    const wasmLayers = manifest.layers.filter((l) => l.mediaType === MT.WASM_LAYER)
    if (wasmLayers.length === 0) {
      ev.push(`no ${MT.WASM_LAYER} layer (layers: ${[...layerSet].join(', ') || 'none'})`)
      return { kind: 'unsupported', evidence: ev }
    }
    ev.push(`layer ${MT.WASM_LAYER}${wasmLayers.length > 1 ? ` ×${wasmLayers.length} (the Spin shim requires a single layer; the v0 spec says consumers should reject)` : ''}`)
    let component = false
    if (config !== undefined) {
      try {
        const c = summariseConfig(config)
        const os = c.os?.toLowerCase()
        if (os === 'wasip2' && c.component) {
          ev.push('config os wasip2 with component: Wasm component')
          component = true
        } else if (os !== undefined) ev.push(`config os ${c.os}${os === 'wasip1' ? ': Wasm module' : ''}`)
      } catch {
        ev.push('config blob unreadable; layer type decides')
      }
    }
    // containerd-shim-spin loads a single application/wasm layer as a one-component HTTP app.
    const single = component && manifest.layers.length === 1
    ev.push(single ? 'runs on the runwasi shims (wasmtime, wasmedge, wasmer, wamr) and on the Spin shim (single layer)' : 'runs on the runwasi shims (wasmtime, wasmedge, wasmer, wamr)')
    return wasm('wasi', single ? 'wasm-component' : 'wasm-artifact', false, ev)
  },
}

/** Pre-2.0 Spin pushes: the locked app is the config. */
const spinLockedAppConfig: Rule<ManifestFacts> = {
  name: 'spin-locked-app-config',
  verdict: ({ cfgType, layerSet }) => {
    if (cfgType !== MT.SPIN_LOCKED_APP) return undefined
    const ev = [`config ${cfgType}: Spin locked app as the config (pre-Spin-2.0 push)`]
    if (layerSet.has(MT.SPIN_WASM_LAYER)) ev.push(`layer ${MT.SPIN_WASM_LAYER}`)
    ev.push('whether containerd-shim-spin runs pre-2.0 pushes is unconfirmed (runwasi reads the config as a platform)')
    return wasm('spin', 'spin-app', false, ev)
  },
}

/** OCI 1.1 artifacts with the empty config: Wasm ones have no platform for runwasi. */
const ociEmptyConfig: Rule<ManifestFacts> = {
  name: 'oci-empty-config',
  verdict: ({ cfgType, manifest, layerTypes }) => {
    if (cfgType !== MT.OCI_EMPTY) return undefined
    const wasmish = (manifest.artifactType ?? '').includes('wasm') || layerTypes.some((t) => t.includes('wasm'))
    if (wasmish) {
      return {
        kind: 'unsupported',
        evidence: [`config ${cfgType}${artifactType(manifest)}: Wasm artifact without a platform config; runwasi needs architecture wasm`],
      }
    }
    return { kind: 'linux', evidence: [`config ${cfgType}${artifactType(manifest)}: OCI artifact, not Wasm`] }
  },
}

const notAnImageConfig: Rule<ManifestFacts> = {
  name: 'not-an-image-config',
  verdict: ({ cfgType, layerTypes, layerSet }) => {
    if (IMAGE_CONFIG_MEDIA_TYPES.has(cfgType)) return undefined
    if (layerTypes.some((t) => t.includes('wasm')) || cfgType.includes('wasm')) {
      return {
        kind: 'unsupported',
        evidence: [`config ${cfgType || '(none)'} with Wasm layers (${[...layerSet].join(', ')}): unknown Wasm artifact, not a pod image`],
      }
    }
    return { kind: 'linux', evidence: [`config ${cfgType || '(none)'} is not an image config and nothing is Wasm`] }
  },
}

/** An ordinary image config (OCI or Docker): read it, then the image rules decide. */
const imageConfig: FinalRule<ManifestFacts> = {
  name: 'image-config',
  verdict: (f) => {
    if (f.config === undefined) return { kind: 'malformed', reason: 'image config was not read', evidence: [] }
    let c: ImageConfigSummary
    try {
      c = summariseConfig(f.config)
    } catch (e) {
      return { kind: 'malformed', reason: (e as Error).message, evidence: [] }
    }
    const hasEntrypoint = c.entrypoint.length > 0 || c.cmd.length > 0
    const facts: ImageFacts = { ...f, c, hasEntrypoint, ep: c.entrypoint[0] ?? c.cmd[0], platform: `${c.os ?? '?'}/${c.architecture ?? '?'}` }
    return firstMatch(IMAGE_RULES, wasmPlatformEntrypoint, facts)
  },
}

export const MANIFEST_RULES: readonly Rule<ManifestFacts>[] = [
  wasmCloudArtifact,
  soloConfig,
  wasmToOciConfig,
  cncfWasmArtifact,
  spinLockedAppConfig,
  ociEmptyConfig,
  notAnImageConfig,
]
export const MANIFEST_FINAL_RULE: FinalRule<ManifestFacts> = imageConfig

// ---------------------------------------------------------------- tier 2: image config

const spinLayersOf = (f: ImageFacts): string[] => f.layerTypes.filter((t) => SPIN_LAYER_MEDIA_TYPES.has(t))
const runwasiLayersOf = (f: ImageFacts): string[] => f.layerTypes.filter((t) => RUNWASI_LAYER_MEDIA_TYPES.has(t))
const historicLayersOf = (f: ImageFacts): string[] => f.layerTypes.filter((t) => t === MT.RUNWASI_HISTORIC_MODULE || t === MT.RUNWASI_HISTORIC_COMPONENT)
const tarLayersOf = (f: ImageFacts): string[] => f.layerTypes.filter((t) => TAR_LAYER_MEDIA_TYPES.has(t))
const hasWasmLayers = (f: ImageFacts): boolean => spinLayersOf(f).length > 0 || runwasiLayersOf(f).length > 0 || historicLayersOf(f).length > 0
const wasmArchLayers = (f: ImageFacts): boolean => hasWasmLayers(f) && f.c.architecture === 'wasm'
const configIsWasm = (f: ImageFacts): boolean => isWasmPlatform({ os: f.c.os, architecture: f.c.architecture })
const wasmArchEvidence = (f: ImageFacts): string => `config architecture wasm, os ${f.c.os ?? '?'}`

/** Rule 3: a crun-style annotation on the manifest or its index entry. */
const crunAnnotated: Rule<ImageFacts> = {
  name: 'crun-annotation',
  verdict: (f) => {
    const crun = crunAnnotation(f.manifest.annotations) ?? crunAnnotation(f.entryAnnotations)
    if (crun === undefined) return undefined
    return wasm('crun', 'crun-annotated', f.hasEntrypoint, [`annotation ${crun[0]}=${crun[1]}: crun Wasm handler`, `config platform ${f.platform}`])
  },
}

const wasmLayersNeedWasmArch: Rule<ImageFacts> = {
  name: 'wasm-layers-need-wasm-arch',
  verdict: (f) => {
    if (!hasWasmLayers(f) || f.c.architecture === 'wasm') return undefined
    return {
      kind: 'unsupported',
      evidence: [
        `Wasm layers (${list([...spinLayersOf(f), ...runwasiLayersOf(f), ...historicLayersOf(f)])}) but config architecture is "${f.c.architecture ?? ''}": runwasi only loads Wasm layers when architecture is exactly "wasm"`,
      ],
    }
  },
}

/** Spin >= 2.0 registry pushes. */
const spinLayers: Rule<ImageFacts> = {
  name: 'spin-layers',
  verdict: (f) => {
    const spin = spinLayersOf(f)
    if (!wasmArchLayers(f) || spin.length === 0) return undefined
    const ev = [wasmArchEvidence(f), `layers ${list(spin)}: Spin (>= 2.0 registry push)`]
    if (f.layerTypes[f.layerTypes.length - 1] === MT.SPIN_LOCKED_APP) ev.push(`last layer ${MT.SPIN_LOCKED_APP}: locked app`)
    const locked = f.c.labels[SPIN_LOCKED_APP_LABEL]
    if (locked !== undefined) ev.push(`config label ${SPIN_LOCKED_APP_LABEL}=${short(locked)}`)
    return wasm('spin', 'spin-app', f.hasEntrypoint, ev)
  },
}

/** runwasi's oci-tar-builder layers. */
const runwasiLayers: Rule<ImageFacts> = {
  name: 'runwasi-layers',
  verdict: (f) => {
    const runwasi = runwasiLayersOf(f)
    if (!wasmArchLayers(f) || runwasi.length === 0) return undefined
    const ev = [wasmArchEvidence(f), `layers ${list(runwasi)}: runwasi Wasm layers (oci-tar-builder)`]
    if (f.ep !== undefined) ev.push(`entrypoint ${f.ep}`)
    return wasm('wasi', 'runwasi-layers', f.hasEntrypoint, ev)
  },
}

const historicRunwasiLayers: Rule<ImageFacts> = {
  name: 'historic-runwasi-layers',
  verdict: (f) => {
    if (!wasmArchLayers(f)) return undefined
    return {
      kind: 'unsupported',
      evidence: [wasmArchEvidence(f), `layers ${list(historicLayersOf(f))}: historic runwasi oci-tar-builder media types, not loaded by current shims`],
    }
  },
}

const soloLayersOnly: Rule<ImageFacts> = {
  name: 'solo-layers-only',
  verdict: (f) => {
    if (!f.layerTypes.some((t) => t === MT.SOLO_LAYER) || tarLayersOf(f).length > 0) return undefined
    return { kind: 'unsupported', evidence: [`layer ${MT.SOLO_LAYER} with config ${f.cfgType}: legacy wasmCloud / solo.io module, not a pod image`] }
  },
}

const linuxPlatform: Rule<ImageFacts> = {
  name: 'linux-platform',
  verdict: (f) => (configIsWasm(f) || isWasmPlatform(f.platformHint) ? undefined : { kind: 'linux', evidence: [`config platform ${f.platform}`] }),
}

// From here on: a FROM-scratch filesystem image with a Wasm platform.

const wasmPlatformEvidence = (f: ImageFacts): string =>
  `config platform ${f.platform}${!configIsWasm(f) && f.platformHint ? ` (index entry platform ${formatPlatform(f.platformHint)})` : ''}: Wasm`
const filesystemEvidence = (f: ImageFacts): string => {
  const n = tarLayersOf(f).length
  return `${n} filesystem layer${n === 1 ? '' : 's'} (FROM scratch)`
}
/** Evidence shared by the rules that look inside the rootfs of an image without Entrypoint/Cmd. */
const rootfsEvidence = (f: ImageFacts): string[] => [wasmPlatformEvidence(f), filesystemEvidence(f), 'config has no Entrypoint/Cmd']

const wasmPlatformNoLayers: Rule<ImageFacts> = {
  name: 'wasm-platform-no-layers',
  verdict: (f) => (f.layerTypes.length > 0 ? undefined : { kind: 'unsupported', evidence: [wasmPlatformEvidence(f), 'no layers: nothing to run'] }),
}

/** No Entrypoint/Cmd and the rootfs holds an app manifest (`/spin.toml`, `/slightfile.toml`). */
function appManifestInRootfs(name: string, file: string, runtime: 'spin' | 'slight', kind: 'spin-app' | 'slight-app'): Rule<ImageFacts> {
  return {
    name,
    verdict: (f) => {
      if (f.hasEntrypoint) return undefined
      const found = findEntry(f.peeks, (e) => e.path === file)
      if (found === undefined) return undefined
      return wasm(runtime, kind, f.hasEntrypoint, [...rootfsEvidence(f), `rootfs has /${file} (layer ${short(found.layer.digest)})`])
    },
  }
}

const spinTomlInRootfs = appManifestInRootfs('spin-toml-in-rootfs', 'spin.toml', 'spin', 'spin-app')
const slightfileInRootfs = appManifestInRootfs('slightfile-in-rootfs', 'slightfile.toml', 'slight', 'slight-app')

/** No Entrypoint/Cmd and no app manifest in the rootfs: generic WASI, saying how much was seen. */
const wasiRootfs: Rule<ImageFacts> = {
  name: 'wasi-rootfs',
  verdict: (f) => {
    if (f.hasEntrypoint) return undefined
    const { peeks } = f
    const ev = rootfsEvidence(f)
    const wasmFile = findEntry(peeks, (e) => (e.type === '0' || e.type === '\0') && /\.(wasm|wat)$/.test(e.path))
    // Say so when the look inside the layers stopped early: a spin.toml past the budget was not seen.
    const cut = peeks.find((p) => p.result.truncated)
    const partial = cut !== undefined || peeks.length < tarLayersOf(f).length
    const partialNote = partial ? ` (rootfs only partly inspected${cut?.result.note ? `: ${cut.result.note}` : ': layers over the peek budget'}; a spin.toml or slightfile.toml beyond that was not seen)` : ''
    if (wasmFile !== undefined) {
      ev.push(`rootfs has ${wasmFile.entry.path}${hasWasmMagic(wasmFile.entry.head) ? ' (starts with \\0asm)' : ''}: generic WASI${partialNote}`)
    } else if (peeks.length === 0) {
      ev.push('layers not inspected (over the peek budget); no spin.toml/slightfile.toml seen: assuming generic WASI')
    } else {
      ev.push(`no spin.toml, slightfile.toml or .wasm file found${partial ? ' in the inspected part of the rootfs' : ''}: assuming generic WASI`)
    }
    return wasm('wasi', 'wasm-file', f.hasEntrypoint, ev)
  },
}

/** A Wasm platform with an Entrypoint/Cmd: generic WASI. */
const wasmPlatformEntrypoint: FinalRule<ImageFacts> = {
  name: 'wasm-platform-entrypoint',
  verdict: (f) => {
    const ev = [wasmPlatformEvidence(f), filesystemEvidence(f), `entrypoint ${f.ep ?? ''}`]
    if (f.ep !== undefined && /\.(wasm|wat)$/.test(f.ep)) ev.push('entrypoint is a .wasm module: generic WASI')
    else ev.push('Wasm platform with a non-.wasm entrypoint: generic WASI (runwasi checks the \\0asm magic at start)')
    return wasm('wasi', 'wasm-file', f.hasEntrypoint, ev)
  },
}

export const IMAGE_RULES: readonly Rule<ImageFacts>[] = [
  crunAnnotated,
  wasmLayersNeedWasmArch,
  spinLayers,
  runwasiLayers,
  historicRunwasiLayers,
  soloLayersOnly,
  linuxPlatform,
  wasmPlatformNoLayers,
  spinTomlInRootfs,
  slightfileInRootfs,
  wasiRootfs,
]
export const IMAGE_FINAL_RULE: FinalRule<ImageFacts> = wasmPlatformEntrypoint

/** The verdict for one manifest: the first rule of MANIFEST_RULES (then IMAGE_RULES) that answers. */
export function classifyManifest(
  m: ManifestDocument,
  config: unknown,
  peeks: LayerPeek[],
  platformHint: Platform | undefined,
  entryAnnotations?: Record<string, string>,
): Verdict {
  const layerTypes = m.layers.map((l) => l.mediaType)
  const facts: ManifestFacts = {
    manifest: m,
    cfgType: m.config.mediaType,
    layerTypes,
    layerSet: new Set(layerTypes),
    config,
    peeks,
    platformHint,
    entryAnnotations,
  }
  const v = firstMatch(MANIFEST_RULES, MANIFEST_FINAL_RULE, facts)
  return { ...v, evidence: [`manifest ${m.mediaType}`, ...v.evidence] }
}
