/**
 * Auth against the real registry: htpasswd basic auth and token auth (token service run by the
 * test). Credentials come from a dockerconfigjson Secret object handed through SecretReader.
 */
import t from 'tap'
import { SecretCredentialProvider, type SecretReader, type SecretValue, type ServiceAccountReader } from '../../../src/facts/images/credentials.js'
import { ImageInspector } from '../../../src/facts/images/inspector.js'
import type { ImageLookupContext, UnknownImageFact, WasmImageFact } from '../../../src/domain/facts.js'
import { registryAvailable, startRegistry, TEST_BASIC_USER, type RegistryHandle } from '../../harness/registry.js'
import { pushSampleImages, type SampleImage, type SampleName } from '../../harness/sample-images.js'
import { startTokenService, type TokenService } from '../../harness/token-service.js'

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')

const USER = TEST_BASIC_USER.user
const PASSWORD = TEST_BASIC_USER.password
const b64 = (s: string): string => Buffer.from(s).toString('base64')

function dockerConfigSecret(host: string, user: string, password: string): SecretValue {
  return {
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${password}`) } } })) },
  }
}

function reader(secrets: Record<string, SecretValue>): SecretReader {
  return { get: async (ns, name) => secrets[`${ns}/${name}`] }
}

function lookupCtx(pullSecretNames: string[], serviceAccountName = 'default'): ImageLookupContext {
  return { signal: AbortSignal.timeout(15_000), namespace: 'apps', pullSecretNames, serviceAccountName }
}

const ONLY: SampleName[] = ['spin-v2', 'linux', 'mixed-index']

t.test('htpasswd basic auth', async (t) => {
  const reg: RegistryHandle = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } })
  t.teardown(() => reg.stop())
  const samples = await pushSampleImages(reg.host, { only: ONLY, credentials: { username: USER, password: PASSWORD } })
  const secrets = reader({
    'apps/regcred': dockerConfigSecret(reg.host, USER, PASSWORD),
    'apps/wrong': dockerConfigSecret(reg.host, USER, 'not-the-password'),
    'apps/legacy': { type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ [`http://${reg.host}`]: { auth: b64(`${USER}:${PASSWORD}`) } })) } },
  })
  const sas: ServiceAccountReader = { get: async (ns, name) => (ns === 'apps' && name === 'puller' ? { imagePullSecrets: [{ name: 'regcred' }] } : undefined) }
  const insp = new ImageInspector({ plainHttp: [reg.host], ssrf: { allow: ['127.0.0.0/8'] }, credentials: new SecretCredentialProvider(secrets, sas), cache: false })
  t.teardown(() => insp.close())
  const s = (n: SampleName): SampleImage => samples[n]

  const ok = await insp.lookup(s('spin-v2').ref, lookupCtx(['regcred']))
  t.equal(ok.kind, 'wasm', JSON.stringify(ok))
  t.equal((ok as WasmImageFact).runtime, 'spin')

  const mixed = await insp.lookup(s('mixed-index').ref, lookupCtx(['regcred']))
  t.equal((mixed as WasmImageFact).pinnedImage, `${s('mixed-index').repository}@${s('mixed-index').pinnedDigest}`)

  const viaSa = await insp.lookup(s('linux').ref, lookupCtx([], 'puller'))
  t.equal(viaSa.kind, 'linux', 'ServiceAccount imagePullSecrets are used')

  const legacy = await insp.lookup(s('linux').ref, lookupCtx(['legacy']))
  t.equal(legacy.kind, 'linux', 'kubernetes.io/dockercfg secret')

  const noCreds = (await insp.lookup(s('linux').ref, lookupCtx([]))) as UnknownImageFact
  t.equal(noCreds.code, 'WA_ERR_IMAGE_UNAUTHORIZED', '401 without credentials')

  const wrongFirst = await insp.lookup(s('linux').ref, lookupCtx(['wrong', 'regcred']))
  t.equal(wrongFirst.kind, 'linux', 'a rejected credential falls through to the next candidate')

  const wrong = (await insp.lookup(s('linux').ref, lookupCtx(['wrong']))) as UnknownImageFact
  t.equal(wrong.code, 'WA_ERR_IMAGE_UNAUTHORIZED')
  t.notMatch(JSON.stringify([ok, mixed, viaSa, noCreds, wrong]), /wasm-admission-test-pass|not-the-password/, 'credentials never appear in facts')
  t.notMatch(JSON.stringify([ok, noCreds, wrong]), new RegExp(b64(`${USER}:`).slice(0, 8)), 'nor their base64')
})

t.test('token auth (bearer challenge, token service, token cache)', async (t) => {
  const tokens: TokenService = await startTokenService({ users: { [USER]: PASSWORD } })
  t.teardown(() => tokens.stop())
  const reg = await startRegistry({ tokenAuth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundlePem: tokens.certPem } })
  t.teardown(() => reg.stop())
  const samples = await pushSampleImages(reg.host, { only: ONLY, credentials: { username: USER, password: PASSWORD } })
  const secrets = reader({ 'apps/regcred': dockerConfigSecret(reg.host, USER, PASSWORD) })
  const insp = new ImageInspector({
    plainHttp: [reg.host, tokens.host],
    ssrf: { allow: ['127.0.0.0/8'] },
    credentials: new SecretCredentialProvider(secrets),
    cache: false,
  })
  t.teardown(() => insp.close())

  const before = tokens.issued()
  const f = await insp.lookup(samples['spin-v2'].ref, lookupCtx(['regcred']))
  t.equal(f.kind, 'wasm', JSON.stringify(f))
  t.equal(tokens.issued() - before, 1, 'one token for the repository scope')
  const again = await insp.lookup(samples['spin-v2'].ref, lookupCtx(['regcred']))
  t.equal(again.kind, 'wasm')
  t.equal(tokens.issued() - before, 1, 'token reused until it expires')
  const other = await insp.lookup(samples.linux.ref, lookupCtx(['regcred']))
  t.equal(other.kind, 'linux')
  t.equal(tokens.issued() - before, 2, 'another repository scope needs another token')

  const refusedBefore = tokens.refused()
  const anon = (await insp.lookup(samples.linux.ref, lookupCtx([]))) as UnknownImageFact
  t.equal(anon.code, 'WA_ERR_IMAGE_UNAUTHORIZED', 'anonymous: token service refuses, registry 401')
  t.ok(tokens.refused() > refusedBefore)
  t.notMatch(JSON.stringify([f, other, anon]), /wasm-admission-test-pass/)

  // a token realm over plain HTTP that the operator did not list is refused (credentials would travel in clear)
  const strict = new ImageInspector({ plainHttp: [reg.host], ssrf: { allow: ['127.0.0.0/8'] }, credentials: new SecretCredentialProvider(secrets), cache: false })
  t.teardown(() => strict.close())
  const refused = (await strict.lookup(samples.linux.ref, lookupCtx(['regcred']))) as UnknownImageFact
  t.equal(refused.kind, 'unknown')
  t.match(refused.reason, /plain HTTP/)
})
