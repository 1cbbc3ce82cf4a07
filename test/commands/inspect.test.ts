/**
 * `wasm-admission inspect` against the real registry with --plain-http.
 */
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runInspect, type InspectResult } from '../../src/commands/inspect.js'
import { registryAvailable, startRegistry, TEST_BASIC_USER, type RegistryHandle } from '../harness/registry.js'
import { pushSampleImages, SAMPLE_NAMES, type SampleImage, type SampleName } from '../harness/sample-images.js'

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')

let reg: RegistryHandle
let samples: Record<SampleName, SampleImage>
let home: string

t.before(async () => {
  reg = await startRegistry()
  samples = await pushSampleImages(reg.host)
  home = await mkdtemp(join(tmpdir(), 'wa-inspect-home-'))
})
t.teardown(async () => {
  await reg?.stop()
  if (home) await rm(home, { recursive: true, force: true })
})

async function run(argv: string[], env: Record<string, string | undefined> = { HOME: home }): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runInspect(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env })
  return { code, stdout, stderr }
}

t.test('JSON output for every sample image, in argument order', async (t) => {
  const refs = SAMPLE_NAMES.map((n) => samples[n].ref)
  const r = await run(['--plain-http', '--output', 'json', ...refs])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stderr, '')
  const out = JSON.parse(r.stdout) as InspectResult[]
  t.equal(out.length, SAMPLE_NAMES.length)
  SAMPLE_NAMES.forEach((name, i) => {
    const s = samples[name]
    const o = out[i]!
    const e = s.expected
    t.same(
      { image: o.image, digest: o.digest, wasm: o.wasm, runtime: o.runtime, pinnedImage: o.pinnedImage, supported: o.supported },
      {
        image: s.ref,
        digest: s.digest,
        wasm: e.kind === 'wasm',
        runtime: e.runtime,
        pinnedImage: e.pinned ? `${s.repository}@${s.pinnedDigest}` : null,
        supported: e.supported,
      },
      name,
    )
    t.ok(Array.isArray(o.evidence) && o.evidence.length > 0, `${name} has evidence`)
    t.match(o.evidence.join('\n'), e.evidenceIncludes)
    t.equal(o.error, null)
    t.ok(e.kind === 'wasm' ? typeof o.imageKind === 'string' : o.imageKind === (e.kind === 'linux' ? 'linux' : null), `${name} imageKind ${o.imageKind}`)
  })
  const byName = (n: string) => out[SAMPLE_NAMES.indexOf(n as (typeof SAMPLE_NAMES)[number])]!
  t.equal(byName('cncf-component').imageKind, 'wasm-component', 'a single-layer component: runs under the Spin shim too')
  t.equal(byName('cncf-module').imageKind, 'wasm-artifact')
  t.equal(byName('spin-v2').imageKind, 'spin-app')
  t.equal(byName('crun-annotated').imageKind, 'crun-annotated')
})

t.test('an unreadable image: exit 1, reason on stderr, others still reported', async (t) => {
  const missing = `${reg.host}/samples/does-not-exist:v1`
  const r = await run(['--plain-http', '-o', 'json', samples['spin-v2'].ref, missing, samples.linux.ref])
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`${missing.replace(/[.]/g, '\\.')}: WA_ERR_IMAGE_NOT_FOUND`))
  const out = JSON.parse(r.stdout) as InspectResult[]
  t.same(out.map((o) => o.image), [samples['spin-v2'].ref, missing, samples.linux.ref])
  t.same(
    { digest: out[1]!.digest, wasm: out[1]!.wasm, runtime: out[1]!.runtime, supported: out[1]!.supported, kind: out[1]!.kind, code: out[1]!.error?.code },
    { digest: null, wasm: false, runtime: null, supported: false, kind: 'unknown', code: 'WA_ERR_IMAGE_NOT_FOUND' },
  )
  t.equal(out[0]!.runtime, 'spin')
  t.equal(out[2]!.kind, 'linux')
})

