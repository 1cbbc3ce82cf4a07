/**
 * Hostile registries: bounded work, a clear fact, no crash. Extends test/facts/images/faults.test.ts
 * (which covers 429, 5xx, malformed JSON, oversized manifests, digest mismatch, a redirect loop, more
 * than 5 redirects, a redirect to 169.254.169.254 / fd00:ec2::254, and loopback by IP and by
 * `localhost`) with:
 *  - a redirect chain within the limit that ends at the REAL registry (followed), and redirects to
 *    private, shared, unspecified and other-loopback addresses, with a canary listener proving that
 *    no connection reaches a blocked address (the guard rejects by address before connecting);
 *  - names and spellings that resolve to loopback with the default guard (no allow-list):
 *    `localhost.`, names from /etc/hosts, decimal/hex/short IPv4 forms, IPv4-mapped IPv6;
 *  - gzip and zstd bombs (a few MB expanding to GBs) in the layer of a FROM-scratch Wasm image the
 *    classifier peeks into, pushed to the REAL registry;
 *  - a self-referencing index (a fault server answering every manifest request with the same index)
 *    and an index whose entry is itself an index (real registry);
 *  - indexes with thousands of entries (real registry).
 * All traffic stays on 127.0.0.0/8.
 */
import t from 'tap'
import { createServer, type Server, type Socket } from 'node:net'
import { gzipSync, zstdCompressSync } from 'node:zlib'
import { ImageInspector, standaloneContext } from '../../src/facts/images/inspector.js'
import type { ImageFact, UnknownImageFact, WasmImageFact } from '../../src/domain/facts.js'
import type { RegistryRequestKind } from '../../src/facts/images/metrics.js'
import { startFaultServer, type FaultServer } from '../harness/fault-server.js'
import { bytesOf, OCI_INDEX, OCI_MANIFEST, Pusher, sha256, type PushedDescriptor } from '../harness/push.js'
import { registryAvailable, startRegistry, type RegistryHandle } from '../harness/registry.js'
import { buildTar, pushSampleImages, WASM_MODULE } from '../harness/sample-images.js'
import { Ledger, mib } from './helpers.js'

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')

const ledger = new Ledger('hostile-registry')
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
const TGZ = 'application/vnd.oci.image.layer.v1.tar+gzip'
const TZST = 'application/vnd.oci.image.layer.v1.tar+zstd'

let reg: RegistryHandle
let faults: FaultServer
let canary: Server
let canaryPort = 0
let canaryAltPort = 0
let canaryAlt: Server
const canaryHits: string[] = []
let selfRefIndex: Uint8Array
const ghostIndex = bytesOf({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: Array.from({ length: 3000 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: sha256(bytesOf(`ghost ${i}`)), size: 500, platform: { os: 'wasip1', architecture: 'wasm' } })) })

function listenCanary(host: string): Promise<[Server, number]> {
  return new Promise((resolve) => {
    const srv = createServer((sock: Socket) => {
      canaryHits.push(`${host} from ${sock.remoteAddress}`)
      sock.destroy()
    })
    srv.listen(0, host, () => {
      const a = srv.address()
      resolve([srv, typeof a === 'object' && a ? a.port : 0])
    })
  })
}

