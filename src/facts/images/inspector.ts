/**
 * The ImageFactsSource: reference -> cache -> manifest (index -> Wasm entry) -> config ->
 * (small layers) -> classify. Never throws: every failure is an UnknownImageFact with a
 * WA_ERR_IMAGE_* code and a reason without credentials.
 */
import type { Registry } from 'prom-client'
import { LRUCache } from 'lru-cache'
import { formatMessage, WasmAdmissionError } from '../../errors.js'
import type { ImageFact, ImageFactsSource, ImageLookupContext, UnknownImageFact } from '../../domain/facts.js'
import type { Readiness } from '../../domain/readiness.js'
import { ImageFactsCache, type ImageFactsCacheOptions } from './cache.js'
import {
  classify,
  configToFetch,
  layersToPeek,
  MalformedDocumentError,
  parseManifestDocument,
  selectIndexEntry,
  type ClassifyInput,
  type LayerPeek,
  type ManifestDocument,
  type Platform,
} from './classify.js'
import { promImageMetrics } from './metrics.js'
import { manifestReference, parseReference, type ImageReference } from './reference.js'
import { RegistryClient, type RegistryClientOptions, type RequestContext } from './registry-client.js'
import { peekLayer } from './tar-peek.js'

export interface PeekOptions {
  /** Only layers up to this compressed size are opened (default 2 MiB). */
  maxLayerBytes: number
  /** Compressed bytes opened per image (default 4 MiB). */
  maxTotalBytes: number
  /** Decompressed bytes read per layer (default 8 MiB). */
  maxDecompressedBytes: number
}

export const DEFAULT_PEEK: PeekOptions = {
  maxLayerBytes: 2 * 1024 * 1024,
  maxTotalBytes: 4 * 1024 * 1024,
  maxDecompressedBytes: 8 * 1024 * 1024,
}

export interface ImageInspectorOptions extends RegistryClientOptions {
  /** A ready client (then the RegistryClientOptions fields are ignored). */
  client?: RegistryClient
  /** Cache options, a shared cache, or false for none. */
  cache?: ImageFactsCacheOptions | ImageFactsCache | false
  peek?: Partial<PeekOptions>
  /** prom-client registry for the cache and registry-request metrics (never the global one). */
  metricsRegistry?: Registry
}

const NO_CONTEXT: Omit<ImageLookupContext, 'signal'> = { namespace: '', pullSecretNames: [], serviceAccountName: '' }

export class ImageInspector implements ImageFactsSource {
  readonly client: RegistryClient
  readonly cache: ImageFactsCache | undefined
  private readonly peek: PeekOptions
  private readonly ownsClient: boolean
  private readonly refs = new LRUCache<string, ImageReference>({ max: 4096 })

  constructor(opts: ImageInspectorOptions = {}) {
    const metrics = opts.metricsRegistry !== undefined ? promImageMetrics(opts.metricsRegistry) : undefined
    if (opts.client !== undefined) {
      this.client = opts.client
      this.ownsClient = false
    } else {
      const clientOpts: RegistryClientOptions = { ...opts }
      if (metrics !== undefined && clientOpts.observer === undefined) clientOpts.observer = metrics.registry
      this.client = new RegistryClient(clientOpts)
      this.ownsClient = true
    }
    if (opts.cache === false) this.cache = undefined
    else if (opts.cache instanceof ImageFactsCache) this.cache = opts.cache
    else {
      const c: ImageFactsCacheOptions = { ...(opts.cache ?? {}) }
      if (metrics !== undefined && c.observer === undefined && c.registry === undefined) c.observer = metrics.cache
      this.cache = new ImageFactsCache(c)
    }
    this.peek = { ...DEFAULT_PEEK, ...(opts.peek ?? {}) }
  }

  /** The fact from the cache (a hit), or undefined: a miss, a lookup in flight, or a reference that does not parse. */
  cached(image: string, ctx: Omit<ImageLookupContext, 'signal'>): ImageFact | undefined {
    if (this.cache === undefined) return undefined
    let ref: ImageReference
    try {
      ref = this.parse(image)
    } catch {
      return undefined
    }
    const fact = this.cache.hit(ref, scopeKey(ctx))
    return fact === undefined || fact.image === image ? fact : { ...fact, image }
  }

  /** parseReference, remembered per image string (reviews repeat images; a parsed reference is never modified). */
  private parse(image: string): ImageReference {
    let ref = this.refs.get(image)
    if (ref === undefined) {
      ref = parseReference(image)
      this.refs.set(image, ref)
    }
    return ref
  }

  async lookup(image: string, ctx: ImageLookupContext): Promise<ImageFact> {
    let ref: ImageReference
    try {
      ref = this.parse(image)
    } catch (e) {
      return unknown(image, 'WA_ERR_IMAGE_REFERENCE', formatMessage('WA_ERR_IMAGE_REFERENCE', [JSON.stringify(image), (e as Error).message]))
    }
    if (ctx.signal.aborted) return unknown(image, 'WA_ERR_IMAGE_DEADLINE', formatMessage('WA_ERR_IMAGE_DEADLINE', [image]))
    const lookupCtx = { namespace: ctx.namespace, pullSecretNames: ctx.pullSecretNames, serviceAccountName: ctx.serviceAccountName }
    const fact =
      this.cache !== undefined
        ? await this.cache.get(ref, scopeKey(lookupCtx), ctx.signal, (signal) => this.inspect(ref, { ...lookupCtx, signal }))
        : await this.inspect(ref, ctx)
    return fact.image === image ? fact : { ...fact, image }
  }

