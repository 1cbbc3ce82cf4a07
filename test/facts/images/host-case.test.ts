/**
 * Registry host names compare case-insensitively (src/facts/images/hosts.ts hostKey): the
 * plain-HTTP list, hosts.toml mirrors (by registry and by directory name), CA bundles and
 * dockerconfigjson credentials, each with a mixed-case name.
 */
import t from 'tap'
import { createServer, type Server } from 'node:http'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { matchKey, StaticCredentialProvider } from '../../../src/facts/images/credentials.js'
import { endpointsFor, loadHostsDir } from '../../../src/facts/images/hosts.js'
import { parseReference } from '../../../src/facts/images/reference.js'
import { RegistryClient } from '../../../src/facts/images/registry-client.js'

const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] })
const BASIC = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`

/** A plain-HTTP registry on loopback (both address families: `localhost` may resolve to either). */
async function startRegistry(requireAuth: boolean): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    if (requireAuth && req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end()
      return
    }
    if (req.url?.startsWith('/v2/app/manifests/v1')) {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(MANIFEST)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '::', resolve))
  return { port: (server.address() as AddressInfo).port, server }
}

const ssrf = { allow: ['127.0.0.0/8', '::1/128'] }
const ctx = (): { signal: AbortSignal; subject: string } => ({ signal: AbortSignal.timeout(10_000), subject: 'test' })

t.test('plain-HTTP list: a mixed-case entry or image host is the same registry', async (t) => {
  t.equal(endpointsFor('Registry.Local:5000', undefined, new Set(['registry.local:5000']))[0]!.apiRoot, 'http://registry.local:5000/v2')
  t.equal(endpointsFor('registry.local:5000', undefined, new Set(['REGISTRY.local:5000']))[0]!.apiRoot, 'http://registry.local:5000/v2')
  const { port, server } = await startRegistry(false)
  t.teardown(() => server.close())
  for (const [listed, image] of [
    [`LocalHost:${port}`, `LocalHost:${port}/app:v1`],
    [`localhost:${port}`, `LOCALHOST:${port}/app:v1`],
    [`LOCALHOST:${port}`, `localhost:${port}/app:v1`],
  ] as const) {
    const client = new RegistryClient({ plainHttp: [listed], ssrf })
    t.teardown(() => client.close())
    const m = await client.getManifest(parseReference(image), 'v1', ctx())
    t.equal(m.json && (m.json as { schemaVersion: number }).schemaVersion, 2, `plainHttp [${listed}], image ${image}: fetched over HTTP`)
  }
})

t.test('mirrors: hosts.toml config and certs.d directory names match any case', async (t) => {
  const hosts = { hosts: { 'Registry.Example.com': { mirrors: [{ url: 'https://mirror.example.com' }] } } }
  for (const registry of ['registry.example.com', 'REGISTRY.EXAMPLE.COM', 'Registry.Example.com']) {
    t.same(
      endpointsFor(registry, hosts, new Set()).map((e) => e.apiRoot),
      ['https://mirror.example.com/v2', 'https://registry.example.com/v2'],
      `${registry}: the mirror first`,
    )
  }
  const dir = await mkdtemp(join(tmpdir(), 'wa-hosts-case-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'Mixed.Example.com'))
  await writeFile(join(dir, 'Mixed.Example.com', 'hosts.toml'), '[host."https://m.example.com"]\ncapabilities = ["pull"]\n')
  const loaded = await loadHostsDir(dir)
  t.same(
    endpointsFor('mixed.example.com', loaded, new Set()).map((e) => e.apiRoot),
    ['https://m.example.com/v2', 'https://mixed.example.com/v2'],
    'a certs.d directory written in mixed case serves the lowercase image host',
  )
})

t.test('CA bundles: a registry written in another case gets its CA and skip_verify', async (t) => {
  const hosts = { hosts: { 'registry.example.com': { ca: 'PEM-FOR-REGISTRY', skipVerify: true } } }
  const eps = endpointsFor('Registry.EXAMPLE.com', hosts, new Set())
  t.same(eps[0]!.ca, ['PEM-FOR-REGISTRY'])
  t.equal(eps[0]!.skipVerify, true)
})

t.test('credentials: dockerconfigjson keys match any case, end to end', async (t) => {
  t.ok(matchKey('Registry.Example.com', 'registry.example.com', 'app') >= 0)
  t.ok(matchKey('https://registry.example.com/v1/', 'REGISTRY.example.COM', 'app') >= 0)
  t.ok(matchKey('*.Example.com', 'registry.EXAMPLE.com', 'app') >= 0, 'globs too')
  const { port, server } = await startRegistry(true)
  t.teardown(() => server.close())
  const client = new RegistryClient({
    plainHttp: [`localhost:${port}`],
    ssrf,
    credentials: new StaticCredentialProvider([{ key: `LocalHost:${port}`, credential: { username: 'alice', password: 's3cret', source: 'test' } }]),
  })
  t.teardown(() => client.close())
  const m = await client.getManifest(parseReference(`localhost:${port}/app:v1`), 'v1', ctx())
  t.equal(m.host, `localhost:${port}`, 'the credential written as LocalHost:<port> was sent')
})
