// Integration: InformerClusterSource against a real kube-apiserver (test/harness/control-plane.ts).
import t from 'tap'
import { Registry } from 'prom-client'
import { loadKubeConnection } from '../../../src/facts/cluster/kubeconfig.js'
import { InformerClusterSource } from '../../../src/facts/cluster/informers.js'
import { pod, SEED_FILE, SEED_SPIN, SEED_WASM1, testPolicy } from './helpers.js'
import { patchNodeStatus, planeSkipReason, seedPlane, startPlane, waitFor } from './plane.js'

t.test('InformerClusterSource on a real kube-apiserver', { skip: planeSkipReason() ?? false }, async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  await seedPlane(cp, SEED_FILE)

  const registry = new Registry()
  const src = new InformerClusterSource({
    connection: loadKubeConnection(cp.kubeconfigPath, {}).connection,
    policy: () => testPolicy(),
    metrics: registry,
    staleAfterMs: 500,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    watchdogMs: 60_000,
  })
  t.teardown(() => src.stop())
  t.equal(src.readiness().ready, false, 'not ready before start')
  await src.start()

  await t.test('initial sync gives the seed eligibility', async (t) => {
    t.ok(src.synced(), 'synced after start()')
    const r = src.readiness()
    t.equal(r.ready, true, r.detail)
    t.match(r.detail, /synced: 6 nodes, 2 runtimeclasses/)
    const s = src.snapshot()
    t.equal(s.known, true)
    t.equal(s.eligibility('wasm1', pod()).message, SEED_WASM1)
    t.equal(s.eligibility('spin-test', pod()).message, SEED_SPIN)
    t.match(s.namespaceLabels('wasm-apps'), { 'wasm-admission.io/mode': 'warn' })
    t.same(s.namespaceLabels('kube-system'), { 'kubernetes.io/metadata.name': 'kube-system' })
  })

  await t.test('labelling a node changes eligibility without restart', async (t) => {
    await cp.kubectl(['label', 'node', 'linux-1', 'wasmtime-enabled=yes'])
    const e = await waitFor(() => {
      const e = src.snapshot().eligibility('wasm1', pod())
      return e.eligibleNodes === 2 && e
    }, 'linux-1 to become eligible for wasm1')
    t.same(e.eligibleNodeNames, ['linux-1', 'wasm-a'])
    t.equal(e.message, '2/6 nodes can run RuntimeClass wasm1 (handler wasmtime): 1 lacks the wasmtime shim, 1 does not match nodeSelector wasmtime-enabled=yes, 1 is cordoned, 1 has untolerated taint node.kubernetes.io/not-ready:NoSchedule')
  })

  await t.test('runtimeHandlers via nodes/status, taints, cordon', async (t) => {
    await patchNodeStatus(cp, 'liar', { runtimeHandlers: [{ name: '' }, { name: 'runc' }, { name: 'spin' }] })
    await waitFor(() => src.snapshot().eligibility('spin-test', pod()).eligibleNodeNames.includes('liar'), 'liar to gain the spin handler')
    await cp.kubectl(['taint', 'node', 'liar', 'dedicated=wasm:NoExecute'])
    const e = await waitFor(() => {
      const e = src.snapshot().eligibility('spin-test', pod())
      return e.reasons.some((r) => r.key === 'dedicated=wasm:NoExecute') && e
    }, 'the NoExecute taint')
    t.equal(e.eligibleNodes, 1)
    const tolerated = src.snapshot().eligibility('spin-test', pod({ tolerations: [{ operator: 'Exists' }] }))
    // the wildcard toleration also tolerates the cordon (node.kubernetes.io/unschedulable:NoSchedule)
    t.same(tolerated.eligibleNodeNames, ['cordoned', 'liar', 'spin-tainted', 'wasm-a'])
    await cp.kubectl(['uncordon', 'cordoned'])
    await waitFor(() => src.snapshot().eligibility('wasm1', pod()).eligibleNodeNames.includes('cordoned'), 'uncordon')
  })

  await t.test('deleting a RuntimeClass removes it', async (t) => {
    await cp.kubectl(['delete', 'runtimeclass', 'spin-test'])
    await waitFor(() => src.snapshot().runtimeClass('spin-test') === undefined, 'spin-test to disappear')
    t.equal(src.snapshot().eligibility('spin-test', pod()).message, '0/6 nodes can run RuntimeClass spin-test: RuntimeClass "spin-test" not found')
    t.same(src.snapshot().runtimeClasses().map((r) => r.name), ['wasm1'])
  })

  await t.test('namespaces and node deletion', async (t) => {
    await cp.kubectl(['label', 'namespace', 'default', 'wasm-admission.io/mode=audit'])
    await waitFor(() => src.snapshot().namespaceLabels('default')?.['wasm-admission.io/mode'] === 'audit', 'namespace label')
    await cp.kubectl(['delete', 'node', 'not-ready'])
    await waitFor(() => src.snapshot().nodeCount() === 5, 'node deletion')
    t.pass('namespace label and node deletion seen')
  })

  await t.test('apiserver restart: readiness shows the outage, caches recover without restarting the source', async (t) => {
    t.equal(src.readiness().ready, true)
    const restartsBefore = src.status().reduce((n, s) => n + s.restarts, 0)
    const seen: string[] = []
    let polling = true
    const poller = (async () => {
      while (polling) {
        const r = src.readiness()
        if (!r.ready) seen.push(r.detail)
        await new Promise((res) => setTimeout(res, 25))
      }
    })()
    await cp.restartApiserver()
    // the outage must have been visible; keep polling until the source notices recovery
    await waitFor(() => seen.length > 0, 'readiness to report the outage')
    polling = false
    await poller
    t.match(seen[0], /stale: list\/watch failing since \d{4}-\d\d-\d\dT/, `readiness detail: ${seen[0]}`)
    await waitFor(() => src.readiness().ready, 'readiness to recover')
    t.ok(src.status().reduce((n, s) => n + s.restarts, 0) > restartsBefore, 'loops restarted after errors')

    // The watch works again: a change made after the restart arrives.
    await cp.kubectl(['label', 'node', 'linux-1', 'spin=yes', 'wasmtime-enabled-'])
    await waitFor(() => !src.snapshot().eligibility('wasm1', pod()).eligibleNodeNames.includes('linux-1'), 'post-restart label change')
    await cp.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin-test' }, handler: 'spin', scheduling: { nodeSelector: { spin: 'yes' } } }),
    })
    const e = await waitFor(() => src.snapshot().runtimeClass('spin-test') && src.snapshot().eligibility('spin-test', pod()), 'RuntimeClass re-created after restart')
    t.ok(e.eligibleNodeNames.includes('linux-1'), e.message)
  })

  await t.test('relist keeps the cache equal to the server', async (t) => {
    const listsBefore = src.status().map((s) => s.lists)
    src.relistNow()
    await waitFor(() => src.status().every((s, i) => s.lists > listsBefore[i]!), 'relist of every kind')
    t.equal(src.snapshot().nodeCount(), 5)
    t.equal(src.readiness().ready, true)
  })

  await t.test('metrics', async (t) => {
    const text = await registry.metrics()
    t.match(text, /wasm_admission_informer_events_total\{kind="nodes",type="modified"\} \d+/)
    t.match(text, /wasm_admission_informer_events_total\{kind="runtimeclasses",type="deleted"\} 1/)
    t.match(text, /wasm_admission_informer_restarts_total\{kind="nodes"\} [1-9]/)
    t.match(text, /wasm_admission_informer_last_sync_timestamp_seconds\{kind="runtimeclasses"\} \d+/)
    t.match(text, /wasm_admission_cluster_nodes 5/)
  })

  await t.test('stop', async (t) => {
    await src.stop()
    t.equal(src.readiness().ready, false)
    t.match(src.readiness().detail, /stopped/)
  })
})
