/**
 * Cache in front of registry lookups. The three maps are lru-cache instances (LRU, size, TTL);
 * only the abort-aware coalescing join is our own.
 *  - Facts for a digest are content-addressed, so immutable: kept in an LRU bounded by
 *    entries and approximate bytes.
 *  - tag -> digest mappings expire after `tagTtlMs` (default 60 s).
 *  - Unknown facts (errors, negatives) are kept `errorTtlMs` (default 10 s), per credential
 *    scope; deadline failures are never cached (they belong to one request).
 *  - Concurrent lookups of one reference (and scope) share one in-flight load. Each caller
 *    still ends at its own deadline; the shared load is aborted only when every caller left.
 *
 * Facts are about image content, so a digest's fact is shared between namespaces; pull
 * authorisation stays the kubelet's job.
 */
import { LRUCache } from 'lru-cache'
import type { Registry } from 'prom-client'
import type { ImageFact, UnknownImageFact } from '../../domain/facts.js'
import { promImageMetrics, type CacheObserver } from './metrics.js'
import { referenceKey, type ImageReference } from './reference.js'

export interface ImageFactsCacheOptions {
  /** Max digest-keyed facts (default 5000). Tag and error maps use the same bound. */
  maxEntries?: number
  /** Approximate max bytes of digest-keyed facts (default 32 MiB). */
  maxBytes?: number
  /** tag -> digest lifetime (default 60 000 ms). */
  tagTtlMs?: number
  /** Unknown-fact lifetime (default 10 000 ms). */
  errorTtlMs?: number
  /** Clock (tests). */
  now?: () => number
  observer?: CacheObserver
  /** prom-client registry for `wasm_admission_image_cache_requests_total` (not the global one). */
  registry?: Registry
}

/** Loads a fact; must not throw (a thrown error becomes WA_ERR_IMAGE_REGISTRY). */
export type FactLoader = (signal: AbortSignal) => Promise<ImageFact>

/** Approximate bytes a fact holds in memory (UTF-16 JSON plus overhead). */
const factSize = (fact: ImageFact): number => JSON.stringify(fact).length * 2 + 64

/** Codes never cached: they depend on the caller, not on the image. */
const UNCACHED_CODES = new Set(['WA_ERR_IMAGE_DEADLINE'])

interface Inflight {
  promise: Promise<ImageFact>
  controller: AbortController
  waiters: number
}

export interface CacheStats {
  facts: number
  factBytes: number
  tags: number
  errors: number
  inflight: number
}

export class ImageFactsCache {
  private readonly facts: LRUCache<string, ImageFact>
  private readonly tags: LRUCache<string, string>
  private readonly errors: LRUCache<string, UnknownImageFact>
  private readonly inflight = new Map<string, Inflight>()
  private readonly now: () => number
  private readonly observers: CacheObserver[] = []

  constructor(opts: ImageFactsCacheOptions = {}) {
    const maxEntries = opts.maxEntries ?? 5000
    this.now = opts.now ?? Date.now
    // TTLs read this clock on every check (ttlResolution 0: lru-cache would otherwise reuse one
    // reading for 1 ms of real time, which a test clock does not follow).
    const perf = { now: () => this.now() }
    // A fact larger than maxBytes is not stored (lru-cache's maxEntrySize defaults to maxSize).
    this.facts = new LRUCache<string, ImageFact>({ max: maxEntries, maxSize: opts.maxBytes ?? 32 * 1024 * 1024, sizeCalculation: factSize })
    this.tags = new LRUCache<string, string>({ max: maxEntries, ttl: opts.tagTtlMs ?? 60_000, ttlResolution: 0, perf })
    this.errors = new LRUCache<string, UnknownImageFact>({ max: maxEntries, ttl: opts.errorTtlMs ?? 10_000, ttlResolution: 0, perf })
    if (opts.observer !== undefined) this.observers.push(opts.observer)
    if (opts.registry !== undefined) this.observers.push(promImageMetrics(opts.registry).cache)
  }

