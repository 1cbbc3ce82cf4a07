// Denials end to end (issue 6 §2): a pod whose RuntimeClass has no provisioned node is denied with
// the scheduler-style explanation; the same as a Deployment is refused at apply time; a ReplicaSet
// whose pods became unschedulable after its Deployment was admitted reports the message in its
// FailedCreate event. Real control plane, registry, webhook process and chart (test/harness/e2e-env.ts).
import t from 'tap'
import { deploymentObject, podObject, startE2EEnv, waitFor, type E2EEnv, type K8sObject } from '../harness/e2e-env.js'
import { dumpLogsOnFailure, e2eSkip, eventsFor, waitForPods } from './helpers.js'

const skip = e2eSkip(t)
const NS = 'denials'
const FIX = 'fix: provision the "slight" shim on a node (it shows in status.runtimeHandlers or an installer label)'

t.test('denials on a real control plane', { skip, timeout: 600_000 }, async (t) => {
  const env: E2EEnv = await startE2EEnv()
  t.teardown(() => env.stop())
  dumpLogsOnFailure(t, env)
  const s = env.samples
  await env.createNamespace(NS)
  const slightDenial = `admission webhook "validate.wasm-admission.io" denied the request: wasm-admission denied this object: container "app" (image "${s['slight-scratch'].ref}"): 0/6 nodes can run RuntimeClass slight-nowhere (handler slight): 6 lack the slight shim; ${FIX}`

  t.test('a pod whose RuntimeClass has no provisioned node is denied, scheduler style', async (t) => {
    const r = await env.apply(podObject('slight-app', s['slight-scratch'].ref), { namespace: NS, verb: 'create', allowFailure: true })
    t.not(r.code, 0)
    t.equal(r.stderr.trim(), `Error from server (Forbidden): error when creating "STDIN": ${slightDenial}`, 'exact denial')
    t.match((await env.kubectl(['get', 'pod', 'slight-app', '-n', NS], { allowFailure: true })).stderr, /NotFound/)

    // With the RuntimeClass named explicitly the answer is the same.
    const r2 = await env.apply(podObject('slight-app', s['slight-scratch'].ref, { runtimeClassName: 'slight-nowhere' }), { namespace: NS, verb: 'create', allowFailure: true })
    t.equal(r2.stderr.trim(), `Error from server (Forbidden): error when creating "STDIN": ${slightDenial}`)
  })

  t.test('the same as a Deployment is refused at apply time', async (t) => {
    const r = await env.apply(deploymentObject('slight-app', s['slight-scratch'].ref, 2), { namespace: NS, allowFailure: true })
    t.not(r.code, 0, 'kubectl apply fails')
    t.equal(r.stderr.trim(), `Error from server (Forbidden): error when creating "STDIN": ${slightDenial}`, 'the pod template is judged as the pods it will create')
    t.match((await env.kubectl(['get', 'deployment', 'slight-app', '-n', NS], { allowFailure: true })).stderr, /NotFound/, 'no Deployment stored')
  })

  t.test("the ReplicaSet's FailedCreate event carries the message", async (t) => {
    // A RuntimeClass for one labelled Spin node. The Deployment names it and is admitted while the
    // node carries the label; then the label goes, so the RuntimeClass loses its only node.
    await env.apply({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-edge' }, handler: 'spin', scheduling: { nodeSelector: { edge: 'yes' } } })
    await env.kubectl(['label', 'node', 'node-spin-1', 'edge=yes'])
    const edgePod = (name: string): K8sObject => podObject(name, s['spin-v2'].ref, { runtimeClassName: 'spin-edge' })
    await waitFor('the webhook to see node-spin-1 as edge', async () => (await env.apply(edgePod('probe'), { namespace: NS, verb: 'create', dryRun: true, allowFailure: true })).code === 0)

    await env.apply(deploymentObject('spin-edge', s['spin-v2'].ref, 1, { runtimeClassName: 'spin-edge' }), { namespace: NS })
    const [first] = await waitForPods(env, NS, 'spin-edge', 1)
    t.equal(first!.spec.runtimeClassName, 'spin-edge')
    t.same(first!.spec.nodeSelector, { edge: 'yes' })

    await env.kubectl(['label', 'node', 'node-spin-1', 'edge-'])
    const expected = `0/6 nodes can run RuntimeClass spin-edge (handler spin): 4 lack the spin shim, 2 do not match nodeSelector edge=yes`
    await waitFor('the webhook to see that spin-edge lost its node', async () => {
      const r = await env.apply(edgePod('probe'), { namespace: NS, verb: 'create', dryRun: true, allowFailure: true })
      return r.code !== 0 && r.stderr.includes(expected)
    })

    // Scaling is an UPDATE without image change: admitted. The ReplicaSet's new pod is denied.
    await env.kubectl(['scale', 'deployment/spin-edge', '--replicas=2', '-n', NS])
    const rs = (await env.list('replicasets', NS, 'app=spin-edge'))[0]!
    const ev = await waitFor('a FailedCreate event on the ReplicaSet', async () =>
      (await eventsFor(env, NS, rs.metadata.name)).find((e) => e.reason === 'FailedCreate'), 60_000)
    t.equal(ev.type, 'Warning')
    t.equal(ev.involvedObject.kind, 'ReplicaSet')
    t.equal(ev.source?.component ?? ev.reportingComponent, 'replicaset-controller')
    t.match(ev.message, /^Error creating: admission webhook "validate\.wasm-admission\.io" denied the request: wasm-admission denied this object: container "app" \(image "[^"]+"\): /)
    t.match(ev.message, `${expected}; fix: provision the "spin" shim on a node (it shows in status.runtimeHandlers or an installer label), or label a node with edge=yes`)
    t.equal((await env.list('pods', NS, 'app=spin-edge')).length, 1, 'still one pod')
    // `kubectl describe` shows it as users see it.
    const d = await env.kubectl(['describe', 'replicaset', rs.metadata.name, '-n', NS])
    t.match(d.stdout, /FailedCreate/)
  })

  t.test('an unsupported Wasm artifact (wasmCloud provider) is denied', async (t) => {
    const r = await env.apply(podObject('provider', s['wasmcloud-provider'].ref), { namespace: NS, verb: 'create', allowFailure: true })
    t.not(r.code, 0)
    t.match(r.stderr, `container "app" (image "${s['wasmcloud-provider'].ref}") is a Wasm artifact that no pod can run`)
  })

  t.test('a Spin image under the wasmtime RuntimeClass is denied (wrong handler)', async (t) => {
    const r = await env.apply(podObject('spin-wasm1', s['spin-scratch'].ref, { runtimeClassName: 'wasm1' }), { namespace: NS, verb: 'create', allowFailure: true })
    t.not(r.code, 0)
    t.match(r.stderr, 'needs a spin shim but RuntimeClass "wasm1" has handler "wasmtime"')
  })
})
