// Install test on a real kube-apiserver (test/harness/control-plane.ts; no kubelet, so no pod ever runs):
//   1. url mode + provided certs (the end-to-end tests' way): helm install succeeds, the webhook
//      configurations carry the caBundle, selectors and policies asked for; helm uninstall leaves no
//      webhook configuration (nor anything else of the release) behind.
//   2. service mode + Helm-generated certificates: `lookup` keeps the CA and serving certificate across
//      upgrades, re-issues the serving certificate near expiry, and uninstall still cleans up although
//      the fail-closed webhook points at a Service without endpoints.
//   3. deleting the namespace instead of uninstalling: the ownerReference to the Namespace lets the
//      garbage collector remove the cluster-scoped webhook configurations.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { controlPlaneToolsAvailable, startControlPlane, type ControlPlane } from '../harness/control-plane.js'
import { CHART_DIR, PERMUTATIONS, helm, helmSkip, type K8sObject, type RunResult } from './helm.js'

const required = process.env.WASM_ADMISSION_REQUIRE_CLUSTER === '1'
const helmMissing = helmSkip()
const planeMissing = controlPlaneToolsAvailable(true) ? false : 'control-plane tools not built: run scripts/build-tools.sh'
if (required && planeMissing) t.fail(`${planeMissing} and WASM_ADMISSION_REQUIRE_CLUSTER=1`)
const skip = helmMissing || planeMissing

const GEN_CERTS = resolve(import.meta.dirname, '../../certs/gen-dev-certs.sh')

async function getJson(cp: ControlPlane, args: string[]): Promise<K8sObject> {
  return JSON.parse((await cp.kubectl([...args, '-o', 'json'])).stdout) as K8sObject
}

/** Names of all webhook configurations of both kinds in the cluster. */
async function webhookConfigurations(cp: ControlPlane): Promise<string[]> {
  const list = await getJson(cp, ['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations'])
  return (list.items as K8sObject[]).map((i) => `${i.kind}/${i.metadata.name}`)
}

function helmOn(cp: ControlPlane, args: string[]): Promise<RunResult> {
  return helm([...args, '--kubeconfig', cp.kubeconfigPath], { timeoutMs: 180_000 })
}

