/**
 * The inspector against a real registry (docker-registry 2.8 on loopback) holding every sample
 * packaging style; request coalescing counted at a proxy in front of it; mirrors; metrics.
 */
import t, { type TAP } from 'tap'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { Registry } from 'prom-client'
import { ImageInspector, standaloneContext } from '../../../src/facts/images/inspector.js'
import type { ImageFact, WasmImageFact } from '../../../src/domain/facts.js'
import { registryAvailable, startRegistry, type RegistryHandle } from '../../harness/registry.js'
import { pushSampleImages, SAMPLE_NAMES, type SampleImage, type SampleName } from '../../harness/sample-images.js'

/** The assertions a helper uses (a subtest has them too). */
type Asserts = Pick<TAP, 'equal' | 'match' | 'ok'>

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')

let reg: RegistryHandle
let samples: Record<SampleName, SampleImage>

t.before(async () => {
  reg = await startRegistry()
  samples = await pushSampleImages(reg.host)
})
t.teardown(async () => reg?.stop())

const ctx = (): ReturnType<typeof standaloneContext> => standaloneContext(AbortSignal.timeout(15_000))
const newInspector = (extra: ConstructorParameters<typeof ImageInspector>[0] = {}): ImageInspector =>
  new ImageInspector({ plainHttp: [reg.host], ssrf: { allow: ['127.0.0.0/8'] }, ...extra })

function check(t: Asserts, f: ImageFact, s: SampleImage, image: string): void {
  t.equal(f.image, image, 'image as written')
  t.equal(f.kind, s.expected.kind, `${s.name}: ${JSON.stringify(f)}`)
  if (f.kind === 'unknown') return
  t.equal(f.digest, s.digest, 'digest the reference resolved to')
  t.match(f.evidence.join('\n'), s.expected.evidenceIncludes, 'evidence names what decided')
  if (f.kind === 'wasm') {
    t.equal(f.runtime, s.expected.runtime)
    t.equal(f.hasEntrypoint, s.expected.hasEntrypoint)
    t.equal(f.pinnedImage, s.expected.pinned ? `${s.repository}@${s.pinnedDigest}` : null)
  }
}


t.test('every sample packaging style, by tag', async (t) => {
  const insp = newInspector({ cache: false })
  t.teardown(() => insp.close())
  for (const name of SAMPLE_NAMES) {
    await t.test(name, async (t) => {
      const s = samples[name]
      check(t, await insp.lookup(s.ref, ctx()), s, s.ref)
    })
  }
})

t.test('every sample by digest, and by tag+digest', async (t) => {
  const insp = newInspector({ cache: false })
  t.teardown(() => insp.close())
  for (const name of SAMPLE_NAMES) {
    const s = samples[name]
    const byDigest = `${s.repository}@${s.digest}`
    check(t, await insp.lookup(byDigest, ctx()), s, byDigest)
    const both = `${s.ref}@${s.digest}`
    check(t, await insp.lookup(both, ctx()), s, both)
  }
})

t.test('a pinned index entry inspected directly is the same Wasm workload, unpinned', async (t) => {
  const insp = newInspector({ cache: false })
  t.teardown(() => insp.close())
  const mixed = (await insp.lookup(samples['mixed-index'].ref, ctx())) as WasmImageFact
  t.ok(mixed.pinnedImage)
  const direct = await insp.lookup(mixed.pinnedImage!, ctx())
  t.equal(direct.kind, 'wasm')
  t.equal((direct as WasmImageFact).runtime, 'spin')
  t.equal((direct as WasmImageFact).pinnedImage, null)
  t.equal((direct as WasmImageFact).digest, samples['mixed-index'].pinnedDigest)
})

interface CountingProxy {
  host: string
  manifestGets: Map<string, number>
  paths: string[]
  stop(): Promise<void>
}

