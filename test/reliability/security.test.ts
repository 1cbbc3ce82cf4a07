/**
 * Security checks (SECURITY.md):
 *  1. No credential in any output: the webhook runs with registry credentials -- a
 *     `--registry-credentials` dockerconfigjson file, and `--read-pull-secrets` with dockerconfigjson
 *     Secrets on the REAL apiserver -- against REAL registries with htpasswd basic auth and with token
 *     auth (a token service). Logs at trace level, /metrics, /readyz and every review answer
 *     (including 401 failures with a wrong password) are searched for the passwords, the base64
 *     `auth` values, the base64 of the dockerconfigjson, and bearer tokens (JWTs): none found.
 *  2. RBAC least privilege on the REAL apiserver: the chart's ServiceAccount, ClusterRole and
 *     ClusterRoleBinding (helm template) applied, then SubjectAccessReviews through
 *     `kubectl auth can-i --as=system:serviceaccount:NS:SA`.
 *  3. TLS: `openssl s_client` -- TLS 1.0 and 1.1 refused (by the server: the client is allowed to offer
 *     them with @SECLEVEL=0), TLS 1.2 and 1.3 accepted, weak TLS 1.2 ciphers refused.
 *  4. `npm audit --omit=dev --audit-level=high`.
 */
import t from 'tap'
import http2 from 'node:http2'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getHealth, post2 } from '../helpers/server.js'
import { pod, review } from '../helpers/reviews.js'
import { registryAvailable, startRegistry, type RegistryHandle } from '../harness/registry.js'
import { startTokenService, type TokenService } from '../harness/token-service.js'
import { pushSampleImages, type SampleImage } from '../harness/sample-images.js'
import { byKind, template } from '../chart/helm.js'
import { startPlane } from '../facts/cluster/plane.js'
import type { ControlPlane } from '../harness/control-plane.js'
import { Ledger, startReliabilityServer } from './helpers.js'
import { run } from '../harness/process.js'
import type { TestServer } from '../helpers/server.js'

if (!registryAvailable()) throw new Error('docker-registry is not installed: run scripts/install-system-deps.sh')
const ledger = new Ledger('security')
const ROOT = join(import.meta.dirname, '..', '..')


// ------------------------------------------------------------------ 1. secrets never leak

const USER = 'wa-security-user'
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
const WRONG = `wrong-${randomBytes(12).toString('hex')}`
const b64 = (s: string): string => Buffer.from(s).toString('base64')
const dockerConfig = (hosts: string[], password: string): string => JSON.stringify({ auths: Object.fromEntries(hosts.map((h) => [h, { username: USER, password, auth: b64(`${USER}:${password}`) }])) })

let basicReg: RegistryHandle
let tokenReg: RegistryHandle
let tokens: TokenService
let basicSamples: Record<string, SampleImage>
let tokenSamples: Record<string, SampleImage>
let cp: ControlPlane

t.before(async () => {
  basicReg = await startRegistry({ htpasswd: { user: USER, password: PASSWORD } })
  tokens = await startTokenService({ users: { [USER]: PASSWORD } })
  tokenReg = await startRegistry({ tokenAuth: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundlePem: tokens.certPem } })
  basicSamples = await pushSampleImages(basicReg.host, { only: ['spin-scratch', 'linux', 'mixed-index'], credentials: { username: USER, password: PASSWORD } })
  tokenSamples = await pushSampleImages(tokenReg.host, { only: ['spin-v2', 'linux'], credentials: { username: USER, password: PASSWORD } })
  cp = await startPlane()
})
t.teardown(async () => {
  ledger.flush()
  await cp?.stop()
  await tokenReg?.stop()
  await tokens?.stop()
  await basicReg?.stop()
})

function secretsIn(text: string): string[] {
  const found: string[] = []
  const needles: Array<[string, string]> = [
    ['password', PASSWORD],
    ['wrong password', WRONG],
    ['base64 auth', b64(`${USER}:${PASSWORD}`)],
    ['base64 wrong auth', b64(`${USER}:${WRONG}`)],
    ['base64 dockerconfigjson', b64(dockerConfig([basicReg.host, tokenReg.host], PASSWORD)).slice(0, 40)],
    ['basic header', `Basic ${b64(`${USER}:${PASSWORD}`)}`],
  ]
  for (const [what, needle] of needles) if (text.includes(needle)) found.push(what)
  if (/eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/.test(text)) found.push('a JWT (bearer token)')
  if (/Bearer\s+[A-Za-z0-9._-]{16,}/.test(text)) found.push('a Bearer header')
  return found
}

