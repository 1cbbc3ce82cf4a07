/**
 * Fault tests: each failure yields a typed UnknownImageFact within the deadline, no throw.
 * The real registry produces down / 404 / oversized config; the fault injector produces what a
 * real registry cannot (429, malformed JSON, digest mismatch, redirects, stalls, >4 MiB manifests).
 * (401 without credentials is in auth.test.ts, against the real registry with htpasswd.)
 */
import t, { type TAP } from 'tap'
import { createHash } from 'node:crypto'
import { ImageInspector, standaloneContext } from '../../../src/facts/images/inspector.js'
import type { ImageFact, UnknownImageFact } from '../../../src/domain/facts.js'
import { startFaultServer, type FaultServer } from '../../harness/fault-server.js'
import { bytesOf, Pusher } from '../../harness/push.js'
import { registryAvailable, startRegistry, type RegistryHandle } from '../../harness/registry.js'
import { pushSampleImages } from '../../harness/sample-images.js'

/** The assertions a helper uses (a subtest has them too). */
type Asserts = Pick<TAP, 'equal' | 'match' | 'ok'>

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')

const OCI_M = 'application/vnd.oci.image.manifest.v1+json'
const sha = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
const GOOD_MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: OCI_M,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('{}'), size: 2 },
  layers: [],
})

let reg: RegistryHandle
let faults: FaultServer
let stalled = 0

