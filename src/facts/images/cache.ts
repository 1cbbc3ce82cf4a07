/**
 * Cache in front of registry lookups.
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

/** Codes never cached: they depend on the caller, not on the image. */
const UNCACHED_CODES = new Set(['WA_ERR_IMAGE_DEADLINE'])

interface Inflight {
  promise: Promise<ImageFact>
  controller: AbortController
  waiters: number
}

class Lru<V> {
  private readonly map = new Map<string, { value: V; size: number; expires: number }>()
  bytes = 0
  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const e = this.map.get(key)
    if (e === undefined) return undefined
    if (e.expires <= now) {
      this.delete(key)
      return undefined
    }
    this.map.delete(key)
    this.map.set(key, e)
    return e.value
  }

  set(key: string, value: V, size: number, expires: number): void {
    this.delete(key)
    if (size > this.maxBytes) return
    this.map.set(key, { value, size, expires })
    this.bytes += size
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value
      if (oldest === undefined) break
      this.delete(oldest)
    }
  }

  delete(key: string): void {
    const e = this.map.get(key)
    if (e !== undefined) {
      this.bytes -= e.size
      this.map.delete(key)
    }
  }

  get size(): number {
    return this.map.size
  }

  clear(): void {
    this.map.clear()
    this.bytes = 0
  }
}

export interface CacheStats {
  facts: number
  factBytes: number
  tags: number
  errors: number
  inflight: number
}

export class ImageFactsCache {
  private readonly facts: Lru<ImageFact>
  private readonly tags: Lru<string>
  private readonly errors: Lru<UnknownImageFact>
  private readonly inflight = new Map<string, Inflight>()
  private readonly tagTtlMs: number
  private readonly errorTtlMs: number
  private readonly now: () => number
  private readonly observers: CacheObserver[] = []

  constructor(opts: ImageFactsCacheOptions = {}) {
    const maxEntries = opts.maxEntries ?? 5000
    this.facts = new Lru(maxEntries, opts.maxBytes ?? 32 * 1024 * 1024)
    this.tags = new Lru(maxEntries, Number.MAX_SAFE_INTEGER)
    this.errors = new Lru(maxEntries, Number.MAX_SAFE_INTEGER)
    this.tagTtlMs = opts.tagTtlMs ?? 60_000
    this.errorTtlMs = opts.errorTtlMs ?? 10_000
    this.now = opts.now ?? Date.now
    if (opts.observer !== undefined) this.observers.push(opts.observer)
    if (opts.registry !== undefined) this.observers.push(promImageMetrics(opts.registry).cache)
  }

  /**
   * The fact for `ref` from cache, or from `load` (coalesced). `scope` separates callers whose
   * credentials may differ (it keys coalescing and cached errors, not digest facts).
   */
  get(ref: ImageReference, scope: string, signal: AbortSignal, load: FactLoader): Promise<ImageFact> {
    const now = this.now()
    const key = referenceKey(ref)
    const cached = this.cachedFact(ref, now)
    if (cached !== undefined) {
      this.emit('hit', key)
      return Promise.resolve(cached)
    }
    const scoped = `${key}\0${scope}`
    const err = this.errors.get(scoped, now)
    if (err !== undefined) {
      this.emit('hit', key)
      return Promise.resolve(err)
    }
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

  /** A cached fact for the reference, without loading. */
  peek(ref: ImageReference): ImageFact | undefined {
    return this.cachedFact(ref, this.now())
  }

  clear(): void {
    this.facts.clear()
    this.tags.clear()
    this.errors.clear()
  }

  stats(): CacheStats {
    return { facts: this.facts.size, factBytes: this.facts.bytes, tags: this.tags.size, errors: this.errors.size, inflight: this.inflight.size }
  }

  private cachedFact(ref: ImageReference, now: number): ImageFact | undefined {
    const digest = ref.digest ?? this.tags.get(referenceKey(ref), now)
    if (digest === undefined) return undefined
    return this.facts.get(`${ref.name}@${digest}`, now)
  }

  private store(ref: ImageReference, scoped: string, fact: ImageFact): void {
    const now = this.now()
    if (fact.kind === 'unknown') {
      this.emit('error', referenceKey(ref), fact.code)
      if (!UNCACHED_CODES.has(fact.code)) this.errors.set(scoped, fact, 1, now + this.errorTtlMs)
      return
    }
    const size = JSON.stringify(fact).length * 2 + 64
    this.facts.set(`${ref.name}@${fact.digest}`, fact, size, Number.POSITIVE_INFINITY)
    if (ref.digest === undefined) this.tags.set(referenceKey(ref), fact.digest, 1, now + this.tagTtlMs)
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