t.before(async () => {
  reg = await startRegistry()
  await pushSampleImages(reg.host, { only: ['linux'] })
  ;[canary, canaryPort] = await listenCanary('127.0.0.1')
  // another loopback address: reachable on Linux, but not in this test's allow-list
  ;[canaryAlt, canaryAltPort] = await listenCanary('127.0.0.3')
  // an index whose only entry is a Wasm platform manifest "at" some digest; the server answers every
  // manifest request (tag or digest) with these same bytes: the index lists "itself"
  selfRefIndex = bytesOf({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_INDEX, digest: sha256(bytesOf('the index itself')), size: 300, platform: { os: 'wasip1', architecture: 'wasm' } }] })
  faults = await startFaultServer({
    '/v2/chain5/': (_req, res, url) => {
      const n = Number(url.searchParams.get('n') ?? '0')
      if (n < 4) res.writeHead(307, { location: `${url.pathname}?n=${n + 1}` }).end()
      else res.writeHead(307, { location: `http://${reg.host}${url.pathname.replace('/v2/chain5/app/', '/v2/samples/linux/')}` }).end()
    },
    '/v2/to-alt-loopback/': (_req, res) => res.writeHead(302, { location: `http://127.0.0.3:${canaryAltPort}/v2/x/manifests/v1` }).end(),
    '/v2/to-private10/': (_req, res) => res.writeHead(302, { location: 'http://10.0.0.1/v2/x/manifests/v1' }).end(),
    '/v2/to-private192/': (_req, res) => res.writeHead(302, { location: 'http://192.168.0.1:5000/v2/x/manifests/v1' }).end(),
    '/v2/to-private172/': (_req, res) => res.writeHead(302, { location: 'https://172.16.0.1/v2/x/manifests/v1' }).end(),
    '/v2/to-cgnat/': (_req, res) => res.writeHead(302, { location: 'http://100.64.0.1/v2/x/manifests/v1' }).end(),
    '/v2/to-unspecified/': (_req, res) => res.writeHead(302, { location: `http://0.0.0.0:${canaryPort}/v2/x/manifests/v1` }).end(),
    '/v2/to-ula/': (_req, res) => res.writeHead(302, { location: 'http://[fd12:3456::1]/v2/x/manifests/v1' }).end(),
    '/v2/to-mapped/': (_req, res) => res.writeHead(302, { location: `http://[::ffff:127.0.0.3]:${canaryAltPort}/v2/x/manifests/v1` }).end(),
    '/v2/to-decimal/': (_req, res) => res.writeHead(302, { location: `http://2130706435:${canaryAltPort}/v2/x/manifests/v1` }).end(),
    '/v2/to-mapped-metadata/': (_req, res) => res.writeHead(302, { location: 'http://[::ffff:169.254.169.254]/latest/meta-data/' }).end(),
    '/v2/ghosts/': (_req, res, url) => {
      if (url.pathname.includes('/manifests/sha256:')) res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
      else res.writeHead(200, { 'content-type': OCI_INDEX }).end(Buffer.from(ghostIndex))
    },
    '/v2/selfref/': (_req, res) => res.writeHead(200, { 'content-type': OCI_INDEX }).end(Buffer.from(selfRefIndex)),
  })
})

t.teardown(async () => {
  ledger.flush()
  await faults?.stop()
  await reg?.stop()
  canary?.close()
  canaryAlt?.close()
})

interface Counted {
  fact: ImageFact
  requests: Array<{ registry: string; kind: RegistryRequestKind; code: string }>
}

async function inspect(image: string, opts: { allow?: string[] | null; plainHttp?: string[] } = {}): Promise<Counted> {
  const requests: Counted['requests'] = []
  const insp = new ImageInspector({
    plainHttp: opts.plainHttp ?? [reg.host, faults.host],
    ...(opts.allow === null ? {} : { ssrf: { allow: opts.allow ?? ['127.0.0.1/32'] } }),
    cache: false,
    limits: { requestTimeoutMs: 20_000 },
    observer: { onRequest: (registry, kind, code) => requests.push({ registry, kind, code }) },
  })
  try {
    ledger.add('lookups')
    const fact = await insp.lookup(image, standaloneContext(AbortSignal.timeout(60_000)))
    return { fact, requests }
  } finally {
    await insp.close()
  }
}

function unknownOf(t: Tap.Test, c: Counted, code: string, reason: RegExp, what: string): UnknownImageFact {
  t.equal(c.fact.kind, 'unknown', `${what}: ${JSON.stringify(c.fact)}`)
  const u = c.fact as UnknownImageFact
  t.equal(u.code, code, `${what}: ${code}`)
  t.match(u.reason, reason, `${what}: reason says why`)
  return u
}
declare namespace Tap {
  type Test = import('tap').Test
}

t.test('a redirect chain within the limit (4 hops, then to the real registry) is followed', async (t) => {
  ledger.add('faults')
  const c = await inspect(`${faults.host}/chain5/app:v1`)
  t.equal(c.fact.kind, 'linux', `the image behind the chain is classified: ${JSON.stringify(c.fact)}`)
  t.ok(c.requests.length <= 4, `${c.requests.length} registry exchanges (manifest + config)`)
})