/** A counting HTTP proxy in front of the real registry. */
async function countingProxy(target: RegistryHandle): Promise<CountingProxy> {
  const manifestGets = new Map<string, number>()
  const paths: string[] = []
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    paths.push(url)
    const path = url.split('?')[0]!
    if (req.method === 'GET' && /\/manifests\//.test(path)) manifestGets.set(path, (manifestGets.get(path) ?? 0) + 1)
    const up = httpRequest({ host: '127.0.0.1', port: target.port, path: url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers)
      r.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    host: `127.0.0.1:${port}`,
    manifestGets,
    paths,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

t.test('200 concurrent lookups of one uncached reference make one manifest request', async (t) => {
  const proxy = await countingProxy(reg)
  t.teardown(() => proxy.stop())
  const insp = new ImageInspector({ plainHttp: [proxy.host], ssrf: { allow: ['127.0.0.0/8'] } })
  t.teardown(() => insp.close())
  const image = `${proxy.host}/samples/linux:v1`
  const facts = await Promise.all(Array.from({ length: 200 }, () => insp.lookup(image, ctx())))
  t.ok(facts.every((f) => f.kind === 'linux'), 'all 200 answered')
  t.same([...proxy.manifestGets.entries()], [['/v2/samples/linux/manifests/v1', 1]], 'exactly one manifest request')
  t.equal(proxy.paths.filter((p) => p.includes('/blobs/')).length, 1, 'one config blob request')
  // cached afterwards: nothing more reaches the registry
  await insp.lookup(`${proxy.host}/samples/linux:v1`, ctx())
  t.equal(proxy.manifestGets.get('/v2/samples/linux/manifests/v1'), 1)
})

t.test('mirrors: hosts.toml semantics (mirror first, ns query, fallback to server)', async (t) => {
  const proxy = await countingProxy(reg)
  t.teardown(() => proxy.stop())
  // The image names an upstream registry that is down; the mirror (the real registry via the proxy) serves it.
  const upstream = '127.0.0.1:1'
  const insp = new ImageInspector({
    ssrf: { allow: ['127.0.0.0/8'] },
    cache: false,
    hosts: { hosts: { [upstream]: { mirrors: [{ url: `http://${proxy.host}`, capabilities: ['pull', 'resolve'] }] } } },
  })
  t.teardown(() => insp.close())
  const f = await insp.lookup(`${upstream}/samples/spin-v2:v1`, ctx())
  t.equal(f.kind, 'wasm')
  t.ok(proxy.paths.some((p) => p.includes('ns=127.0.0.1%3A1')), 'mirror requests carry ?ns=<registry>')

  // a mirror that cannot resolve tags is skipped for tags, used for digests
  const pullOnly = new ImageInspector({
    plainHttp: [reg.host],
    ssrf: { allow: ['127.0.0.0/8'] },
    cache: false,
    hosts: { hosts: { [reg.host]: { mirrors: [{ url: `http://${proxy.host}`, capabilities: ['pull'] }] } } },
  })
  t.teardown(() => pullOnly.close())
  proxy.manifestGets.clear()
  const viaServer = await pullOnly.lookup(samples.linux.ref, ctx())
  t.equal(viaServer.kind, 'linux')
  t.notOk(proxy.manifestGets.has('/v2/samples/linux/manifests/v1'), 'tag resolved at the server, not the pull-only mirror')
  t.ok(proxy.paths.some((p) => p.includes('/blobs/')), 'blobs pulled through the mirror')

  // mirror down -> falls back to the server
  const fallback = new ImageInspector({
    plainHttp: [reg.host],
    ssrf: { allow: ['127.0.0.0/8'] },
    cache: false,
    hosts: { hosts: { [reg.host]: { mirrors: [{ url: 'http://127.0.0.1:1' }] } } },
  })
  t.teardown(() => fallback.close())
  t.equal((await fallback.lookup(samples.linux.ref, ctx())).kind, 'linux')
})

t.test('metrics: registry requests by host/kind/code, cache results; no credentials or paths in labels', async (t) => {
  const metrics = new Registry()
  const insp = newInspector({ metricsRegistry: metrics })
  t.teardown(() => insp.close())
  await insp.lookup(samples['spin-scratch'].ref, ctx())
  await insp.lookup(samples['spin-scratch'].ref, ctx())
  await insp.lookup(`${reg.host}/samples/missing:v1`, ctx())
  const text = await metrics.metrics()
  t.match(text, new RegExp(`wasm_admission_registry_requests_total\\{registry="${reg.host}",kind="manifest",code="200"\\} 1`))
  t.match(text, new RegExp(`wasm_admission_registry_requests_total\\{registry="${reg.host}",kind="blob",code="200"\\} 2`), 'config + one peeked layer')
  t.match(text, new RegExp(`wasm_admission_registry_requests_total\\{registry="${reg.host}",kind="manifest",code="404"\\} 1`))
  t.match(text, /wasm_admission_registry_request_duration_seconds_count\{registry="[^"]+",kind="manifest"\} 2/)
  t.match(text, /wasm_admission_image_cache_requests_total\{result="hit"\} 1/)
  t.match(text, /wasm_admission_image_cache_requests_total\{result="miss"\} 2/)
  t.match(text, /wasm_admission_image_cache_requests_total\{result="error"\} 1/)
  t.notMatch(text, /samples\//, 'no repository paths in labels')
})

t.test('readiness is always ready', async (t) => {
  const insp = newInspector()
  t.teardown(() => insp.close())
  t.equal(insp.readiness().ready, true)
})