  /** Uncached inspection of a parsed reference. Never throws. */
  async inspect(ref: ImageReference, ctx: ImageLookupContext): Promise<ImageFact> {
    const rctx: RequestContext = { signal: ctx.signal, subject: ref.original, lookup: ctx }
    try {
      return await this.inspectOrThrow(ref, rctx)
    } catch (e) {
      if (ctx.signal.aborted) return unknown(ref.original, 'WA_ERR_IMAGE_DEADLINE', formatMessage('WA_ERR_IMAGE_DEADLINE', [ref.original]))
      if (e instanceof WasmAdmissionError) return unknown(ref.original, e.code, e.message)
      if (e instanceof MalformedDocumentError) {
        return unknown(ref.original, 'WA_ERR_IMAGE_MALFORMED', formatMessage('WA_ERR_IMAGE_MALFORMED', [ref.original, e.message]))
      }
      return unknown(ref.original, 'WA_ERR_IMAGE_REGISTRY', formatMessage('WA_ERR_IMAGE_REGISTRY', [ref.original, `unexpected failure: ${(e as Error)?.message ?? String(e)}`]))
    }
  }

  readiness(): Readiness {
    return { ready: true, detail: 'image facts are looked up per request (registry reachability is not a readiness condition)' }
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close()
  }

  private async inspectOrThrow(ref: ImageReference, rctx: RequestContext): Promise<ImageFact> {
    const top = await this.client.getManifest(ref, manifestReference(ref), rctx)
    const parsed = parseManifestDocument(top.json, top.contentType)
    const input: ClassifyInput = { repository: ref.name }
    let manifest: ManifestDocument | undefined
    let platformHint: Platform | undefined
    if (parsed.kind === 'index') {
      input.index = parsed
      const sel = selectIndexEntry(parsed)
      if (sel.entry !== undefined) {
        const entry = await this.client.getManifest(ref, sel.entry.digest, rctx)
        const doc = parseManifestDocument(entry.json, entry.contentType)
        if (doc.kind === 'index') throw new MalformedDocumentError(`index entry ${sel.entry.digest} is itself an index`)
        manifest = doc
        input.manifestDigest = entry.digest
        platformHint = sel.entry.platform
      }
    } else {
      manifest = parsed
    }
    if (manifest !== undefined) {
      input.manifest = manifest
      const cfg = configToFetch(manifest)
      if (cfg !== undefined) {
        if (cfg.size > this.client.limits.configBytes) {
          throw new WasmAdmissionError('WA_ERR_IMAGE_TOO_LARGE', [ref.original, this.client.limits.configBytes])
        }
        input.config = await this.client.getJsonBlob(ref, cfg.digest, this.client.limits.configBytes, rctx)
      }
      const toPeek = layersToPeek(manifest, input.config, { maxLayerBytes: this.peek.maxLayerBytes, maxTotalBytes: this.peek.maxTotalBytes }, platformHint)
      if (toPeek.length > 0) {
        const peeks: LayerPeek[] = []
        for (const d of toPeek) {
          let blob: Uint8Array
          try {
            blob = await this.client.getBlob(ref, d.digest, this.peek.maxLayerBytes, rctx)
          } catch (e) {
            if (rctx.signal.aborted) throw e
            continue // a layer we cannot open only weakens the evidence
          }
          peeks.push({ digest: d.digest, mediaType: d.mediaType, result: await peekLayer(blob, { maxDecompressedBytes: this.peek.maxDecompressedBytes }) })
          if (peeks.some((p) => p.result.entries.some((e) => e.path === 'spin.toml' || e.path === 'slightfile.toml'))) break
        }
        input.peeks = peeks
      }
    }
    const v = classify(input)
    const image = ref.original
    switch (v.kind) {
      case 'wasm':
        return { kind: 'wasm', image, digest: top.digest, runtime: v.runtime, packaging: v.packaging, pinnedImage: v.pinnedImage, hasEntrypoint: v.hasEntrypoint, evidence: v.evidence }
      case 'linux':
        return { kind: 'linux', image, digest: top.digest, evidence: v.evidence }
      case 'unsupported':
        return { kind: 'unsupported', image, digest: top.digest, evidence: v.evidence }
      case 'malformed':
        return { ...unknown(image, 'WA_ERR_IMAGE_MALFORMED', formatMessage('WA_ERR_IMAGE_MALFORMED', [image, v.reason])), evidence: v.evidence }
    }
  }
}

function unknown(image: string, code: string, reason: string): UnknownImageFact {
  return { kind: 'unknown', image, code, reason, evidence: [] }
}

function scopeKey(ctx: Omit<ImageLookupContext, 'signal'>): string {
  return `${ctx.namespace}\0${ctx.serviceAccountName}\0${[...ctx.pullSecretNames].sort().join(',')}`
}

/** Convenience for the composition root. */
export function createImageFactsSource(opts: ImageInspectorOptions = {}): ImageInspector {
  return new ImageInspector(opts)
}

/** A lookup context for callers outside admission (CLI, diagnostics). */
export function standaloneContext(signal: AbortSignal): ImageLookupContext {
  return { ...NO_CONTEXT, signal }
}
