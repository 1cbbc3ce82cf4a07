import t from 'tap'
import { formatReference, manifestReference, parseReference, referenceKey, registryEndpointHost } from '../../../src/facts/images/reference.js'

const D = `sha256:${'a'.repeat(64)}`

const ok: Array<[string, { registry: string; path: string; tag: string | undefined; digest: string | undefined }]> = [
  ['nginx', { registry: 'docker.io', path: 'library/nginx', tag: 'latest', digest: undefined }],
  ['nginx:1.27', { registry: 'docker.io', path: 'library/nginx', tag: '1.27', digest: undefined }],
  ['user/app', { registry: 'docker.io', path: 'user/app', tag: 'latest', digest: undefined }],
  ['docker.io/nginx', { registry: 'docker.io', path: 'library/nginx', tag: 'latest', digest: undefined }],
  ['index.docker.io/library/nginx:x', { registry: 'docker.io', path: 'library/nginx', tag: 'x', digest: undefined }],
  ['docker.io/library/nginx', { registry: 'docker.io', path: 'library/nginx', tag: 'latest', digest: undefined }],
  ['localhost/app', { registry: 'localhost', path: 'app', tag: 'latest', digest: undefined }],
  ['localhost:5000/app:v1', { registry: 'localhost:5000', path: 'app', tag: 'v1', digest: undefined }],
  ['127.0.0.1:5000/a/b/c:v1', { registry: '127.0.0.1:5000', path: 'a/b/c', tag: 'v1', digest: undefined }],
  ['ghcr.io/spinkube/containerd-shim-spin/examples/spin-rust-hello:v0.15.1', { registry: 'ghcr.io', path: 'spinkube/containerd-shim-spin/examples/spin-rust-hello', tag: 'v0.15.1', digest: undefined }],
  [`ghcr.io/x/y@${D}`, { registry: 'ghcr.io', path: 'x/y', tag: undefined, digest: D }],
  [`ghcr.io/x/y:v1@${D}`, { registry: 'ghcr.io', path: 'x/y', tag: 'v1', digest: D }],
  [`nginx@${D}`, { registry: 'docker.io', path: 'library/nginx', tag: undefined, digest: D }],
  ['[::1]:5000/app:v1', { registry: '[::1]:5000', path: 'app', tag: 'v1', digest: undefined }],
  ['Registry.Example.com/app', { registry: 'Registry.Example.com', path: 'app', tag: 'latest', digest: undefined }],
  ['my-registry.local:8443/team/app_name:1.0.0-rc.1', { registry: 'my-registry.local:8443', path: 'team/app_name', tag: '1.0.0-rc.1', digest: undefined }],
  ['a__b/c--d', { registry: 'docker.io', path: 'a__b/c--d', tag: 'latest', digest: undefined }],
]

for (const [input, want] of ok) {
  t.test(`parse ${input}`, async (t) => {
    const r = parseReference(input)
    t.same({ registry: r.registry, path: r.path, tag: r.tag, digest: r.digest }, want)
    t.equal(r.original, input)
    t.equal(r.name, `${want.registry}/${want.path}`)
  })
}

const bad: Array<[string, RegExp]> = [
  ['', /empty/],
  ['Nginx', /lowercase|invalid/],
  ['nginx:', /invalid tag/],
  ['nginx:-bad', /invalid tag/],
  [`nginx@sha256:${'a'.repeat(63)}`, /invalid sha256 digest/],
  [`nginx@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
  ['nginx@notadigest', /invalid digest/],
  ['ghcr.io/', /empty repository/],
  ['ghcr.io/a//b', /invalid repository/],
  ['ghcr.io/UPPER/case', /lowercase/],
  [' nginx', /whitespace/],
  ['a/b:c:d', /invalid/],
  [`ghcr.io/${'a'.repeat(260)}`, /longer than/],
]
for (const [input, re] of bad) {
  t.test(`reject ${JSON.stringify(input)}`, async (t) => {
    t.throws(() => parseReference(input), re)
  })
}

t.test('helpers', async (t) => {
  const tagged = parseReference('nginx:1')
  t.equal(manifestReference(tagged), '1')
  t.equal(referenceKey(tagged), 'docker.io/library/nginx:1')
  t.equal(formatReference(tagged), 'docker.io/library/nginx:1')
  const both = parseReference(`ghcr.io/x/y:v1@${D}`)
  t.equal(manifestReference(both), D, 'digest wins over tag')
  t.equal(referenceKey(both), `ghcr.io/x/y@${D}`)
  t.equal(formatReference(both), `ghcr.io/x/y:v1@${D}`)
  t.equal(registryEndpointHost('docker.io'), 'registry-1.docker.io')
  t.equal(registryEndpointHost('ghcr.io'), 'ghcr.io')
  t.equal(referenceKey(parseReference('nginx')), referenceKey(parseReference('docker.io/library/nginx:latest')), 'spellings share a key')
})
