import t from 'tap'
import { Registry } from 'prom-client'
import { ImageFactsCache } from '../../../src/facts/images/cache.js'
import { parseReference } from '../../../src/facts/images/reference.js'
import type { ImageFact } from '../../../src/domain/facts.js'

const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`
const linux = (image: string, digest: string): ImageFact => ({ kind: 'linux', image, digest, evidence: ['x'] })
const never = new AbortController().signal

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000
  return { now: () => t, advance: (ms) => void (t += ms) }
}

t.test('tag -> digest TTL; digest facts are immutable', async (t) => {
  const c = clock()
  const cache = new ImageFactsCache({ now: c.now, tagTtlMs: 60_000 })
  const ref = parseReference('r.example.com/app:v1')
  let loads = 0
  const load = async (): Promise<ImageFact> => linux(ref.original, loads++ === 0 ? D1 : D2)
  t.equal(((await cache.get(ref, '', never, load)) as { digest: string }).digest, D1)
  c.advance(59_000)
  t.equal(((await cache.get(ref, '', never, load)) as { digest: string }).digest, D1, 'tag fresh')
  t.equal(loads, 1)
  c.advance(2_000)
  t.equal(((await cache.get(ref, '', never, load)) as { digest: string }).digest, D2, 'tag expired: re-resolved')
  t.equal(loads, 2)
  const byDigest = parseReference(`r.example.com/app@${D1}`)
  t.equal(((await cache.get(byDigest, '', never, async () => t.fail('no load') as never)) as { digest: string }).digest, D1, 'digest fact kept')
})

t.test('errors cached briefly per scope; deadline failures not cached', async (t) => {
  const c = clock()
  const cache = new ImageFactsCache({ now: c.now, errorTtlMs: 10_000 })
  const ref = parseReference('r.example.com/app:v1')
  let loads = 0
  const nf = async (): Promise<ImageFact> => {
    loads++
    return { kind: 'unknown', image: ref.original, code: 'WA_ERR_IMAGE_NOT_FOUND', reason: 'nf', evidence: [] }
  }
  await cache.get(ref, 'a', never, nf)
  await cache.get(ref, 'a', never, nf)
  t.equal(loads, 1, 'negative cached')
  await cache.get(ref, 'b', never, nf)
  t.equal(loads, 2, 'other scope loads')
  c.advance(10_001)
  await cache.get(ref, 'a', never, nf)
  t.equal(loads, 3, 'negative expired')
  const dl = async (): Promise<ImageFact> => {
    loads++
    return { kind: 'unknown', image: ref.original, code: 'WA_ERR_IMAGE_DEADLINE', reason: 'late', evidence: [] }
  }
  const ref2 = parseReference('r.example.com/other:v1')
  await cache.get(ref2, '', never, dl)
  await cache.get(ref2, '', never, dl)
  t.equal(loads, 5, 'deadline not cached')
})

t.test('a throwing loader becomes an unknown fact', async (t) => {
  const cache = new ImageFactsCache()
  const f = await cache.get(parseReference('x/y'), '', never, async () => {
    throw new Error('boom')
  })
  t.equal(f.kind, 'unknown')
  t.equal((f as { code: string }).code, 'WA_ERR_IMAGE_REGISTRY')
})

t.test('concurrent lookups coalesce into one load', async (t) => {
  const cache = new ImageFactsCache()
  const ref = parseReference('r.example.com/app:v1')
  let loads = 0
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const load = async (): Promise<ImageFact> => {
    loads++
    await gate
    return linux(ref.original, D1)
  }
  const all = Array.from({ length: 200 }, () => cache.get(ref, '', never, load))
  t.equal(cache.stats().inflight, 1)
  release()
  const facts = await Promise.all(all)
  t.equal(loads, 1)
  t.ok(facts.every((f) => f.kind === 'linux'))
})

t.test('each caller ends at its own deadline; the shared load is aborted only when all left', async (t) => {
  const cache = new ImageFactsCache()
  const ref = parseReference('r.example.com/app:v1')
  let loadSignal!: AbortSignal
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const load = async (signal: AbortSignal): Promise<ImageFact> => {
    loadSignal = signal
    await gate
    return linux(ref.original, D1)
  }
  const a = new AbortController()
  const b = new AbortController()
  const pa = cache.get(ref, '', a.signal, load)
  const pb = cache.get(ref, '', b.signal, load)
  a.abort()
  const fa = await pa
  t.equal((fa as { code: string }).code, 'WA_ERR_IMAGE_DEADLINE')
  t.equal(loadSignal.aborted, false, 'b still waits')
  release()
  t.equal((await pb).kind, 'linux', 'b gets the result')

  // all callers leave -> shared load aborted
  const ref2 = parseReference('r.example.com/app:v2')
  let sig2!: AbortSignal
  const c = new AbortController()
  const p = cache.get(ref2, '', c.signal, async (s) => {
    sig2 = s
    return new Promise<ImageFact>((resolve) => s.addEventListener('abort', () => resolve({ kind: 'unknown', image: 'x', code: 'WA_ERR_IMAGE_DEADLINE', reason: 'x', evidence: [] })))
  })
  c.abort()
  await p
  t.equal(sig2.aborted, true)
  const pre = new AbortController()
  pre.abort()
  t.equal(((await cache.get(parseReference('a/b:c'), '', pre.signal, async () => linux('a', D1))) as { code: string }).code, 'WA_ERR_IMAGE_DEADLINE', 'already aborted')
})

t.test('LRU bounded by entries and bytes', async (t) => {
  const cache = new ImageFactsCache({ maxEntries: 3 })
  for (let i = 0; i < 5; i++) {
    const d = `sha256:${String(i).repeat(64)}`
    await cache.get(parseReference(`r.example.com/app@${d}`), '', never, async () => linux('x', d))
  }
  t.equal(cache.stats().facts, 3)
  t.equal(cache.peek(parseReference(`r.example.com/app@sha256:${'0'.repeat(64)}`)), undefined, 'oldest evicted')
  t.ok(cache.peek(parseReference(`r.example.com/app@sha256:${'4'.repeat(64)}`)))
  const small = new ImageFactsCache({ maxBytes: 2000 })
  for (let i = 0; i < 10; i++) {
    const d = `sha256:${String(i).repeat(64)}`
    await small.get(parseReference(`r.example.com/app@${d}`), '', never, async () => linux('x', d))
  }
  t.ok(small.stats().factBytes <= 2000)
  t.ok(small.stats().facts < 10)
})

t.test('observer and prom-client metrics', async (t) => {
  const registry = new Registry()
  const seen: string[] = []
  const cache = new ImageFactsCache({ registry, observer: { onHit: () => seen.push('hit'), onMiss: () => seen.push('miss'), onError: () => seen.push('error') } })
  const ref = parseReference('r.example.com/app:v1')
  await cache.get(ref, '', never, async () => linux('x', D1))
  await cache.get(ref, '', never, async () => linux('x', D1))
  await cache.get(parseReference('r.example.com/gone:v1'), '', never, async () => ({ kind: 'unknown', image: 'x', code: 'WA_ERR_IMAGE_NOT_FOUND', reason: 'x', evidence: [] }))
  t.same(seen, ['miss', 'hit', 'miss', 'error'])
  const text = await registry.metrics()
  t.match(text, /wasm_admission_image_cache_requests_total\{result="hit"\} 1/)
  t.match(text, /wasm_admission_image_cache_requests_total\{result="miss"\} 2/)
  t.match(text, /wasm_admission_image_cache_requests_total\{result="error"\} 1/)
  new ImageFactsCache({ registry }) // second instance on the same registry does not throw
})

t.test('LRU, not FIFO: a fact read recently outlives one read earlier', async (t) => {
  const cache = new ImageFactsCache({ maxEntries: 2 })
  const ref = (i: number): ReturnType<typeof parseReference> => parseReference(`r.example.com/app@sha256:${String(i).repeat(64)}`)
  for (const i of [0, 1]) await cache.get(ref(i), '', never, async () => linux('x', `sha256:${String(i).repeat(64)}`))
  t.ok(cache.peek(ref(0)), 'read 0 again: now the most recent')
  await cache.get(ref(2), '', never, async () => linux('x', `sha256:${'2'.repeat(64)}`))
  t.ok(cache.peek(ref(0)), 'the recently read fact stays')
  t.equal(cache.peek(ref(1)), undefined, 'the least recently used one is evicted')
})

t.test('a fact larger than the byte bound is not kept, and does not evict the others', async (t) => {
  const cache = new ImageFactsCache({ maxBytes: 4000 })
  const small = parseReference(`r.example.com/app@sha256:${'a'.repeat(64)}`)
  await cache.get(small, '', never, async () => linux('x', `sha256:${'a'.repeat(64)}`))
  const big = parseReference(`r.example.com/big@sha256:${'b'.repeat(64)}`)
  const huge = { ...linux('x', `sha256:${'b'.repeat(64)}`), evidence: ['e'.repeat(5000)] } as ImageFact
  t.equal((await cache.get(big, '', never, async () => huge)).kind, 'linux', 'the caller still gets it')
  t.equal(cache.peek(big), undefined, 'not kept')
  t.ok(cache.peek(small), 'the small fact stays')
})

t.test('hit(): what get() answers from memory, synchronously, counted once as a hit; undefined otherwise', async (t) => {
  const c = clock()
  const events: string[] = []
  const cache = new ImageFactsCache({ now: c.now, tagTtlMs: 60_000, observer: { onHit: () => events.push('hit'), onMiss: () => events.push('miss'), onError: () => events.push('error') } })
  const ref = parseReference('r.example.com/app:v1')
  t.equal(cache.hit(ref, ''), undefined, 'nothing cached')
  t.same(events, [], 'a miss of hit() is not counted (lookup counts it)')
  let release!: () => void
  const pending = cache.get(ref, '', never, () => new Promise<ImageFact>((r) => (release = () => r(linux(ref.original, D1)))))
  t.equal(cache.hit(ref, ''), undefined, 'a load in flight is not a hit')
  release()
  await pending
  events.length = 0
  t.same(cache.hit(ref, ''), linux(ref.original, D1))
  t.same(events, ['hit'])
  c.advance(61_000)
  t.equal(cache.hit(ref, ''), undefined, 'tag expired: get() would load')
  const bad = parseReference('r.example.com/missing:v1')
  const nf: ImageFact = { kind: 'unknown', image: bad.original, code: 'WA_ERR_IMAGE_NOT_FOUND', reason: 'nf', evidence: [] }
  await cache.get(bad, 'a', never, async () => nf)
  t.same(cache.hit(bad, 'a'), nf, 'cached error for the scope')
  t.equal(cache.hit(bad, 'b'), undefined, 'not for another scope')
})
