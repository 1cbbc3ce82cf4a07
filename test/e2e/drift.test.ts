// Drift (issue 16) on the real control plane: a Spin Deployment admitted while its nodes exist; its
// nodes lose the shim (the node label and the runtime handler); the namespace's PolicyReport lists
// it with the reason, an Event is on the Deployment, the at-risk metric counts it; the shim comes
// back and the entry clears. Then the leader of two drift replicas is killed (SIGKILL, no Lease
// release) and the same churn runs again: the other replica takes the Lease and publishes, with no
// lost report and no repeated Event. Webhook A (the chart's) admits; drift replicas B and C are
// `serve --drift` processes of the same build, authenticated as the chart's ServiceAccount (a token
// from the TokenRequest API), so the chart's RBAC is proven sufficient for everything they do.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, deploymentObject, podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject, type WebhookProcess } from '../harness/e2e-env.js'
import { run } from '../harness/process.js'
import { dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'drift'
const APP = 'spin-app'
const SPIN_NODES = ['node-spin-1', 'node-spin-2']

t.test('drift: reports, events and metrics follow the cluster; one writer survives failover', { skip, timeout: 900_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv({ samples: ['spin-scratch', 'linux'] })
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  // The chart's ServiceAccount (url mode renders it and its RBAC): the drift replicas run as it.
  const sa = (await env.list('serviceaccounts', env.releaseNamespace)).map((x) => x.metadata.name as string).find((n) => n !== 'default')!
  const token = (await env.kubectl(['create', 'token', sa, '-n', env.releaseNamespace, '--duration', '2h'])).stdout.trim()
  const saKubeconfig = join(env.dir, 'drift-sa.kubeconfig')
  writeFileSync(saKubeconfig, JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: env.cp.server, 'certificate-authority-data': Buffer.from(env.cp.caPem).toString('base64') } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa' } }],
    'current-context': 'sa',
  }), { mode: 0o600 })
  const driftArgs = (id: string) => ['--kubeconfig', saKubeconfig, '--drift', '--drift-identity', id, '--drift-debounce-ms', '200']
  const b = await env.spawnWebhook('drift-b', driftArgs('replica-b'))
  const lease = async (): Promise<string> => {
    const r = await env.kubectl(['get', 'lease', 'wasm-admission-drift', '-n', env.releaseNamespace, '-o', 'json'], { allowFailure: true })
    return r.code === 0 ? ((JSON.parse(r.stdout) as K8sObject).spec?.holderIdentity ?? '') : ''
  }
  await waitFor('replica-b to hold the drift Lease', async () => (await lease()) === 'replica-b')
  const c = await env.spawnWebhook('drift-c', driftArgs('replica-c'))

  await env.createNamespace(NS)
  await env.apply(deploymentObject(APP, s['spin-scratch'].ref, 1), { namespace: NS })
  await env.apply(deploymentObject('web', s.linux.ref, 1), { namespace: NS })

  const report = async (): Promise<K8sObject | undefined> => {
    const r = await env.kubectl(['get', 'policyreports.wgpolicyk8s.io', 'wasm-admission', '-n', NS, '-o', 'json'], { allowFailure: true })
    return r.code === 0 ? (JSON.parse(r.stdout) as K8sObject) : undefined
  }
  const entriesFor = (r: K8sObject | undefined) => ((r?.results ?? []) as K8sObject[]).filter((x) => x.resources?.[0]?.name === APP)
  const events = async (reason: string): Promise<K8sObject[]> => {
    const items = (JSON.parse((await env.kubectl(['get', 'events.events.k8s.io', '-n', NS, '-o', 'json'])).stdout) as K8sObject).items as K8sObject[]
    return items.filter((e) => e.regarding?.name === APP && e.regarding?.kind === 'Deployment' && e.reason === reason)
  }
  const atRisk = async (w: WebhookProcess): Promise<number> => {
    const m = new RegExp(`^wasm_admission_drift_workloads_at_risk\\{namespace="${NS}",rule="no-eligible-node"\\} (\\S+)$`, 'm').exec(await w.metrics())
    return m ? Number(m[1]) : 0
  }
  const removeShim = async () => {
    for (const n of SPIN_NODES) {
      await env.kubectl(['label', 'node', n, 'spin-'])
      await env.kubectl(['patch', 'node', n, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { runtimeHandlers: [{ name: '' }, { name: 'runc' }, { name: 'wasmtime' }] } })])
    }
  }
  const restoreShim = async () => {
    for (const n of SPIN_NODES) {
      await env.kubectl(['label', 'node', n, 'spin=yes'])
      await env.kubectl(['patch', 'node', n, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { runtimeHandlers: [{ name: '' }, { name: 'runc' }, { name: 'wasmtime' }, { name: 'spin' }] } })])
    }
  }

  const healthy = await waitFor('the report to count both Deployments as passing', async () => {
    const r = await report()
    return r && r.summary?.pass === 2 ? r : undefined
  })
  t.same(healthy.results ?? [], [], 'nothing at risk while the spin nodes have the shim')
  t.equal(healthy.summary.fail, 0)

  t.test('the shim leaves the spin nodes: report entry, Event, metric', async (t) => {
    const started = Date.now()
    await removeShim()
    const r = await waitFor('the report to list the Spin Deployment', async () => {
      const rep = await report()
      return entriesFor(rep).length > 0 ? rep : undefined
    })
    t.comment(`shim removal to report entry: ${Date.now() - started} ms`)
    const [entry] = entriesFor(r)
    t.equal(entry!.rule, 'no-eligible-node')
    t.equal(entry!.result, 'fail')
    t.equal(entry!.severity, 'high')
    t.match(entry!.message, /0\/6 nodes can run RuntimeClass spin-test \(handler spin\): .*lack the spin shim/)
    t.match(entry!.message, /fix: /)
    t.same(entry!.resources[0], { apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: APP, uid: (await env.get('deployment', APP, NS)).metadata.uid })
    t.equal(r!.summary.fail, 1)
    t.equal(r!.summary.pass, 1, 'the Linux Deployment still passes')
    const [ev] = await waitFor('a Warning Event on the Deployment', async () => {
      const e = await events('WasmWorkloadAtRisk')
      return e.length > 0 ? e : undefined
    })
    t.equal(ev!.type, 'Warning')
    t.equal(ev!.reportingController, 'wasm-admission.io/drift')
    t.match(ev!.note, /would deny this Deployment .*lack the spin shim.*fix: /)
    await waitFor('replica-b to count it at risk', async () => (await atRisk(b)) === 1)
    t.equal(await atRisk(c), 0, 'the follower exports no at-risk count')

    // The one-shot audit of the live cluster gives the same verdict and exits 1.
    const audit = await run(process.execPath, [CLI, 'audit', '--kubeconfig', env.kubeconfigPath, '--plain-http', '-o', 'json'], { timeoutMs: 120_000 })
    t.equal(audit.code, 1, audit.stderr)
    const rows = JSON.parse(audit.stdout) as K8sObject[]
    const spin = rows.find((r) => r.kind === 'Deployment' && r.namespace === NS && r.name === APP)
    t.equal(spin?.result, 'fail')
    t.equal(spin?.wouldDeny, true)
    t.same(spin?.violations.map((v: K8sObject) => v.rule), ['no-eligible-node'])
    t.equal(rows.find((r) => r.namespace === NS && r.name === 'web')?.result, 'pass')
    t.notOk(rows.some((r) => r.kind === 'ReplicaSet' || r.kind === 'Pod'), 'owned ReplicaSets and Pods are judged through their Deployment')
    const text = await run(process.execPath, [CLI, 'audit', '--kubeconfig', env.kubeconfigPath, '--plain-http', '-n', NS], { timeoutMs: 120_000 })
    t.equal(text.code, 1)
    t.match(text.stdout, new RegExp(`Deployment ${NS}/${APP} +DENIED +no-eligible-node`))
    t.match(text.stdout, /2 workloads: 1 pass, 1 fail \(1 would be denied\)/)
  })

  t.test('the shim comes back: the entry clears', async (t) => {
    await restoreShim()
    const r = await waitFor('the report entry to clear', async () => {
      const rep = await report()
      return rep && entriesFor(rep).length === 0 && rep.summary?.pass === 2 ? rep : undefined
    })
    t.equal(r.summary.fail, 0)
    await waitFor('a Normal Event saying it can run again', async () => ((await events('WasmWorkloadRestored')).length === 1 ? true : undefined))
    await waitFor('the at-risk count to drop', async () => (await atRisk(b)) === 0)
    t.equal((await events('WasmWorkloadAtRisk')).length, 1, 'one Warning Event for one change')
    const audit = await run(process.execPath, [CLI, 'audit', '--kubeconfig', env.kubeconfigPath, '--plain-http', '-n', NS], { timeoutMs: 120_000 })
    t.equal(audit.code, 0, audit.stdout + audit.stderr)
    t.match(audit.stdout, '2 workloads: 2 pass, 0 fail')
  })

  t.test('a policy reload re-evaluates: warn mode turns the entry to severity medium', async (t) => {
    await removeShim()
    const high = await waitFor('the entry in enforce mode', async () => entriesFor(await report())[0])
    t.equal(high.severity, 'high')
    await waitFor('the second Warning Event', async () => ((await events('WasmWorkloadAtRisk')).length === 2 ? true : undefined))
    // The drift replicas and the admission webhook share the policy file; its reload is picked up.
    writeFileSync(join(env.dir, 'policy.yaml'), 'defaultMode: warn\n')
    const medium = await waitFor('the entry in warn mode', async () => {
      const e = entriesFor(await report())[0]
      return e?.severity === 'medium' ? e : undefined
    })
    t.equal(medium.properties.mode, 'warn')
    t.equal((await events('WasmWorkloadAtRisk')).length, 2, 'same rule, only the mode changed: no new Event')
    writeFileSync(join(env.dir, 'policy.yaml'), '{}\n')
    await restoreShim()
    await waitFor('the entry to clear', async () => {
      const rep = await report()
      return rep && entriesFor(rep).length === 0 ? true : undefined
    })
    await waitFor('the second Normal Event', async () => ((await events('WasmWorkloadRestored')).length === 2 ? true : undefined))
  })

  t.test('the leader is killed under churn: the follower takes over, nothing lost or repeated', async (t) => {
    t.equal(await lease(), 'replica-b')
    process.kill(-b.pid()!, 'SIGKILL')
    await waitFor('replica-b to exit', async () => !b.running())
    await removeShim()
    await waitFor('replica-c to hold the Lease', async () => (await lease()) === 'replica-c', 120_000)
    const r = await waitFor('the report to list the Spin Deployment again', async () => {
      const rep = await report()
      return entriesFor(rep).length > 0 ? rep : undefined
    }, 120_000)
    t.equal(entriesFor(r)[0]!.rule, 'no-eligible-node')
    await waitFor('replica-c to count it at risk', async () => (await atRisk(c)) === 1)
    await waitFor('a third Warning Event', async () => ((await events('WasmWorkloadAtRisk')).length === 3 ? true : undefined))
    await restoreShim()
    await waitFor('the entry to clear under replica-c', async () => {
      const rep = await report()
      return rep && entriesFor(rep).length === 0 ? true : undefined
    })
    await waitFor('a third Normal Event', async () => ((await events('WasmWorkloadRestored')).length === 3 ? true : undefined))
    t.equal((await events('WasmWorkloadAtRisk')).length, 3, 'no Warning repeated by the new leader')
    // Admission never depended on the drift replicas.
    const dry = await env.apply(podObject('still-admitted', s['spin-scratch'].ref), { namespace: NS, verb: 'create', dryRun: true })
    t.equal((JSON.parse(dry.stdout) as K8sObject).spec.runtimeClassName, 'spin-test')
  })
})
