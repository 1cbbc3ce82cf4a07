// The kubeconfig side of src/facts/cluster/kubeconfig.ts with plain files: KUBECONFIG lists merged
// as kubectl merges them (client-go tools/clientcmd/loader.go, v0.36.3), and the service-account
// token re-read when its file changes. The real-apiserver side is in in-cluster.test.ts.
import t from 'tap'
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { loadKubeConfig, loadKubeConnection, mergeKubeconfigs } from '../../../src/facts/cluster/kubeconfig.js'

const dir = mkdtempSync(join(tmpdir(), 'wa-kubeconfig-'))

function kubeconfig(name: string, o: { current?: string; clusters?: Record<string, Record<string, unknown>>; users?: Record<string, Record<string, unknown>>; contexts?: Record<string, { cluster: string; user: string }> }): string {
  const folder = join(dir, name)
  mkdirSync(folder, { recursive: true })
  const file = join(folder, 'config')
  const list = <T>(m: Record<string, T> | undefined, key: string): Array<Record<string, unknown>> => Object.entries(m ?? {}).map(([n, v]) => ({ name: n, [key]: v }))
  writeFileSync(
    file,
    stringify({ apiVersion: 'v1', kind: 'Config', ...(o.current ? { 'current-context': o.current } : {}), clusters: list(o.clusters, 'cluster'), users: list(o.users, 'user'), contexts: list(o.contexts, 'context') }),
  )
  return file
}

t.test('KUBECONFIG with several files: merged as kubectl does', async (t) => {
  // a: sets no current-context; defines cluster "shared" and user "u" (with a relative token file).
  const a = kubeconfig('a', {
    clusters: { shared: { server: 'https://a.example:6443', 'insecure-skip-tls-verify': true } },
    users: { u: { tokenFile: 'token-a' } },
    contexts: { ctx: { cluster: 'shared', user: 'u' } },
  })
  writeFileSync(join(dir, 'a', 'token-a'), 'token-from-a\n')
  // b: sets current-context, redefines "shared" and "u" (ignored: a named them first), adds "other".
  const b = kubeconfig('b', {
    current: 'ctx',
    clusters: { shared: { server: 'https://b.example:6443' }, other: { server: 'https://other.example' } },
    users: { u: { token: 'token-from-b' } },
    contexts: { ctx: { cluster: 'other', user: 'u' }, second: { cluster: 'other', user: 'u' } },
  })
  // c: also sets current-context (ignored: b set it first).
  const c = kubeconfig('c', { current: 'second' })
  const missing = join(dir, 'does-not-exist')
  const env = { KUBECONFIG: [missing, a, b, c].join(':') }

  const { connection, origin } = loadKubeConnection(undefined, env)
  t.teardown(() => connection.close())
  t.equal(connection.server, 'https://a.example:6443', 'current-context from b (the first file to set it); its context and cluster from a (the first to name them)')
  t.equal(origin, `kubeconfig ${a}:${b}:${c}`, 'the missing file is skipped')
  t.same((await connection.prepare()).headers, { authorization: 'Bearer token-from-a' }, "user u entirely from a: its relative tokenFile read from a's folder; b's token ignored")

  const kc = loadKubeConfig(undefined, env).kubeConfig
  t.equal(kc.getCurrentCluster()?.server, 'https://a.example:6443', 'client-node (CLI commands) sees the same merge')
  t.same(kc.getContexts().map((x) => x.name), ['ctx', 'second'])

  const merged = mergeKubeconfigs([
    { file: '/x/one', doc: { clusters: [{ name: 'k', cluster: { server: 'https://1', 'certificate-authority': 'ca.crt' } }] } },
    { file: '/y/two', doc: { 'current-context': '', clusters: [{ name: 'k', cluster: { server: 'https://2' } }, { name: 'l', cluster: { server: 'https://3', 'certificate-authority': '/abs/ca.crt' } }] } },
  ])
  t.same(merged.clusters, [
    { name: 'k', cluster: { server: 'https://1', 'certificate-authority': '/x/ca.crt' } },
    { name: 'l', cluster: { server: 'https://3', 'certificate-authority': '/abs/ca.crt' } },
  ], 'first definition wins whole; relative paths against their own file, absolute ones kept')
  t.equal(merged['current-context'], undefined, 'an empty current-context sets nothing')

  t.throws(() => loadKubeConnection(undefined, { KUBECONFIG: `${missing}:${missing}-2` }), /does-not-exist.*do not exist/, 'all files missing: an error naming them')
  t.equal(loadKubeConnection(b, { KUBECONFIG: a }).connection.server, 'https://other.example', '--kubeconfig wins over KUBECONFIG (b alone: its own ctx and cluster)')
  t.throws(() => loadKubeConnection(a, {}), /has no current cluster/, 'a alone sets no current-context')
})

t.test('in-cluster: service-account directory, KUBERNETES_SERVICE_HOST/PORT, token re-read when the file changes', async (t) => {
  const sa = join(dir, 'sa')
  mkdirSync(sa)
  writeFileSync(join(sa, 'ca.crt'), '')
  writeFileSync(join(sa, 'namespace'), 'wasm-admission')
  const rotate = (token: string): void => {
    // As the kubelet does: write aside, then swap atomically.
    writeFileSync(join(sa, '.token.tmp'), token)
    renameSync(join(sa, '.token.tmp'), join(sa, 'token'))
  }
  rotate('first')
  const { connection, origin } = loadKubeConnection(undefined, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, { serviceAccountDir: sa })
  t.teardown(() => connection.close())
  t.equal(connection.server, 'https://[fd00::1]:6443', 'an IPv6 service host is bracketed')
  t.match(origin, /in-cluster service account/)
  t.same((await connection.prepare()).headers, { authorization: 'Bearer first' })
  t.same((await connection.prepare()).headers, { authorization: 'Bearer first' }, 'unchanged file: same token')
  rotate('second')
  t.same((await connection.prepare()).headers, { authorization: 'Bearer second' }, 'the very next request after a rotation carries the new token')
  t.throws(() => loadKubeConnection(undefined, {}, { serviceAccountDir: sa }), /no kubeconfig/, 'without KUBERNETES_SERVICE_HOST there is no in-cluster config')
})
