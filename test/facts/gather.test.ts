import t from 'tap'
import { gatherFacts, gatherFactsNowOrLater } from '../../src/facts/gather.js'
import type { ClusterFactsSource, ImageFact, ImageFactsSource, ImageLookupContext } from '../../src/domain/facts.js'
import type { PodTemplate } from '../../src/domain/workload.js'

const D = `sha256:${'1'.repeat(64)}`
const linux = (image: string): ImageFact => ({ kind: 'linux', image, digest: D, evidence: ['x'] })
const cluster = { snapshot: () => ({ known: true }) } as unknown as ClusterFactsSource
const template = (images: string[], spec: Record<string, unknown> = {}): PodTemplate => ({ metadata: {}, metadataPath: ['metadata'], specPath: ['spec'], spec: { ...spec, containers: images.map((image, k) => ({ name: `c${k}`, image })) } })

/** An image source whose memory holds `warm`; records every call. */
function source(warm: string[], withCached = true): ImageFactsSource & { calls: string[] } {
  const calls: string[] = []
  const s: ImageFactsSource & { calls: string[] } = {
    calls,
    async lookup(image: string, ctx: ImageLookupContext) {
      calls.push(`lookup ${image} ${ctx.namespace} ${ctx.serviceAccountName} ${ctx.pullSecretNames.join(',')}`)
      return linux(image)
    },
    readiness: () => ({ ready: true, detail: '' }),
  }
  if (withCached) {
    s.cached = (image, ctx) => {
      calls.push(`cached ${image} ${ctx.namespace} ${ctx.serviceAccountName} ${ctx.pullSecretNames.join(',')}`)
      return warm.includes(image) ? linux(image) : undefined
    }
  }
  return s
}

t.test('every image in memory: answered from cached(), no lookup, the deadline signal never touched', async (t) => {
  const src = source(['a:1', 'b:1'])
  const signal = new AbortController().signal
  let listeners = 0
  const add = signal.addEventListener.bind(signal)
  signal.addEventListener = ((...a: Parameters<typeof add>) => {
    listeners++
    return add(...a)
  }) as typeof signal.addEventListener
  const f = await gatherFacts({ namespace: 'ns', template: template(['a:1', 'b:1', 'a:1'], { serviceAccountName: 'sa', imagePullSecrets: [{ name: 'p' }] }) }, src, cluster, signal)
  t.same([...f.images.keys()], ['a:1', 'b:1'])
  t.same(f.images.get('b:1'), linux('b:1'))
  t.same(src.calls, ['cached a:1 ns sa p', 'cached b:1 ns sa p'])
  t.equal(listeners, 0)
})

t.test('one image not in memory: only that one is looked up; the others are not asked twice', async (t) => {
  const src = source(['a:1'])
  const f = await gatherFacts({ namespace: 'ns', template: template(['a:1', 'b:1', 'c:1']) }, src, cluster, new AbortController().signal)
  t.same([...f.images.keys()], ['a:1', 'b:1', 'c:1'])
  t.same(src.calls, ['cached a:1 ns default ', 'cached b:1 ns default ', 'lookup b:1 ns default ', 'lookup c:1 ns default '])
})

t.test('a source without cached(): every image through lookup()', async (t) => {
  const src = source([], false)
  const f = await gatherFacts({ namespace: 'ns', template: template(['a:1']) }, src, cluster, new AbortController().signal)
  t.same(f.images.get('a:1'), linux('a:1'))
  t.same(src.calls, ['lookup a:1 ns default '])
})

t.test('deadline: a lookup that does not finish is cut, a cached image is still answered', async (t) => {
  const src = source(['a:1'])
  src.lookup = () => new Promise<ImageFact>(() => {})
  const c = new AbortController()
  const p = gatherFacts({ namespace: 'ns', template: template(['a:1', 'slow:1']) }, src, cluster, c.signal)
  c.abort()
  const f = await p
  t.same(f.images.get('a:1'), linux('a:1'))
  t.equal((f.images.get('slow:1') as { code?: string }).code, 'WA_ERR_IMAGE_DEADLINE')
})

t.test('the deadline signal is read only when a lookup has to wait: never on the warm path, once otherwise', async (t) => {
  for (const [warm, want] of [[['a:1', 'b:1'], 0], [['a:1'], 1]] as const) {
    let reads = 0
    const deadline = {
      get signal() {
        reads++
        return new AbortController().signal
      },
    }
    const f = await gatherFactsNowOrLater({ namespace: 'ns', template: template(['a:1', 'b:1']) }, source([...warm]), cluster, deadline)
    t.equal(f.images.size, 2)
    t.equal(reads, want, `warm ${warm.join(',')}`)
  }
})