t.test('redirects to private, shared, unspecified and other loopback addresses: blocked, and nothing reaches them', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['to-alt-loopback', /127\.0\.0\.3 is loopback/],
    ['to-private10', /10\.0\.0\.1 is private/],
    ['to-private192', /192\.168\.0\.1 is private/],
    ['to-private172', /172\.16\.0\.1 is private/],
    ['to-cgnat', /100\.64\.0\.1 is shared address space/],
    ['to-unspecified', /0\.0\.0\.0 is unspecified/],
    ['to-ula', /fd12:3456::1.* is unique local/],
    ['to-mapped', /loopback|not allowed/],
    ['to-decimal', /loopback|not allowed/],
    ['to-mapped-metadata', /link-local|not allowed/],
  ]
  const before = canaryHits.length
  for (const [route, reason] of cases) {
    ledger.add('faults')
    const c = await inspect(`${faults.host}/${route}/app:v1`)
    const u = c.fact as UnknownImageFact
    t.equal(c.fact.kind, 'unknown', `${route}: unknown`)
    t.equal(u.code, 'WA_ERR_IMAGE_HOST_BLOCKED', `${route}: ${u.reason}`)
    t.match(u.reason, reason, route)
  }
  t.equal(canaryHits.length, before, `no connection reached a canary listening on a blocked loopback address (${canaryHits.join(', ') || 'none'})`)
})

t.test('default guard: names and spellings that resolve to loopback are refused before any connection', async (t) => {
  const hosts = [
    `localhost.:${canaryPort}`,
    `LocalHost:${canaryPort}`,
    `runsc:${canaryPort}`, // from /etc/hosts on this machine: a hosts-style name for 127.0.0.1
    `2130706433:${canaryPort}`, // 127.0.0.1 in decimal
    `0x7f000001:${canaryPort}`,
    `127.1:${canaryPort}`,
    `127.000.000.001:${canaryPort}`,
    `[::ffff:127.0.0.1]:${canaryPort}`,
    `[::1]:${canaryPort}`,
    `0.0.0.0:${canaryPort}`,
  ]
  const before = canaryHits.length
  const codes: Record<string, number> = {}
  for (const h of hosts) {
    ledger.add('faults')
    const image = `${h}/samples/linux:v1`
    const c = await inspect(image, { allow: null, plainHttp: [h, h.toLowerCase()] })
    t.equal(c.fact.kind, 'unknown', `${image}: unknown`)
    const u = c.fact as UnknownImageFact
    codes[u.code] = (codes[u.code] ?? 0) + 1
    t.ok(['WA_ERR_IMAGE_HOST_BLOCKED', 'WA_ERR_IMAGE_REFERENCE'].includes(u.code), `${image}: ${u.code}: ${u.reason}`)
  }
  t.equal(canaryHits.length, before, 'the canary on 127.0.0.1 saw no connection')
  t.ok((codes['WA_ERR_IMAGE_HOST_BLOCKED'] ?? 0) >= 8, `blocked by address, not by luck of parsing: ${JSON.stringify(codes)}`)
})

// ------------------------------------------------------------------ decompression bombs (real registry)

const GIB = 1024 * 1024 * 1024
/** A tar stream: app.wasm, then a 'padding.bin' entry of `padBytes` zeros, then spin.toml (never reached). */
function bombParts(padBytes: number): { head: Buffer; tail: Buffer } {
  const head = Buffer.from(buildTar([{ path: 'app.wasm', content: WASM_MODULE }])).subarray(0, -1024) // without the end blocks
  const padHeader = Buffer.from(buildTar([{ path: 'padding.bin', content: 'x' }])).subarray(0, 512)
  // rewrite the size field (octal, 12 bytes at offset 124) and the checksum
  padHeader.write(padBytes.toString(8).padStart(11, '0') + '\0', 124, 'ascii')
  padHeader.fill(0x20, 148, 156)
  let sum = 0
  for (const b of padHeader) sum += b
  padHeader.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii')
  const tail = Buffer.from(buildTar([{ path: 'spin.toml', content: 'spin_manifest_version = 2\n' }]))
  return { head: Buffer.concat([head, padHeader]), tail }
}