t.test('helm install / upgrade / uninstall on a real apiserver', { skip, timeout: 600_000 }, async (t) => {
  const cp = await startControlPlane({ withControllerManager: true })
  t.teardown(() => cp.stop())
  t.same(await webhookConfigurations(cp), [], 'a fresh cluster has no webhook configurations')

  t.test('url mode with provided certificates', async (t) => {
    const dir = t.testdir()
    execFileSync(GEN_CERTS, ['wasm-admission', 'wa-e2e'], { env: { ...process.env, WASM_ADMISSION_CERTS_OUT: dir }, stdio: 'pipe' })
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8')
    await cp.kubectl(['create', 'namespace', 'wa-e2e'])

    const install = await helmOn(cp, [
      'install', 'wa', CHART_DIR, '--namespace', 'wa-e2e',
      '--set', 'deployment.enabled=false',
      '--set', 'webhook.url=https://127.0.0.1:18443',
      '--set', 'certificates.mode=provided',
      '--set-file', `certificates.caBundle=${join(dir, 'ca.crt')}`,
      '--set', 'webhook.timeoutSeconds=7',
      '--set', 'webhook.excludeNamespaces={monitoring}',
      '--wait', '--timeout', '2m',
    ])
    t.equal(install.code, 0, 'helm install succeeds', { stderr: install.stderr })

    const mwc = await getJson(cp, ['get', 'mutatingwebhookconfiguration', 'wa-wasm-admission'])
    const vwc = await getJson(cp, ['get', 'validatingwebhookconfiguration', 'wa-wasm-admission'])
    const [m, v] = [mwc.webhooks[0], vwc.webhooks[0]]
    for (const [w, path] of [[m, '/mutate'], [v, '/validate']] as const) {
      t.equal(Buffer.from(w.clientConfig.caBundle, 'base64').toString(), caPem, `${path}: caBundle is the CA`)
      t.equal(w.clientConfig.url, `https://127.0.0.1:18443${path}`)
      t.notOk(w.clientConfig.service)
      t.equal(w.timeoutSeconds, 7)
      t.equal(w.sideEffects, 'None')
      t.equal(w.matchPolicy, 'Equivalent')
      t.same(w.admissionReviewVersions, ['v1'])
      t.same(w.namespaceSelector.matchExpressions, [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-public', 'kube-node-lease', 'wa-e2e', 'monitoring'] },
        { key: 'wasm-admission.io/ignore', operator: 'NotIn', values: ['true'] },
      ])
    }
    t.equal(m.failurePolicy, 'Ignore')
    t.equal(m.reinvocationPolicy, 'IfNeeded')
    t.equal(v.failurePolicy, 'Fail')
    t.equal(v.rules.length, 3, 'pods + apps + batch rules')

    const ns = await getJson(cp, ['get', 'namespace', 'wa-e2e'])
    t.same(mwc.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Namespace', name: 'wa-e2e', uid: ns.metadata.uid }], 'owned by the release namespace')

    const cm = await getJson(cp, ['-n', 'wa-e2e', 'get', 'configmap', 'wa-wasm-admission-policy'])
    t.ok('policy.yaml' in cm.data, 'policy ConfigMap installed')
    const deploys = await getJson(cp, ['-n', 'wa-e2e', 'get', 'deployments'])
    t.same(deploys.items, [], 'url mode installs no Deployment')

    const uninstall = await helmOn(cp, ['uninstall', 'wa', '--namespace', 'wa-e2e', '--wait', '--timeout', '2m'])
    t.equal(uninstall.code, 0, 'helm uninstall succeeds', { stderr: uninstall.stderr })
    t.same(await webhookConfigurations(cp), [], 'no webhook configuration left behind')
    const roles = await getJson(cp, ['get', 'clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/instance=wa'])
    t.same(roles.items, [], 'no cluster RBAC left behind')
    const left = await getJson(cp, ['-n', 'wa-e2e', 'get', 'configmaps,secrets,serviceaccounts', '-l', 'app.kubernetes.io/instance=wa'])
    t.same(left.items, [], 'no namespaced objects left behind')
  })

  t.test('service mode with Helm-generated certificates kept across upgrades', async (t) => {
    await cp.kubectl(['create', 'namespace', 'wa-gen'])
    const args = ['--namespace', 'wa-gen', '--set', 'tests.enabled=false', '--timeout', '2m']
    const install = await helmOn(cp, ['install', 'gen', CHART_DIR, ...args])
    t.equal(install.code, 0, 'helm install succeeds', { stderr: install.stderr })

    const read = async (): Promise<{ ca: string; caKey: string; leaf: string; bundles: string[] }> => {
      const ca = await getJson(cp, ['-n', 'wa-gen', 'get', 'secret', 'gen-wasm-admission-ca'])
      const tls = await getJson(cp, ['-n', 'wa-gen', 'get', 'secret', 'gen-wasm-admission-tls'])
      const mwc = await getJson(cp, ['get', 'mutatingwebhookconfiguration', 'gen-wasm-admission'])
      const vwc = await getJson(cp, ['get', 'validatingwebhookconfiguration', 'gen-wasm-admission'])
      return { ca: ca.data['tls.crt'], caKey: ca.data['tls.key'], leaf: tls.data['tls.crt'], bundles: [mwc.webhooks[0].clientConfig.caBundle, vwc.webhooks[0].clientConfig.caBundle] }
    }
    const first = await read()
    t.same(first.bundles, [first.ca, first.ca], 'both webhooks trust the generated CA')
    const svc = (await getJson(cp, ['get', 'validatingwebhookconfiguration', 'gen-wasm-admission'])).webhooks[0].clientConfig.service
    t.same(svc, { name: 'gen-wasm-admission', namespace: 'wa-gen', path: '/validate', port: 443 })

    const upgrade = await helmOn(cp, ['upgrade', 'gen', CHART_DIR, ...args])
    t.equal(upgrade.code, 0, 'helm upgrade succeeds', { stderr: upgrade.stderr })
    t.same(await read(), first, 'upgrade keeps the CA, the serving certificate and the caBundle (lookup)')

    // Pretend the serving certificate is 30 days from expiry: the next upgrade re-issues it from the same CA.
    const soon = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z')
    await cp.kubectl(['-n', 'wa-gen', 'annotate', '--overwrite', 'secret', 'gen-wasm-admission-tls', `wasm-admission.io/not-after=${soon}`])
    const renew = await helmOn(cp, ['upgrade', 'gen', CHART_DIR, ...args])
    t.equal(renew.code, 0, 'helm upgrade near expiry succeeds', { stderr: renew.stderr })
    const renewed = await read()
    t.equal(renewed.ca, first.ca, 'same CA')
    t.equal(renewed.caKey, first.caKey, 'same CA key')
    t.same(renewed.bundles, first.bundles, 'caBundle unchanged: no window where the API server distrusts the webhook')
    t.not(renewed.leaf, first.leaf, 'serving certificate re-issued')

    const uninstall = await helmOn(cp, ['uninstall', 'gen', '--namespace', 'wa-gen', '--wait', '--timeout', '2m'])
    t.equal(uninstall.code, 0, 'helm uninstall succeeds', { stderr: uninstall.stderr })
    t.same(await webhookConfigurations(cp), [], 'no webhook configuration left behind')
    const left = await getJson(cp, ['-n', 'wa-gen', 'get', 'deployments,services,secrets,configmaps,poddisruptionbudgets', '-l', 'app.kubernetes.io/instance=gen'])
    t.same(left.items, [], 'no namespaced objects left behind (Secrets included)')
  })

  t.test('deleting the namespace instead of uninstalling garbage-collects the webhook configurations', async (t) => {
    await cp.kubectl(['create', 'namespace', 'wa-gc'])
    const install = await helmOn(cp, ['install', 'gc', CHART_DIR, '--namespace', 'wa-gc', '-f', PERMUTATIONS.urlMode])
    t.equal(install.code, 0, 'helm install succeeds', { stderr: install.stderr })
    t.equal((await webhookConfigurations(cp)).length, 2)
    await cp.kubectl(['delete', 'namespace', 'wa-gc', '--wait=false'])
    const deadline = Date.now() + 120_000
    let remaining = await webhookConfigurations(cp)
    while (remaining.length > 0 && Date.now() < deadline) {
      await delay(1000)
      remaining = await webhookConfigurations(cp)
    }
    t.same(remaining, [], 'the garbage collector removed both webhook configurations')
  })
})
