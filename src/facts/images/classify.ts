/**
 * The classifier: fetched documents in, verdict out. PURE (no I/O, no clock).
 * Implements the rules of docs/wasm-oci.md (§3 indexes, §4-§5 manifests). Every verdict carries
 * evidence strings naming the media type, field or file that decided it.
 *
 * The inspector drives it in steps: parseManifestDocument (documents.ts) -> (index)
 * selectIndexEntry -> configToFetch -> layersToPeek (selection.ts) -> classify. The rules
 * for one manifest are the ordered, named lists in classify-rules.ts; this file adds the
 * index level (no Wasm entry, pinning to the entry digest).
 */
import { classifyManifest, type LayerPeek, type Verdict } from './classify-rules.js'
import type { IndexDocument, ManifestDocument } from './documents.js'
import { crunAnnotation, formatPlatform, selectIndexEntry, type IndexSelection } from './selection.js'

export { MalformedDocumentError, parseManifestDocument, summariseConfig } from './documents.js'
export type { Descriptor, ImageConfigSummary, IndexDocument, ManifestDocument, ParsedManifest, Platform } from './documents.js'
export { configToFetch, formatPlatform, isWasmArch, isWasmOs, isWasmPlatform, layersToPeek, selectIndexEntry } from './selection.js'
export type { IndexSelection, PeekBudget } from './selection.js'
export type { LayerPeek, Verdict } from './classify-rules.js'

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

/** An index without a Wasm entry: crun-annotated, else Linux. */
function classifyIndexWithoutWasmEntry(index: IndexDocument, sel: IndexSelection): Verdict {
  const ev = [...sel.evidence]
  const crun = crunAnnotation(index.annotations) ?? index.manifests.map((d) => crunAnnotation(d.annotations)).find((x) => x !== undefined)
  if (crun !== undefined) {
    ev.push(`index annotation ${crun[0]}=${crun[1]}: crun Wasm handler`)
    return { kind: 'wasm', runtime: 'crun', packaging: 'crun-annotated', pinnedImage: null, hasEntrypoint: true, evidence: ev }
  }
  ev.push(`no Wasm entry (platforms: ${sel.otherEntries.map((d) => formatPlatform(d.platform)).join(', ') || 'none'})`)
  return { kind: 'linux', evidence: ev }
}

/** The verdict for a fetched image. */
export function classify(input: ClassifyInput): Verdict {
  const peeks = input.peeks ?? []
  if (input.index !== undefined) {
    const sel = selectIndexEntry(input.index)
    if (sel.entry === undefined) return classifyIndexWithoutWasmEntry(input.index, sel)
    if (input.manifest === undefined) return { kind: 'malformed', reason: 'index entry manifest was not read', evidence: sel.evidence }
    const v = classifyManifest(input.manifest, input.config, peeks, sel.entry.platform, sel.entry.annotations)
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
  return classifyManifest(input.manifest, input.config, peeks, undefined)
}