async function pushScratch(repo: string, layer: Uint8Array, mediaType: string): Promise<void> {
  const p = new Pusher(reg.host)
  const cfg = await p.pushBlob(repo, bytesOf({ architecture: 'wasm', os: 'wasip1', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(new Uint8Array(0))] } }), OCI_CONFIG)
  const l = await p.pushBlob(repo, layer, mediaType)
  await p.pushImageManifest(repo, 'v1', { config: cfg, layers: [l] })
}

t.test('gzip bomb: a ~2 MB layer expanding to ~1.9 GiB in a FROM-scratch Wasm image', async (t) => {
  const member = 64 * 1024 * 1024
  const members = 30
  const { head, tail } = bombParts(members * member)
  const zeros = gzipSync(Buffer.alloc(member), { level: 9 })
  const layer = Buffer.concat([gzipSync(head), ...Array.from({ length: members }, () => zeros), gzipSync(tail)])
  t.ok(layer.length <= 2 * 1024 * 1024, `compressed layer ${mib(layer.length)} (within the 2 MiB peek budget, so it IS opened)`)
  await pushScratch('bombs/gzip', layer, TGZ)
  ledger.add('faults')
  const rss0 = process.memoryUsage().rss
  const c = await inspect(`${reg.host}/bombs/gzip:v1`)
  const growth = process.memoryUsage().rss - rss0
  t.equal(c.fact.kind, 'wasm', `classified from what was read before the budget: ${JSON.stringify(c.fact)}`)
  const w = c.fact as WasmImageFact
  t.equal(w.runtime, 'wasi', 'spin.toml beyond the budget is not seen: generic WASI')
  t.match(w.evidence.join('; '), /app\.wasm/, 'evidence names the .wasm file')
  t.match(w.evidence.join('; '), /rootfs only partly inspected: .*budget.*spin\.toml or slightfile\.toml beyond that was not seen/, 'evidence says the look was cut short')
  t.ok(growth < 100 * 1024 * 1024, `RSS grew ${mib(growth)} (< 100 MiB) for a ${mib(members * member)} bomb`)
  t.equal(c.requests.filter((r) => r.kind === 'blob').length, 2, 'one config and one layer download')
})

t.test('zstd bomb: concatenated frames expanding to 4 GiB', async (t) => {
  const frame = zstdCompressSync(Buffer.alloc(64 * 1024 * 1024))
  const frames = 64
  const { head, tail } = bombParts(frames * 64 * 1024 * 1024)
  const layer = Buffer.concat([zstdCompressSync(head), ...Array.from({ length: frames }, () => frame), zstdCompressSync(tail)])
  await pushScratch('bombs/zstd', layer, TZST)
  ledger.add('faults')
  const rss0 = process.memoryUsage().rss
  const c = await inspect(`${reg.host}/bombs/zstd:v1`)
  const growth = process.memoryUsage().rss - rss0
  t.equal(c.fact.kind, 'wasm', `compressed ${mib(layer.length)} for ${mib(4 * GIB)}: ${JSON.stringify(c.fact)}`)
  t.equal((c.fact as WasmImageFact).runtime, 'wasi')
  t.ok(growth < 100 * 1024 * 1024, `RSS grew ${mib(growth)} (< 100 MiB)`)
})

// ------------------------------------------------------------------ self reference and huge indexes

t.test('self-referencing index: the entry is refused on its digest, two manifest requests, no loop', async (t) => {
  ledger.add('faults')
  const c = await inspect(`${faults.host}/selfref/app:v1`)
  unknownOf(t, c, 'WA_ERR_IMAGE_DIGEST_MISMATCH', /sha256:/, 'self reference')
  t.equal(c.requests.filter((r) => r.kind === 'manifest').length, 2, 'the index, then its entry once')
})