t.test('the search is not vacuous: planted secrets are found', async (t) => {
  t.same(secretsIn(`{"msg":"x ${PASSWORD} y"}`), ['password'])
  t.same(secretsIn(`auth ${b64(`${USER}:${PASSWORD}`)}`), ['base64 auth'])
  t.same(secretsIn('token eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ0ZXN0In0.sig'), ['a JWT (bearer token)'])
})

async function exercise(s: TestServer, images: string[], extra: Record<string, unknown> = {}): Promise<string> {
  const session = http2.connect(s.url, { ca: s.ca.caPem })
  const answers: unknown[] = []
  try {
    for (const image of images) {
      for (const path of ['/mutate', '/validate']) {
        const r = await post2(session, path, JSON.stringify(review(pod([{ name: 'app', image }], extra))))
        ledger.add('reviews')
        answers.push(r.body)
      }
    }
  } finally {
    session.close()
  }
  const metrics = (await getHealth(s.server.healthPort, '/metrics')).body
  const ready = (await getHealth(s.server.healthPort, '/readyz')).body
  return [JSON.stringify(s.logs), metrics, ready, JSON.stringify(answers)].join('\n')
}

const regConfig = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'wa-sec-'))
  writeFileSync(join(dir, 'registry.yaml'), `plainHttp: [${basicReg.host}, ${tokenReg.host}, ${tokens.host}]\nallowHosts: [127.0.0.0/8]\n`)
  return join(dir, 'registry.yaml')
}

t.test('--registry-credentials: no password, auth, dockerconfigjson or token in logs, metrics, readiness or answers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wa-sec-creds-'))
  const good = join(dir, 'good.json')
  const bad = join(dir, 'bad.json')
  writeFileSync(good, dockerConfig([basicReg.host, tokenReg.host], PASSWORD))
  writeFileSync(bad, dockerConfig([basicReg.host, tokenReg.host], WRONG))
  const images = [basicSamples['spin-scratch']!.ref, basicSamples['mixed-index']!.ref, basicSamples['linux']!.ref, tokenSamples['spin-v2']!.ref, tokenSamples['linux']!.ref, `${basicReg.host}/no/such:v1`]
  for (const [name, file] of [['correct credentials', good], ['wrong password (401)', bad]] as const) {
    const before = tokens.issued()
    const s = await startReliabilityServer({ args: ['--no-cluster', '--registry-credentials', file, '--registry-config', regConfig(), '--log-level', 'trace'] })
    const out = await exercise(s, images)
    await s.server.shutdown('test end')
    const logs = JSON.stringify(s.logs)
    if (name === 'correct credentials') {
      t.ok(tokens.issued() > before, `${name}: the token service issued ${tokens.issued() - before} tokens (token auth was used)`)
      t.match(out, /"kind":"linux"|wasm-admission/, `${name}: reviews answered`)
      t.ok(out.includes('/spec/runtimeClassName') || out.includes('"allowed":true'), `${name}: images were inspected with the credentials`)
    } else {
      t.match(out, /WA_ERR_IMAGE_UNAUTHORIZED|unauthori[sz]ed|401/i, `${name}: the failure is visible`)
    }
    t.ok(logs.length > 1000, `${name}: ${s.logs.length} log lines captured at trace level`)
    t.same(secretsIn(out), [], `${name}: no secret found in ${out.length} characters of output`)
    ledger.add('outputCharsSearched', out.length)
  }
})

