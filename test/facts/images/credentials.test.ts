import t from 'tap'
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ChainCredentialProvider,
  credentialId,
  credentialsFor,
  FileCredentialProvider,
  matchKey,
  parseDockerCfg,
  parseDockerConfigJson,
  SecretCredentialProvider,
  StaticCredentialProvider,
  type SecretReader,
  type SecretValue,
  type ServiceAccountReader,
} from '../../../src/facts/images/credentials.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64')
const SECRET_PW = 'hunter2-very-secret'

t.test('parseDockerConfigJson: auth, username/password, tokens', async (t) => {
  const e = parseDockerConfigJson(
    JSON.stringify({
      auths: {
        'registry.example.com': { auth: b64(`alice:${SECRET_PW}`) },
        'https://index.docker.io/v1/': { username: 'bob', password: 'pw' },
        'ghcr.io': { identitytoken: 'refresh' },
        'quay.io': { registrytoken: 'bearer' },
        'empty.example': {},
      },
      credsStore: 'desktop',
    }),
  )
  t.equal(e.length, 4, 'empty entries are skipped')
  t.same({ u: e[0]!.credential.username, p: e[0]!.credential.password }, { u: 'alice', p: SECRET_PW })
  t.equal(e[2]!.credential.identityToken, 'refresh')
  t.equal(e[3]!.credential.registryToken, 'bearer')
  t.same(parseDockerConfigJson('{}'), [])
})

t.test('parse errors never echo secret content', async (t) => {
  const text = `{"auths": {"x": {"auth": "${SECRET_PW}"`
  let msg = ''
  try {
    parseDockerConfigJson(text)
  } catch (e) {
    msg = (e as Error).message
  }
  t.match(msg, /not valid JSON/)
  t.notMatch(msg, SECRET_PW)
  t.throws(() => parseDockerConfigJson(JSON.stringify({ auths: { x: { auth: b64('no-colon') } } })), /not base64/)
  t.throws(() => parseDockerConfigJson(JSON.stringify({ auths: [] })), /not an object/)
})

t.test('parseDockerCfg (legacy)', async (t) => {
  const e = parseDockerCfg(JSON.stringify({ 'registry.example.com': { auth: b64('u:p'), email: 'x@example.com' } }))
  t.equal(e[0]!.credential.username, 'u')
})

t.test('matchKey: kubelet-style matching', async (t) => {
  const table: Array<[string, string, string, boolean]> = [
    ['registry.example.com', 'registry.example.com', 'a/b', true],
    ['https://registry.example.com/v2/', 'registry.example.com', 'a/b', true],
    ['registry.example.com:5000', 'registry.example.com', 'a/b', false],
    ['registry.example.com:5000', 'registry.example.com:5000', 'a/b', true],
    ['registry.example.com', 'registry.example.com:5000', 'a/b', false],
    ['registry.example.com/team', 'registry.example.com', 'team/app', true],
    ['registry.example.com/team', 'registry.example.com', 'teamx/app', false],
    ['*.example.com', 'registry.example.com', 'a', true],
    ['*.example.com', 'a.b.example.com', 'a', false],
    ['https://index.docker.io/v1/', 'docker.io', 'library/nginx', true],
    ['docker.io', 'registry-1.docker.io', 'library/nginx', true],
    ['127.0.0.1:5000', '127.0.0.1:5000', 'x', true],
  ]
  for (const [key, host, path, want] of table) t.equal(matchKey(key, host, path) >= 0, want, `${key} vs ${host}/${path}`)
})

t.test('credentialsFor orders by specificity', async (t) => {
  const e = parseDockerConfigJson(JSON.stringify({ auths: { 'r.example.com': { auth: b64('general:1') }, 'r.example.com/team/app': { auth: b64('specific:2') } } }))
  t.same(credentialsFor(e, 'r.example.com', 'team/app').map((c) => c.username), ['specific', 'general'])
  t.same(credentialsFor(e, 'other.example.com', 'team/app'), [])
})

t.test('FileCredentialProvider re-reads on change and tolerates a missing file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-cred-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'config.json')
  const p = new FileCredentialProvider(file)
  t.same(await p.credentials({ registryHost: 'r.example.com', repository: 'a' }), [])
  await writeFile(file, JSON.stringify({ auths: { 'r.example.com': { auth: b64('one:1') } } }))
  t.equal((await p.credentials({ registryHost: 'r.example.com', repository: 'a' }))[0]?.username, 'one')
  await writeFile(file, JSON.stringify({ 'r.example.com': { auth: b64('two:2') } }))
  const later = new Date(Date.now() + 5000)
  await utimes(file, later, later)
  t.equal((await p.credentials({ registryHost: 'r.example.com', repository: 'a' }))[0]?.username, 'two', 'dockercfg form, re-read')
})

function secretReader(secrets: Record<string, SecretValue>): SecretReader & { reads: string[] } {
  const reads: string[] = []
  return {
    reads,
    get: async (ns, name) => {
      reads.push(`${ns}/${name}`)
      return secrets[`${ns}/${name}`]
    },
  }
}

t.test('SecretCredentialProvider: pod secrets, then ServiceAccount secrets; types; bad secrets skipped', async (t) => {
  const reader = secretReader({
    'apps/regcred': { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'r.example.com': { auth: b64(`pod:${SECRET_PW}`) } } })) } },
    'apps/legacy': { type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ 'r.example.com': { auth: b64('sa:x') } })) } },
    'apps/broken': { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(`{"auths": ${SECRET_PW}`) } },
    'apps/opaque': { type: 'Opaque', data: { password: b64('x') } },
  })
  const sas: ServiceAccountReader = { get: async (ns, name) => (ns === 'apps' && name === 'builder' ? { imagePullSecrets: [{ name: 'legacy' }, { name: 'regcred' }] } : undefined) }
  const errors: string[] = []
  const p = new SecretCredentialProvider(reader, sas, (m) => errors.push(m))
  const got = await p.credentials({
    registryHost: 'r.example.com',
    repository: 'team/app',
    lookup: { namespace: 'apps', pullSecretNames: ['regcred', 'broken', 'opaque', 'missing'], serviceAccountName: 'builder' },
  })
  t.same(got.map((c) => c.username), ['pod', 'sa'])
  t.same(got.map((c) => c.source), ['secret apps/regcred', 'secret apps/legacy'])
  t.equal(errors.length, 1)
  t.notMatch(errors.join(), SECRET_PW, 'errors do not contain secret data')
  t.same(reader.reads, ['apps/regcred', 'apps/broken', 'apps/opaque', 'apps/missing', 'apps/legacy'], 'each secret read once')
  t.same(await p.credentials({ registryHost: 'r.example.com', repository: 'x' }), [], 'no admission context: nothing')
})

t.test('Chain and Static providers; credentialId does not spell the secret', async (t) => {
  const e = parseDockerConfigJson(JSON.stringify({ auths: { 'r.example.com': { auth: b64(`u:${SECRET_PW}`) } } }))
  const chain = new ChainCredentialProvider([new StaticCredentialProvider(e), new StaticCredentialProvider(e)])
  const got = await chain.credentials({ registryHost: 'r.example.com', repository: 'a' })
  t.equal(got.length, 2)
  const id = credentialId(got[0])
  t.notMatch(id, SECRET_PW)
  t.equal(id, credentialId(got[1]))
  t.equal(credentialId(undefined), 'anonymous')
})