async function pushWasmManifest(p: Pusher, repo: string): Promise<PushedDescriptor> {
  const cfg = await p.pushBlob(repo, bytesOf({ architecture: 'wasm', os: 'wasip1', config: { Entrypoint: ['/app.wasm'] }, rootfs: { type: 'layers', diff_ids: [] } }), OCI_CONFIG)
  const layer = await p.pushBlob(repo, gzipSync(Buffer.from(buildTar([{ path: 'app.wasm', content: WASM_MODULE }]))), TGZ)
  const m = await p.pushImageManifest(repo, `wasm-${repo.length}`, { config: cfg, layers: [layer] })
  return { mediaType: OCI_MANIFEST, digest: m.digest, size: m.size, platform: { os: 'wasip1', architecture: 'wasm' } }
}

t.test('an index whose Wasm entry is itself an index (real registry): malformed, not followed further', async (t) => {
  const p = new Pusher(reg.host)
  const repo = 'hostile/nested'
  const wasmM = await pushWasmManifest(p, repo)
  const inner = await p.pushIndex(repo, 'inner', [wasmM])
  await p.pushIndex(repo, 'v1', [{ ...inner, mediaType: OCI_INDEX, platform: { os: 'wasip1', architecture: 'wasm' } }])
  ledger.add('faults')
  const c = await inspect(`${reg.host}/${repo}:v1`)
  unknownOf(t, c, 'WA_ERR_IMAGE_MALFORMED', /itself an index/, 'nested index')
  t.equal(c.requests.filter((r) => r.kind === 'manifest').length, 2)
})

t.test('indexes with thousands of entries (real registry): one pass over the index, a bounded number of requests', async (t) => {
  const p = new Pusher(reg.host)
  const repo = 'hostile/wide'
  const linuxCfg = await p.pushBlob(repo, bytesOf({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [] } }), OCI_CONFIG)
  const linuxM = await p.pushImageManifest(repo, 'linux', { config: linuxCfg, layers: [] })
  const wasmM = await pushWasmManifest(p, repo)
  const N = 5000
  const linuxEntries = Array.from({ length: N - 1 }, (_, i) => ({ mediaType: OCI_MANIFEST, digest: linuxM.digest, size: linuxM.size, platform: { os: 'linux', architecture: ['amd64', 'arm64', 's390x', 'ppc64le', 'riscv64'][i % 5]!, variant: `v${i}` } }))
  const wide = await p.pushIndex(repo, 'wasm-last', [...linuxEntries, wasmM])
  t.ok(wide.size > 1024 * 1024, `index of ${N} entries is ${mib(wide.size)}`)
  ledger.add('faults')
  const c = await inspect(`${reg.host}/${repo}:wasm-last`)
  t.equal(c.fact.kind, 'wasm', `the one Wasm entry among ${N} is found`)
  t.equal((c.fact as WasmImageFact).pinnedImage, `${reg.host}/${repo}@${wasmM.digest}`, 'pinned to the Wasm entry')
  t.ok(c.requests.length <= 5, `${c.requests.length} registry exchanges for ${N} entries: ${JSON.stringify(c.requests.map((r) => r.kind))}`)

  await p.pushIndex(repo, 'no-wasm', linuxEntries)
  ledger.add('faults')
  const l = await inspect(`${reg.host}/${repo}:no-wasm`)
  t.equal(l.fact.kind, 'linux', `${N - 1} Linux entries: linux, without fetching every entry`)
  t.ok(l.requests.length <= 3, `${l.requests.length} registry exchanges`)

  // thousands of Wasm-looking entries that all point to manifests that do not exist (a registry that
  // serves dangling entries: the real one refuses to store them, so the fault server serves it)
  ledger.add('faults')
  const g = await inspect(`${faults.host}/ghosts/app:v1`)
  t.equal(g.fact.kind, 'unknown', `dangling entries: ${JSON.stringify(g.fact).slice(0, 300)}`)
  t.equal((g.fact as UnknownImageFact).code, 'WA_ERR_IMAGE_NOT_FOUND', 'the chosen entry is not found')
  t.ok(g.requests.length <= 3, `${g.requests.length} registry exchanges for 3000 dangling entries`)
})