t.test('--read-pull-secrets with dockerconfigjson Secrets on the real apiserver: nothing leaks', async (t) => {
  const secret = (name: string, password: string): string =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(dockerConfig([basicReg.host, tokenReg.host], password)) } })
  await cp.kubectl(['apply', '-f', '-'], { input: secret('regcred', PASSWORD) })
  await cp.kubectl(['apply', '-f', '-'], { input: secret('badcred', WRONG) })
  const s = await startReliabilityServer({ args: ['--kubeconfig', cp.kubeconfigPath, '--read-pull-secrets', '--registry-config', regConfig(), '--log-level', 'trace'] })
  const images = [basicSamples['spin-scratch']!.ref, tokenSamples['spin-v2']!.ref, basicSamples['linux']!.ref]
  const good = await exercise(s, images, { imagePullSecrets: [{ name: 'regcred' }] })
  const badOut = await exercise(s, [basicSamples['mixed-index']!.ref, tokenSamples['linux']!.ref], { imagePullSecrets: [{ name: 'badcred' }, { name: 'missing-secret' }] })
  await s.server.shutdown('test end')
  t.match(good, /runtimeClassName|"allowed":true/, 'pull secrets were used')
  t.match(badOut, /WA_ERR_IMAGE_UNAUTHORIZED|unauthori[sz]ed|401/i, 'the wrong secret fails visibly')
  t.same(secretsIn(good + badOut), [], 'no secret in logs, metrics, readiness or answers')
  ledger.add('outputCharsSearched', good.length + badOut.length)
})

// ------------------------------------------------------------------ 2. RBAC least privilege (SubjectAccessReviews)

