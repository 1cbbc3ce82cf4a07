// Namespace modes and the webhook's reach, end to end (issue 6 §2): warn namespaces admit with a
// warning kubectl prints, audit namespaces admit silently and record audit annotations, kube-system,
// the release namespace and opted-out namespaces are never intercepted, and with the webhook process
// stopped the chart's default failurePolicy (mutating Ignore, validating Fail) does exactly what the
// chart promises. Real parts (test/harness/e2e-env.ts); the apiserver writes a real audit log.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { deploymentObject, MODE_LABEL, podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)

const AUDIT_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'Metadata', verbs: ['create'], resources: [{ group: '', resources: ['pods'] }] },
    { level: 'None' },
  ],
})

t.test('namespace modes and exclusions on a real control plane', { skip, timeout: 600_000 }, async (t) => {
  const auditDir = mkdtempSync(join(tmpdir(), 'wasm-admission-e2e-audit-'))
  t.teardown(() => rmSync(auditDir, { recursive: true, force: true }))
  writeFileSync(join(auditDir, 'policy.json'), AUDIT_POLICY)
  const auditLog = join(auditDir, 'audit.log')
  const env: E2EEnv = await startE2EEnv({ apiserverArgs: [`--audit-policy-file=${join(auditDir, 'policy.json')}`, `--audit-log-path=${auditLog}`, '--audit-log-mode=blocking'] })
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace('enforced')
  await env.createNamespace('warned', { [MODE_LABEL]: 'warn' })
  await env.createNamespace('audited', { [MODE_LABEL]: 'audit' })
  await env.createNamespace('opted-out', { 'wasm-admission.io/ignore': 'true' })
  const slightWhy = `container "app" (image "${s['slight-scratch'].ref}"): 0/6 nodes can run RuntimeClass slight-nowhere (handler slight): 6 lack the slight shim`

  /** The audit event of a pod create (the log is written before the response in blocking mode; polled anyway). */
  const auditEventFor = (ns: string, name: string): Promise<K8sObject> =>
    waitFor(`audit event of ${ns}/${name}`, () => {
      const lines = readFileSync(auditLog, 'utf8').split('\n').filter((l) => l !== '')
      return lines
        .map((l) => JSON.parse(l) as K8sObject)
        .find((e) => e.stage === 'ResponseComplete' && e.objectRef?.namespace === ns && e.objectRef?.name === name && e.verb === 'create')
    })

  t.test('warn namespace: admitted, kubectl prints the warning', async (t) => {
    const r = await env.apply(podObject('slight-app', s['slight-scratch'].ref), { namespace: 'warned', verb: 'create' })
    t.equal(r.code, 0, 'admitted')
    t.equal(r.stdout.trim(), 'pod/slight-app created')
    t.equal(r.stderr.trim(), `Warning: wasm-admission (warn mode) would deny: ${slightWhy}; fix: provision the "slight" shim on a node (it shows in status.runtimeHandlers or an installer label)`, 'the warning, verbatim')
    const p = await env.get('pod', 'slight-app', 'warned')
    t.equal(p.spec.runtimeClassName, 'slight-nowhere', 'warn mode still mutates')
    t.same(p.spec.nodeSelector, { slight: 'yes' })
    const ev = await auditEventFor('warned', 'slight-app')
    t.equal(ev.annotations['validate.wasm-admission.io/violations'], 'no-eligible-node', 'audit annotation of the validating webhook')

    // A Deployment in a warn namespace: admitted with the same warning.
    const d = await env.apply(deploymentObject('slight-deploy', s['slight-scratch'].ref), { namespace: 'warned' })
    t.equal(d.code, 0)
    t.match(d.stderr, `Warning: wasm-admission (warn mode) would deny: ${slightWhy}`)
  })

  t.test('audit namespace: admitted without a warning, recorded in the audit log', async (t) => {
    const r = await env.apply(podObject('slight-app', s['slight-scratch'].ref), { namespace: 'audited', verb: 'create' })
    t.equal(r.code, 0, 'admitted')
    t.equal(r.stderr, '', 'no warning')
    const p = await env.get('pod', 'slight-app', 'audited')
    t.notOk(p.spec.runtimeClassName, 'audit mode does not mutate')
    t.notOk(p.spec.containers[0].command)
    const ev = await auditEventFor('audited', 'slight-app')
    t.equal(ev.annotations['validate.wasm-admission.io/violations'], 'no-runtime-class', 'what would have been denied (unmutated pod: no runtimeClassName)')
    t.match(ev.annotations['validate.wasm-admission.io/detail'], 'is a slight Wasm image')
    t.equal(ev.annotations['mutate.wasm-admission.io/would-mutate'], 'runtimeClassName=slight-nowhere; scheduling of RuntimeClass slight-nowhere', 'what would have been mutated (with what the RuntimeClass plugin would add)')
  })

  t.test('kube-system, the release namespace and opted-out namespaces are never intercepted', async (t) => {
    const before = await env.webhook.requestCount({})
    for (const ns of ['kube-system', env.releaseNamespace, 'opted-out']) {
      // A Wasm pod without runtimeClassName and a Linux image under a Wasm RuntimeClass: both would be
      // changed or denied in a covered namespace.
      await env.apply(podObject('spin-app', s['spin-scratch'].ref), { namespace: ns, verb: 'create' })
      const p = await env.get('pod', 'spin-app', ns)
      t.notOk(p.spec.runtimeClassName, `${ns}: no runtimeClassName injected`)
      t.notOk(p.spec.containers[0].command, `${ns}: no command injected`)
      t.notOk(p.spec.nodeSelector, `${ns}: no nodeSelector`)
      const r = await env.apply(podObject('linux-under-wasm', s.linux.ref, { runtimeClassName: 'wasm1' }), { namespace: ns, verb: 'create', allowFailure: true })
      t.equal(r.code, 0, `${ns}: not denied`)
    }
    t.equal(await env.webhook.requestCount({}), before, 'the webhook received no review for them')
  })

  t.test('webhook process stopped: chart defaults (mutating Ignore, validating Fail)', async (t) => {
    const mwc = await env.get('mutatingwebhookconfiguration', env.release)
    const vwc = await env.get('validatingwebhookconfiguration', env.release)
    t.equal(mwc.webhooks[0].failurePolicy, 'Ignore')
    t.equal(vwc.webhooks[0].failurePolicy, 'Fail')

    await env.webhook.stop()
    const port = env.webhook.port
    const refused = (path: string, webhook: string): string =>
      `Internal error occurred: failed calling webhook "${webhook}": failed to call webhook: Post "https://127.0.0.1:${port}/${path}?timeout=5s": dial tcp 127.0.0.1:${port}: connect: connection refused`

    // Covered namespace: the mutating call fails open, the validating call fails closed.
    const r = await env.apply(podObject('plain-linux', s.linux.ref), { namespace: 'enforced', verb: 'create', allowFailure: true })
    t.not(r.code, 0, 'covered namespace: Pod creation fails')
    t.equal(r.stderr.trim(), `Error from server (InternalError): error when creating "STDIN": ${refused('validate', 'validate.wasm-admission.io')}`, 'because validation is unreachable (and only that)')
    const d = await env.apply(deploymentObject('plain-linux', s.linux.ref), { namespace: 'enforced', allowFailure: true })
    t.not(d.code, 0, 'covered namespace: Deployment creation fails too (workloads are validated)')
    t.match(d.stderr, refused('validate', 'validate.wasm-admission.io'))

    // Excluded namespaces keep working.
    for (const ns of ['kube-system', env.releaseNamespace, 'opted-out']) {
      const k = await env.apply(podObject('while-down', s.linux.ref), { namespace: ns, verb: 'create', allowFailure: true })
      t.equal(k.code, 0, `${ns}: Pod creation works`)
      t.equal(k.stderr, '', `${ns}: no warning`)
    }

    // The mutating call did fail, and failed open: the apiserver records that in the audit event.
    const ev = await auditEventFor('enforced', 'plain-linux')
    t.equal(ev.responseStatus?.code, 500, 'the create answered 500 (validation unreachable)')
    t.equal(ev.annotations?.['failed-open.mutation.webhook.admission.k8s.io/round_0_index_0'], 'mutate.wasm-admission.io', 'the mutating webhook failed open (Ignore)')

    // Back up: the same pod is admitted again once the webhook is up.
    await env.webhook.start()
    await env.waitForWebhooks()
    const again = await env.apply(podObject('plain-linux', s.linux.ref), { namespace: 'enforced', verb: 'create' })
    t.equal(again.code, 0, 'admitted again once the webhook is back')
  })
})