t.test('without --plain-http the loopback registry is refused by the SSRF guard', async (t) => {
  const r = await run(['-o', 'json', samples.linux.ref])
  t.equal(r.code, 1)
  t.match(r.stderr, /WA_ERR_IMAGE_HOST_BLOCKED/)
  t.match(r.stderr, /loopback/)
})

t.test('--allow-host admits the host, but HTTPS is still required without --plain-http', async (t) => {
  const r = await run(['-o', 'json', '--allow-host', '127.0.0.0/8', '--timeout', '10', samples.linux.ref])
  t.equal(r.code, 1)
  t.match(r.stderr, /WA_ERR_IMAGE_UNREACHABLE/)
})

t.test('text output is a table with evidence', async (t) => {
  const r = await run(['--plain-http', samples['mixed-index'].ref, samples.linux.ref, samples['envoy-filter'].ref])
  t.equal(r.code, 0, r.stderr)
  const lines = r.stdout.split('\n')
  t.match(lines[0], /^IMAGE\s+KIND\s+RUNTIME\s+SUPPORTED\s+DIGEST\s+PINNED IMAGE$/)
  t.match(lines[1], new RegExp(`^${samples['mixed-index'].ref.replace(/[.]/g, '\\.')}\\s+wasm\\s+spin\\s+yes\\s+sha256:[0-9a-f]{12}\\s+${samples['mixed-index'].repository.replace(/[.]/g, '\\.')}@sha256:`))
  t.match(lines[2], /\s+linux\s+-\s+yes\s+/)
  t.match(lines[3], /\s+unsupported\s+-\s+no\s+/)
  t.match(r.stdout, /- mixed index/)
})

t.test('--credentials with a dockerconfigjson file (htpasswd registry)', async (t) => {
  const authReg = await startRegistry({ htpasswd: { user: TEST_BASIC_USER.user, password: TEST_BASIC_USER.password } })
  t.teardown(() => authReg.stop())
  const s = await pushSampleImages(authReg.host, { only: ['spin-scratch'], credentials: { username: TEST_BASIC_USER.user, password: TEST_BASIC_USER.password } })
  const file = join(home, 'config.json')
  await writeFile(file, JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from(`${TEST_BASIC_USER.user}:${TEST_BASIC_USER.password}`).toString('base64') } } }))
  const ok = await run(['--plain-http', '-o', 'json', '--credentials', file, s['spin-scratch'].ref])
  t.equal(ok.code, 0, ok.stderr)
  t.equal((JSON.parse(ok.stdout) as InspectResult[])[0]!.runtime, 'spin')
  const viaEnv = await run(['--plain-http', '-o', 'json', s['spin-scratch'].ref], { DOCKER_CONFIG: home })
  t.equal(viaEnv.code, 0, 'DOCKER_CONFIG/config.json is used')
  const anon = await run(['--plain-http', '-o', 'json', s['spin-scratch'].ref], { HOME: join(home, 'nowhere') })
  t.equal(anon.code, 1)
  t.match(anon.stderr, /WA_ERR_IMAGE_UNAUTHORIZED/)
  t.notMatch(anon.stderr + ok.stdout + viaEnv.stdout, new RegExp(TEST_BASIC_USER.password))
})

t.test('usage errors exit 2', async (t) => {
  t.equal((await run([])).code, 2)
  t.equal((await run(['--output', 'yaml', 'x'])).code, 2)
  t.equal((await run(['--bogus', 'x'])).code, 2)
  t.equal((await run(['--timeout', '0', 'x'])).code, 2)
  t.equal((await run(['--credentials', join(home, 'absent.json'), 'x'])).code, 2)
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /--plain-http/)
})

t.test('an invalid reference is reported like any unreadable image', async (t) => {
  const r = await run(['-o', 'json', 'Not/A/Valid:Ref'])
  t.equal(r.code, 1)
  t.match(r.stderr, /WA_ERR_IMAGE_REFERENCE/)
  t.equal((JSON.parse(r.stdout) as InspectResult[])[0]!.kind, 'unknown')
})