  /**
   * The fact for `ref` from cache, or from `load` (coalesced). `scope` separates callers whose
   * credentials may differ (it keys coalescing and cached errors, not digest facts).
   */
  get(ref: ImageReference, scope: string, signal: AbortSignal, load: FactLoader): Promise<ImageFact> {
    const known = this.hit(ref, scope)
    if (known !== undefined) return Promise.resolve(known)
    const key = referenceKey(ref)
    const scoped = `${key}\0${scope}`
    let f = this.inflight.get(scoped)
    if (f === undefined) {
      this.emit('miss', key)
      const controller = new AbortController()
      const entry: Inflight = { controller, waiters: 0, promise: Promise.resolve(undefined as unknown as ImageFact) }
      entry.promise = (async (): Promise<ImageFact> => {
        let fact: ImageFact
        try {
          fact = await load(controller.signal)
        } catch (e) {
          fact = { kind: 'unknown', image: ref.original, code: 'WA_ERR_IMAGE_REGISTRY', reason: `lookup failed: ${(e as Error)?.message ?? String(e)}`, evidence: [] }
        } finally {
          this.inflight.delete(scoped)
        }
        this.store(ref, scoped, fact)
        return fact
      })()
      this.inflight.set(scoped, entry)
      f = entry
    } else {
      this.emit('hit', key)
    }
    return this.join(f, ref, signal)
  }

  /**
   * What get() answers from memory, synchronously, counted as a hit: the fact for the reference, or
   * the cached error for this scope; undefined when get() would have to load or join a load.
   */
  hit(ref: ImageReference, scope: string): ImageFact | undefined {
    const key = referenceKey(ref)
    const cached = this.cachedFact(ref) ?? this.errors.get(`${key}\0${scope}`)
    if (cached !== undefined) this.emit('hit', key)
    return cached
  }

  /** A cached fact for the reference, without loading. */
  peek(ref: ImageReference): ImageFact | undefined {
    return this.cachedFact(ref)
  }

  clear(): void {
    this.facts.clear()
    this.tags.clear()
    this.errors.clear()
  }

  stats(): CacheStats {
    return { facts: this.facts.size, factBytes: this.facts.calculatedSize, tags: this.tags.size, errors: this.errors.size, inflight: this.inflight.size }
  }

  private cachedFact(ref: ImageReference): ImageFact | undefined {
    const digest = ref.digest ?? this.tags.get(referenceKey(ref))
    if (digest === undefined) return undefined
    return this.facts.get(`${ref.name}@${digest}`)
  }

  private store(ref: ImageReference, scoped: string, fact: ImageFact): void {
    if (fact.kind === 'unknown') {
      this.emit('error', referenceKey(ref), fact.code)
      if (!UNCACHED_CODES.has(fact.code)) this.errors.set(scoped, fact)
      return
    }
    this.facts.set(`${ref.name}@${fact.digest}`, fact)
    if (ref.digest === undefined) this.tags.set(referenceKey(ref), fact.digest)
  }

  private join(f: Inflight, ref: ImageReference, signal: AbortSignal): Promise<ImageFact> {
    f.waiters++
    return new Promise<ImageFact>((resolve) => {
      let done = false
      const leave = (): void => {
        if (done) return
        done = true
        signal.removeEventListener('abort', onAbort)
        f.waiters--
      }
      const onAbort = (): void => {
        if (done) return
        leave()
        if (f.waiters === 0) f.controller.abort(signal.reason)
        resolve({
          kind: 'unknown',
          image: ref.original,
          code: 'WA_ERR_IMAGE_DEADLINE',
          reason: `registry lookup for ${ref.original} did not finish before the admission deadline`,
          evidence: [],
        })
      }
      if (signal.aborted) {
        onAbort()
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      f.promise.then((fact) => {
        if (done) return
        leave()
        resolve(fact)
      })
    })
  }

  private emit(kind: 'hit' | 'miss' | 'error', key: string, code?: string): void {
    for (const o of this.observers) {
      try {
        if (kind === 'hit') o.onHit?.(key)
        else if (kind === 'miss') o.onMiss?.(key)
        else o.onError?.(key, code ?? '')
      } catch {
        // observers must not break lookups
      }
    }
  }
}
