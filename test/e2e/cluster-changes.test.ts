// Cluster changes reach the webhook's verdicts through its informers, without a restart (issue 4):
// provisioning a shim on a node turns a denial into an admission; deleting a RuntimeClass makes the
// workloads that name it denied. Real control plane, webhook process and chart (test/harness/e2e-env.ts).
import t from 'tap'
import { deploymentObject, podObject, startE2EEnv, waitFor, type E2EEnv } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'changes'

t.test('cluster changes change verdicts without restarting the webhook', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)
  const dryRun = async (obj: Record<string, unknown>) => env.apply(obj, { namespace: NS, verb: 'create', dryRun: true, allowFailure: true })
  const webhookPid = env.webhook.pid()

  t.test('provisioning the slight shim on a node turns the denial into an admission', async (t) => {
    const pod = podObject('slight-app', s['slight-scratch'].ref)
    const before = await dryRun(pod)
    t.not(before.code, 0)
    t.match(before.stderr, '0/6 nodes can run RuntimeClass slight-nowhere (handler slight): 6 lack the slight shim')
    // The node installer's job: the runtime reports the handler, the node gets the RuntimeClass's label.
    await env.kubectl(['patch', 'node', 'node-wasm-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { runtimeHandlers: [{ name: 'runc' }, { name: 'wasmtime' }, { name: 'crun' }, { name: 'slight' }] } })])
    await env.kubectl(['label', 'node', 'node-wasm-1', 'slight=yes'])
    const after = await waitFor('the pod to be admitted', async () => {
      const r = await dryRun(pod)
      return r.code === 0 ? r : undefined
    })
    t.equal(after.code, 0, 'admitted once the informers saw the node change')
    t.equal(env.webhook.pid(), webhookPid, 'same webhook process')
  })

  t.test('deleting a RuntimeClass makes the workloads that name it denied', async (t) => {
    await env.apply({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-temp' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } })
    const deploy = deploymentObject('spin-temp-app', s['spin-v2'].ref, 1, { runtimeClassName: 'spin-temp' })
    await waitFor('the Deployment naming spin-temp to be admitted', async () => ((await dryRun(deploy)).code === 0 ? true : undefined))
    await env.kubectl(['delete', 'runtimeclass', 'spin-temp'])
    const denied = await waitFor('the Deployment to be denied', async () => {
      const r = await dryRun(deploy)
      return r.code !== 0 ? r : undefined
    })
    t.match(denied.stderr, 'RuntimeClass "spin-temp" does not exist')
    t.equal(env.webhook.pid(), webhookPid, 'same webhook process')
  })
})