t.before(async () => {
  reg = await startRegistry()
  await pushSampleImages(reg.host, { only: ['linux'] })
  faults = await startFaultServer({
    '/v2/ratelimited/': (_req, res) => res.writeHead(429, { 'retry-after': '30', 'content-type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS"}]}'),
    '/v2/malformed/': (_req, res) => res.writeHead(200, { 'content-type': OCI_M }).end('{"schemaVersion": 2, "config": '),
    '/v2/notobject/': (_req, res) => res.writeHead(200, { 'content-type': OCI_M }).end('[1,2,3]'),
    '/v2/mismatch/': (_req, res) => res.writeHead(200, { 'content-type': OCI_M }).end(GOOD_MANIFEST),
    '/v2/wrongheader/': (_req, res) => res.writeHead(200, { 'content-type': OCI_M, 'docker-content-digest': sha('something else') }).end(GOOD_MANIFEST),
    '/v2/huge/': (_req, res) => res.writeHead(200, { 'content-type': OCI_M, 'content-length': String(5 * 1024 * 1024) }).end(Buffer.alloc(5 * 1024 * 1024, 0x20)),
    '/v2/hugechunked/': (_req, res) => {
      // no Content-Length: the streaming counter must stop it
      res.writeHead(200, { 'content-type': OCI_M })
      const chunk = Buffer.alloc(256 * 1024, 0x20)
      let sent = 0
      const pump = (): void => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length
          if (!res.write(chunk)) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      res.on('error', () => undefined)
      pump()
    },
    '/v2/loop/': (_req, res, url) => res.writeHead(302, { location: url.pathname.replace('/v2/loop/', '/v2/loop2/') }).end(),
    '/v2/loop2/': (_req, res, url) => res.writeHead(302, { location: url.pathname.replace('/v2/loop2/', '/v2/loop/') }).end(),
    '/v2/chain/': (_req, res, url) => {
      const n = Number(url.searchParams.get('n') ?? '0')
      res.writeHead(307, { location: `${url.pathname}?n=${n + 1}` }).end()
    },
    '/v2/metadata/': (_req, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }).end(),
    '/v2/metadata6/': (_req, res) => res.writeHead(301, { location: 'http://[fd00:ec2::254]/latest/meta-data/' }).end(),
    '/v2/slow/': () => {
      stalled++ // never answers: only the deadline ends it
    },
    '/v2/servererror/': (_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('maintenance'),
  })
})

t.teardown(async () => {
  await faults?.stop()
  await reg?.stop()
})

function inspector(): ImageInspector {
  return new ImageInspector({ plainHttp: [reg.host, faults.host], ssrf: { allow: ['127.0.0.0/8'] }, cache: false, limits: { requestTimeoutMs: 20_000 } })
}

async function expectUnknown(t: Asserts, image: string, code: string, reason: RegExp, deadlineMs = 10_000): Promise<UnknownImageFact> {
  const insp = inspector()
  try {
    const f: ImageFact = await insp.lookup(image, standaloneContext(AbortSignal.timeout(deadlineMs)))
    t.equal(f.kind, 'unknown', `${image}: ${JSON.stringify(f)}`)
    const u = f as UnknownImageFact
    t.equal(u.code, code)
    t.match(u.reason, reason)
    t.equal(u.image, image)
    return u
  } finally {
    await insp.close()
  }
}


t.test('registry down (real registry, stopped)', async (t) => {
  const dead = await startRegistry()
  const host = dead.host
  await dead.stop()
  const insp = new ImageInspector({ plainHttp: [host], ssrf: { allow: ['127.0.0.0/8'] }, cache: false })
  t.teardown(() => insp.close())
  const f = (await insp.lookup(`${host}/samples/linux:v1`, standaloneContext(AbortSignal.timeout(10_000)))) as UnknownImageFact
  t.equal(f.code, 'WA_ERR_IMAGE_UNREACHABLE')
  t.match(f.reason, /connection refused/)
})

t.test('404: missing tag and missing repository (real registry)', async (t) => {
  await expectUnknown(t, `${reg.host}/samples/linux:nope`, 'WA_ERR_IMAGE_NOT_FOUND', /not found/)
  await expectUnknown(t, `${reg.host}/no/such/repo:v1`, 'WA_ERR_IMAGE_NOT_FOUND', /not found/)
  await expectUnknown(t, `${reg.host}/samples/linux@${sha('absent')}`, 'WA_ERR_IMAGE_NOT_FOUND', /not found/)
})

t.test('config blob over 1 MiB (real registry)', async (t) => {
  const p = new Pusher(reg.host)
  const cfg = await p.pushBlob('big/config', bytesOf({ os: 'linux', architecture: 'amd64', pad: 'x'.repeat(1_100_000) }), 'application/vnd.oci.image.config.v1+json')
  await p.pushImageManifest('big/config', 'v1', { config: cfg, layers: [] })
  await expectUnknown(t, `${reg.host}/big/config:v1`, 'WA_ERR_IMAGE_TOO_LARGE', /1048576 byte limit/)
})

t.test('slower than the deadline', async (t) => {
  const before = stalled
  await expectUnknown(t, `${faults.host}/slow/app:v1`, 'WA_ERR_IMAGE_DEADLINE', /did not finish before the admission deadline/, 300)
  t.ok(stalled > before, 'the request reached the server')
})

t.test('429 rate limited', async (t) => {
  await expectUnknown(t, `${faults.host}/ratelimited/app:v1`, 'WA_ERR_IMAGE_RATE_LIMITED', /Retry-After: 30/)
})

t.test('5xx', async (t) => {
  await expectUnknown(t, `${faults.host}/servererror/app:v1`, 'WA_ERR_IMAGE_REGISTRY', /HTTP 503/)
})

t.test('malformed JSON', async (t) => {
  await expectUnknown(t, `${faults.host}/malformed/app:v1`, 'WA_ERR_IMAGE_MALFORMED', /not valid JSON/)
  await expectUnknown(t, `${faults.host}/notobject/app:v1`, 'WA_ERR_IMAGE_MALFORMED', /not a JSON object/)
})

t.test('oversized manifest (declared and streamed)', async (t) => {
  await expectUnknown(t, `${faults.host}/huge/app:v1`, 'WA_ERR_IMAGE_TOO_LARGE', /4194304 byte limit/)
  await expectUnknown(t, `${faults.host}/hugechunked/app:v1`, 'WA_ERR_IMAGE_TOO_LARGE', /4194304 byte limit/)
})

t.test('digest mismatch (by digest; tag with a wrong Docker-Content-Digest)', async (t) => {
  const asked = sha('a different manifest')
  await expectUnknown(t, `${faults.host}/mismatch/app@${asked}`, 'WA_ERR_IMAGE_DIGEST_MISMATCH', new RegExp(`asked ${asked}, got ${sha(GOOD_MANIFEST)}`))
  await expectUnknown(t, `${faults.host}/wrongheader/app:v1`, 'WA_ERR_IMAGE_DIGEST_MISMATCH', /does not match/)
})

t.test('redirect loop and too many redirects', async (t) => {
  await expectUnknown(t, `${faults.host}/loop/app:v1`, 'WA_ERR_IMAGE_REDIRECT', /redirect loop/)
  await expectUnknown(t, `${faults.host}/chain/app:v1`, 'WA_ERR_IMAGE_REDIRECT', /more than 5 redirects/)
})

t.test('redirect to cloud metadata is refused before connecting', async (t) => {
  const u = await expectUnknown(t, `${faults.host}/metadata/app:v1`, 'WA_ERR_IMAGE_HOST_BLOCKED', /redirect from 127\.0\.0\.1:\d+ to 169\.254\.169\.254 is link-local/)
  t.match(u.reason, /169\.254\.169\.254/)
  await expectUnknown(t, `${faults.host}/metadata6/app:v1`, 'WA_ERR_IMAGE_HOST_BLOCKED', /cloud metadata|unique local/)
})

t.test('SSRF guard: default configuration blocks loopback, names resolving to it, and metadata', async (t) => {
  const insp = new ImageInspector({ plainHttp: [reg.host, `localhost:${reg.port}`], cache: false })
  t.teardown(() => insp.close())
  const ctx = (): ReturnType<typeof standaloneContext> => standaloneContext(AbortSignal.timeout(10_000))
  const byIp = (await insp.lookup(`${reg.host}/samples/linux:v1`, ctx())) as UnknownImageFact
  t.equal(byIp.code, 'WA_ERR_IMAGE_HOST_BLOCKED')
  t.match(byIp.reason, /127\.0\.0\.1 is loopback/)
  const byName = (await insp.lookup(`localhost:${reg.port}/samples/linux:v1`, ctx())) as UnknownImageFact
  t.equal(byName.code, 'WA_ERR_IMAGE_HOST_BLOCKED', 'resolved address checked in the connect lookup')
  const meta = (await insp.lookup('169.254.169.254/latest/meta-data:v1', ctx())) as UnknownImageFact
  t.equal(meta.code, 'WA_ERR_IMAGE_HOST_BLOCKED')
})

t.test('plain HTTP is refused unless the operator lists the registry', async (t) => {
  const insp = new ImageInspector({ ssrf: { allow: ['127.0.0.0/8'] }, cache: false, limits: { requestTimeoutMs: 5000 } })
  t.teardown(() => insp.close())
  const f = (await insp.lookup(`${reg.host}/samples/linux:v1`, standaloneContext(AbortSignal.timeout(10_000)))) as UnknownImageFact
  // https to a plain-HTTP registry fails the TLS handshake
  t.equal(f.kind, 'unknown')
  t.equal(f.code, 'WA_ERR_IMAGE_UNREACHABLE')
})

t.test('invalid reference and an already expired deadline', async (t) => {
  const insp = inspector()
  t.teardown(() => insp.close())
  const bad = (await insp.lookup('UPPER/Case', standaloneContext(AbortSignal.timeout(1000)))) as UnknownImageFact
  t.equal(bad.code, 'WA_ERR_IMAGE_REFERENCE')
  const ac = new AbortController()
  ac.abort()
  const late = (await insp.lookup(`${reg.host}/samples/linux:v1`, standaloneContext(ac.signal))) as UnknownImageFact
  t.equal(late.code, 'WA_ERR_IMAGE_DEADLINE')
})