t.test("RBAC: the chart's ServiceAccount can list/watch nodes, runtimeclasses and namespaces, with drift the workloads, reports, Events and its Lease, and nothing else", async (t) => {
  await cp.kubectl(['create', 'namespace', 'wasm-system'], { allowFailure: true })
  const variants = [
    { release: 'wa', values: {}, pullSecrets: false, drift: true },
    { release: 'wap', values: { registry: { readPullSecrets: true } }, pullSecrets: true, drift: true },
    { release: 'wan', values: { drift: { enabled: false } }, pullSecrets: false, drift: false },
  ]
  // What the drift controller (docs/drift.md, on by default) reads and writes, as `kubectl auth can-i --list` rows.
  const WORKLOADS = ['pods', 'deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'replicasets.apps', 'jobs.batch', 'cronjobs.batch']
  const DRIFT_ROWS = [...WORKLOADS.map((r) => `${r}: list watch`), 'events.events.k8s.io: create', 'policyreports.wgpolicyk8s.io: list create patch delete']
  for (const v of variants) {
    const { docs, code, stderr } = await template({ release: v.release, values: v.values })
    t.equal(code, 0, `helm template ${v.release}: ${stderr}`)
    const rbac = [...byKind(docs, 'ServiceAccount'), ...byKind(docs, 'ClusterRole'), ...byKind(docs, 'ClusterRoleBinding'), ...byKind(docs, 'Role'), ...byKind(docs, 'RoleBinding')]
    await cp.kubectl(['apply', '-f', '-'], { input: rbac.map((d) => JSON.stringify(d)).join('\n---\n') })
    const sa = byKind(docs, 'ServiceAccount')[0]!.metadata.name as string
    const as = `--as=system:serviceaccount:wasm-system:${sa}`
    const can = async (verb: string, resource: string, ns?: string): Promise<boolean> => {
      ledger.add('subjectAccessReviews')
      const r = await cp.kubectl(['auth', 'can-i', verb, resource, as, ...(ns ? ['-n', ns] : ['--all-namespaces'])], { allowFailure: true })
      return r.stdout.trim() === 'yes'
    }
    const allowed: Array<[string, string]> = [
      ['list', 'nodes'], ['watch', 'nodes'],
      ['list', 'runtimeclasses.node.k8s.io'], ['watch', 'runtimeclasses.node.k8s.io'],
      ['list', 'namespaces'], ['watch', 'namespaces'],
    ]
    for (const [verb, res] of allowed) t.ok(await can(verb, res), `${v.release}: can ${verb} ${res}`)
    for (const res of WORKLOADS) t.equal(await can('list', res), v.drift, `${v.release}: list ${res} ${v.drift ? 'allowed (drift.enabled)' : 'denied'}`)
    t.equal(await can('create', 'events.events.k8s.io', 'default'), v.drift, `${v.release}: create events ${v.drift ? 'allowed' : 'denied'}`)
    const leaseRoles = byKind(docs, 'Role').filter((r) => ((r.rules ?? []) as Array<{ resources?: string[] }>).some((x) => x.resources?.includes('leases')))
    t.equal(leaseRoles.length, v.drift ? 1 : 0, `${v.release}: ${v.drift ? 'one Role for the Lease' : 'no Lease Role'}`)
    if (v.drift) {
      const leaseNs = leaseRoles[0]!.metadata.namespace as string
      t.ok(await can('update', 'leases.coordination.k8s.io', leaseNs), `${v.release}: update leases in ${leaseNs}`)
      t.notOk(await can('update', 'leases.coordination.k8s.io', 'default'), `${v.release}: no leases outside ${leaseNs}`)
    }
    const denied: Array<[string, string]> = [
      ['get', 'nodes'], ['update', 'nodes'], ['patch', 'nodes'], ['delete', 'nodes'],
      ['create', 'runtimeclasses.node.k8s.io'], ['delete', 'runtimeclasses.node.k8s.io'],
      ['update', 'namespaces'], ['delete', 'namespaces'],
      ['list', 'secrets'], ['watch', 'secrets'], ['create', 'secrets'],
      ['create', 'pods'], ['delete', 'pods'], ['create', 'pods/exec'],
      ['get', 'configmaps'], ['list', 'serviceaccounts'], ['create', 'serviceaccounts/token'],
      ['create', 'deployments.apps'], ['update', 'deployments.apps'],
      ['create', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'], ['update', 'validatingwebhookconfigurations.admissionregistration.k8s.io'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'], ['escalate', 'clusterroles.rbac.authorization.k8s.io'], ['bind', 'clusterroles.rbac.authorization.k8s.io'],
      ['impersonate', 'users'], ['create', 'certificatesigningrequests.certificates.k8s.io'], ['*', '*'],
    ]
    for (const [verb, res] of denied) t.notOk(await can(verb, res), `${v.release}: cannot ${verb} ${res}`)
    t.equal(await can('get', 'secrets', 'default'), v.pullSecrets, `${v.release}: get secrets ${v.pullSecrets ? 'allowed (registry.readPullSecrets=true)' : 'denied'}`)
    t.equal(await can('get', 'serviceaccounts', 'default'), v.pullSecrets, `${v.release}: get serviceaccounts ${v.pullSecrets ? 'allowed' : 'denied'}`)
    // the whole list, minus what every authenticated identity gets (discovery, self reviews)
    const list = await cp.kubectl(['auth', 'can-i', '--list', as], { allowFailure: true })
    ledger.add('subjectAccessReviews')
    const resources = list.stdout
      .split('\n')
      .slice(1)
      .filter((l) => /^\S/.test(l)) // rows with a resource (non-resource URL rows start with blanks)
      .map((l) => /^(\S+)\s+\[[^\]]*\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && !m[1]!.includes('selfsubject'))
      .map((m) => `${m[1]}${m[2] ? `(${m[2]})` : ''}: ${m[3]}`)
      .sort()
    const expected = ['namespaces: list watch', 'nodes: list watch', 'runtimeclasses.node.k8s.io: list watch', ...(v.pullSecrets ? ['secrets: get', 'serviceaccounts: get'] : []), ...(v.drift ? DRIFT_ROWS : [])].sort()
    t.same(resources, expected, `${v.release}: kubectl auth can-i --list shows only ${expected.join('; ')} (besides self-reviews and the discovery URLs every identity gets)`)
  }
})

// ------------------------------------------------------------------ 3. TLS versions and ciphers

t.test('TLS: 1.0 and 1.1 refused, 1.2 and 1.3 accepted, weak ciphers refused (openssl s_client)', async (t) => {
  const s = await startReliabilityServer()
  t.teardown(() => s.server.shutdown('test end'))
  const caFile = join(s.tlsDir, 'ca-for-client.crt')
  writeFileSync(caFile, s.ca.caPem)
  const sClient = (args: string[]): Promise<{ code: number; out: string }> =>
    run('openssl', ['s_client', '-connect', `127.0.0.1:${s.server.webhookPort}`, '-servername', 'localhost', '-CAfile', caFile, ...args], { input: 'Q\n', timeoutMs: 20_000 }).then((r) => ({ code: r.code, out: r.stdout + r.stderr }))
  const handshake = (out: string): { ok: boolean; protocol?: string; cipher?: string } => {
    const proto = /Protocol\s*:\s*(\S+)/.exec(out)?.[1] ?? /New, (TLSv[\d.]+), Cipher is (\S+)/.exec(out)?.[1]
    const cipher = /Cipher\s*(?:is|:)\s*(\S+)/.exec(out)?.[1]
    const ok = /Verify return code: 0 \(ok\)/.test(out) && cipher !== undefined && cipher !== '(NONE)' && cipher !== '0000'
    return { ok, ...(proto ? { protocol: proto } : {}), ...(cipher ? { cipher } : {}) }
  }
  for (const [flag, want] of [['-tls1', false], ['-tls1_1', false], ['-tls1_2', true], ['-tls1_3', true]] as const) {
    ledger.add('tlsHandshakes')
    // @SECLEVEL=0 lets this client OFFER old protocols/ciphers, so a refusal is the server's
    const r = await sClient([flag, ...(flag === '-tls1_3' ? [] : ['-cipher', 'DEFAULT:@SECLEVEL=0'])])
    const h = handshake(r.out)
    if (want) {
      t.ok(h.ok, `${flag}: handshake succeeds (${h.protocol}, ${h.cipher})`)
    } else {
      t.notOk(h.ok, `${flag}: refused`)
      t.match(r.out, /alert protocol version|unsupported protocol|no protocols available|wrong version number|tlsv1 alert/i, `${flag}: refused for the protocol version: ${(/error:[^\n]*/.exec(r.out) ?? [''])[0]}`)
    }
  }
  for (const cipher of ['RC4:3DES:NULL:EXPORT:DES:@SECLEVEL=0', 'aNULL:eNULL:@SECLEVEL=0', 'MD5:@SECLEVEL=0']) {
    ledger.add('tlsHandshakes')
    const r = await sClient(['-tls1_2', '-cipher', cipher])
    t.notOk(handshake(r.out).ok, `-tls1_2 -cipher '${cipher}': refused (${(/error:[^\n]*|no cipher[^\n]*|handshake failure/.exec(r.out) ?? ['no shared cipher'])[0]})`)
  }
})

// ------------------------------------------------------------------ 4. npm audit

t.test('npm audit --omit=dev --audit-level=high', async (t) => {
  const r = await run('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: ROOT, timeoutMs: 120_000 })
  let report: { message?: string; vulnerabilities?: Record<string, { severity: string }>; metadata?: { vulnerabilities?: Record<string, number> }; error?: { summary?: string; detail?: string } } = {}
  try {
    report = JSON.parse(r.stdout)
  } catch {
    /* not JSON: handled below */
  }
  const why = report.message ?? report.error?.summary ?? r.stderr.split('\n').find((l) => /error/.test(l)) ?? ''
  const unreachable = report.metadata === undefined && /audit endpoint|Method Not Allowed|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(why + r.stderr)
  if (!unreachable) {
    const counts = report.metadata?.vulnerabilities ?? {}
    t.equal((counts['high'] ?? 0) + (counts['critical'] ?? 0), 0, `no high or critical advisory in production dependencies: ${JSON.stringify(counts)}`)
    ledger.add('auditHighCritical', (counts['high'] ?? 0) + (counts['critical'] ?? 0))
  } else {
    // The registry reachable from here does not serve the advisory endpoint. Not faked: what can be
    // checked offline is checked, and the gap is printed.
    t.comment(`npm audit could not run here: ${why} -- run it where registry.npmjs.org's advisory endpoint is reachable`)
    ledger.add('auditUnavailable')
    const ls = await run('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: ROOT, timeoutMs: 120_000 })
    const tree = JSON.parse(ls.stdout) as { problems?: string[] }
    t.same(tree.problems ?? [], [], 'offline: the installed production tree matches package-lock.json (no missing, extraneous or invalid package)')
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; integrity?: string; resolved?: string; link?: boolean }> }
    const prod = Object.entries(lock.packages).filter(([k, p]) => k !== '' && !p.dev && !p.link)
    t.ok(prod.length > 0, `${prod.length} production packages in the lockfile`)
    t.same(prod.filter(([, p]) => !/^sha512-/.test(p.integrity ?? '')).map(([k]) => k), [], 'offline: every production package is pinned by a sha512 integrity hash')
  }
})
