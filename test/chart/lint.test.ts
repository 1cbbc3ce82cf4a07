// helm lint + helm template with the default values and the four permutations (ci/*-values.yaml),
// and the negative cases: values.schema.json rejects wrong types and unknown keys, and
// templates/validate.yaml refuses impossible or dangerous combinations.
import t, { type Test } from 'tap'
import { PERMUTATIONS, helmSkip, lint, template, type RenderOptions } from './helm.js'

const skip = helmSkip()

const cases: Array<[string, RenderOptions]> = [
  ['default values', {}],
  ...Object.entries(PERMUTATIONS).map(([name, file]): [string, RenderOptions] => [name, { valuesFiles: [file] }]),
]

t.test('helm lint --strict and helm template succeed', { skip }, async (t) => {
  for (const [name, o] of cases) {
    const l = await lint(o)
    t.equal(l.code, 0, `lint ${name}`, { stdout: l.stdout, stderr: l.stderr })
    const r = await template(o)
    t.equal(r.code, 0, `template ${name}`, { stderr: r.stderr })
    t.ok(r.docs.length >= 4, `template ${name} renders objects`)
    for (const d of r.docs) {
      t.ok(d.apiVersion && d.kind && d.metadata?.name, `${name}: ${d.kind}/${d.metadata?.name} has apiVersion, kind and name`)
    }
  }
})

/** Expects `helm template` to fail with stderr matching `pattern`. */
async function rejects(t: Test, o: RenderOptions, pattern: RegExp, msg: string): Promise<void> {
  const r = await template(o)
  t.not(r.code, 0, `${msg}: helm template fails`)
  t.match(r.stderr, pattern, `${msg}: explains why`)
}

t.test('values.schema.json rejects wrong types', { skip }, async (t) => {
  await rejects(t, { args: ['--set', 'deployment.replicas=two'] }, /replicas.*(want integer|string)/s, 'replicas as a string')
  await rejects(t, { values: { webhook: { timeoutSeconds: '5' } } }, /timeoutSeconds.*want integer/s, 'timeoutSeconds as a string')
  await rejects(t, { values: { webhook: { timeoutSeconds: 31 } } }, /timeoutSeconds/, 'timeoutSeconds above the Kubernetes maximum of 30')
  await rejects(t, { values: { webhook: { mutating: { failurePolicy: 'Maybe' } } } }, /failurePolicy/, 'failurePolicy outside Ignore|Fail')
  await rejects(t, { values: { certificates: { mode: 'selfsigned' } } }, /mode/, 'unknown certificates.mode')
  await rejects(t, { values: { rbac: { create: 'enabled' } } }, /create.*want boolean/s, 'rbac.create as a string')
  await rejects(t, { values: { policy: { defaultMode: 'strict' } } }, /defaultMode/, 'policy.defaultMode outside the modes')
  await rejects(t, { values: { webhook: { url: 'http://127.0.0.1:8443' } } }, /url/, 'plain-http webhook.url')
})

t.test('values.schema.json rejects unknown keys at every level', { skip }, async (t) => {
  await rejects(t, { values: { replicas: 3 } }, /additional properties 'replicas' not allowed/, 'top-level typo')
  await rejects(t, { values: { deployment: { replica: 3 } } }, /additional properties 'replica' not allowed/, 'deployment.replica')
  await rejects(t, { values: { webhook: { mutating: { failurPolicy: 'Fail' } } } }, /additional properties 'failurPolicy' not allowed/, 'webhook.mutating typo')
  await rejects(t, { values: { certificates: { helm: { days: 10 } } } }, /additional properties 'days' not allowed/, 'certificates.helm.days')
  await rejects(t, { values: { policy: { defaultmode: 'warn' } } }, /additional properties 'defaultmode' not allowed/, 'policy key typo')
  await rejects(t, { values: { policy: { families: { spin: { runtimeclass: 'auto' } } } } }, /additional properties 'runtimeclass' not allowed/, 'policy family key typo')
  await rejects(t, { values: { registry: { readPullSecret: true } } }, /additional properties 'readPullSecret' not allowed/, 'registry typo')
})

t.test('templates/validate.yaml fails fast', { skip }, async (t) => {
  await rejects(t, { namespace: 'kube-system' }, /cannot be installed in namespace kube-system/, 'kube-system')
  await rejects(t, { values: { deployment: { replicas: 0 } } }, /replicas must be at least 1/, 'zero replicas')
  await rejects(t, { values: { certificates: { mode: 'provided', provided: { secretName: 's' } } } }, /requires certificates.caBundle/, 'provided without caBundle')
  await rejects(t, { values: { certificates: { mode: 'provided', caBundle: 'Zm9v' } } }, /requires certificates.provided.secretName/, 'provided without secretName')
  await rejects(t, { values: { certificates: { caBundle: 'Zm9v' } } }, /only used with certificates.mode=provided/, 'caBundle in helm mode')
  await rejects(t, { values: { deployment: { enabled: false } } }, /needs webhook.url/, 'no Deployment and no url')
  await rejects(t, { values: { deployment: { enabled: false }, webhook: { url: 'https://127.0.0.1:8443' } } }, /needs certificates.mode=provided/, 'url mode with Helm-generated certificates')
  await rejects(t, { values: { webhook: { url: 'https://127.0.0.1:8443/?x=1' }, certificates: { mode: 'certManager' } } }, /must not contain a query/, 'url with a query')
  await rejects(t, { values: { serviceAccount: { create: false } } }, /serviceAccount.name is required/, 'no ServiceAccount name')
})
