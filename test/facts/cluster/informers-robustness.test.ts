// InformerClusterSource against the REAL kube-apiserver behind a fault-injecting proxy
// (test/perf/proxies.ts): paginated lists, watch events, 410 Gone (a real one: the proxy rewrites the
// watch's resourceVersion to one etcd has compacted away), HTTP errors and backoff, hung requests,
// a hung stream (paused forwarding), connection resets, watchdog, staleness readiness.
//
// RuntimeClasses are served without the apiserver's watch cache (--watch-cache-sizes ...#0): only a
// watch served from etcd reports a compacted resourceVersion (as an ERROR event with code 410 in a
// 200 stream); the watch cache silently starts from its own window. The HTTP-status form of 410 is
// never produced by kube-apiserver 1.36 for a watch, so that one answer is injected by the proxy.
import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { loadKubeConnection } from '../../../src/facts/cluster/kubeconfig.js'
import { DEFAULT_LIST_PAGE_SIZE, InformerClusterSource, type InformerClusterSourceOptions } from '../../../src/facts/cluster/informers.js'
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.js'
import { compactEtcd, startApiserverProxy, type ApiserverProxy } from '../../perf/proxies.js'
import { nodeJson, pod, testPolicy } from './helpers.js'
import { patchNodeStatus, planeSkipReason, waitFor } from './plane.js'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { toolPaths } from '../../harness/tools.js'

const NODES = '/api/v1/nodes'
const RCS = '/apis/node.k8s.io/v1/runtimeclasses'
const NS = '/api/v1/namespaces'

const skip = planeSkipReason()

t.test('informer robustness on the real apiserver behind a fault-injecting proxy', { skip: skip ?? false }, async (t) => {
  const etcdFallback = join(dirname(toolPaths().etcd), 'server')
  const cp: ControlPlane = await startControlPlane({
    apiserverArgs: ['--watch-cache-sizes=runtimeclasses.node.k8s.io#0'],
    ...(!existsSync(toolPaths().etcd) && existsSync(etcdFallback) ? { tools: { etcd: etcdFallback } } : {}),
  })
  t.teardown(() => cp.stop())
  const objects = [
    { ...nodeJson('a'), status: undefined },
    { ...nodeJson('b'), status: undefined },
    { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin' }, handler: 'spin' },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'labelled', labels: { x: 'y' } } },
  ]
  await cp.kubectl(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n---\n') })
  await patchNodeStatus(cp, 'a', nodeJson('a', { runtimeHandlers: ['spin'] }).status)
  await patchNodeStatus(cp, 'b', nodeJson('b').status)
  // TaintNodesByCondition taints new Nodes not-ready; the node-lifecycle controller is not running.
  for (const n of ['a', 'b']) await cp.kubectl(['taint', 'node', n, 'node.kubernetes.io/not-ready:NoSchedule-'], { allowFailure: true })

  async function setup(t: Test, opts: Partial<InformerClusterSourceOptions> = {}): Promise<{ proxy: ApiserverProxy; src: InformerClusterSource; registry: Registry }> {
    const proxy = await startApiserverProxy(cp)
    t.teardown(() => proxy.stop())
    const registry = new Registry()
    const src = new InformerClusterSource({
      connection: loadKubeConnection(proxy.kubeconfigPath, {}).connection,
      policy: () => testPolicy(),
      metrics: registry,
      backoffBaseMs: 20,
      backoffMaxMs: 100,
      staleAfterMs: 200,
      startWaitMs: 15_000,
      pageSize: 1,
      ...opts,
    })
    t.teardown(() => src.stop())
    return { proxy, src, registry }
  }
  const lists = (p: ApiserverProxy, path: string): number => p.count((r) => r.path === path && !r.watch && r.method === 'GET')
  const watches = (p: ApiserverProxy, path: string): number => p.count((r) => r.path === path && r.watch)

  await t.test('paginated list, then watch', async (t) => {
    const { proxy, src } = await setup(t)
    await src.start()
    t.ok(src.synced())
    t.equal(lists(proxy, NODES), 2, 'two pages of one node')
    t.ok(proxy.requests.filter((r) => r.path === NODES && !r.watch).every((r) => r.query.get('limit') === '1'), 'pages of pageSize')
    t.equal(src.snapshot().eligibility('spin', pod()).message, '1/2 nodes can run RuntimeClass spin (handler spin): 1 lacks the spin shim')
    t.match(src.snapshot().namespaceLabels('labelled'), { x: 'y' })
    await waitFor(() => proxy.openWatches(NODES) === 1, 'watch to open')
    t.equal(src.readiness().ready, true)
  })

  await t.test('the default page size: pages small enough to die in the young generation', async (t) => {
    const { proxy, src } = await setup(t, { pageSize: undefined })
    await src.start()
    t.ok(src.synced())
    const pages = proxy.requests.filter((r) => r.path === NODES && !r.watch)
    t.ok(pages.length > 0 && pages.every((r) => r.query.get('limit') === '50'), `node lists ask for limit=50 (${pages.map((r) => r.query.get('limit')).join(',')})`)
    t.equal(DEFAULT_LIST_PAGE_SIZE, 50)
  })

  await t.test('410 Gone: a watch from a compacted resourceVersion relists (real ERROR event from the apiserver)', async (t) => {
    const { proxy, src } = await setup(t)
    await src.start()
    // Move history on and compact it away: every resourceVersion before now is gone.
    await cp.kubectl(['label', 'runtimeclass', 'spin', 'bump=1', '--overwrite'])
    await cp.kubectl(['label', 'runtimeclass', 'spin', 'bump=2', '--overwrite'])
    const compacted = await compactEtcd(cp.etcdUrl)
    proxy.faults.set(RCS, { watch: 'oldResourceVersion', oldResourceVersion: String(compacted - 2) })
    const before = lists(proxy, RCS)
    src.relistNow() // ends the watches cleanly; the next watch starts from a compacted resourceVersion
    await waitFor(() => lists(proxy, RCS) >= before + 3, 'relists after 410')
    const goneWatches = proxy.requests.filter((r) => r.path === RCS && r.watch && r.query.get('resourceVersion') === String(compacted - 2))
    t.ok(goneWatches.length >= 2, 'watches from the compacted resourceVersion')
    t.ok(goneWatches.every((r) => r.status === 200 || r.status === 0), 'the apiserver answers 200 and an ERROR event, not HTTP 410')
    t.equal(src.readiness().ready, true, 'a 410 is not a failure')
    t.equal(src.status().find((s) => s.kind === 'runtimeclasses')!.failingSince, null)
    t.equal(src.status().find((s) => s.kind === 'runtimeclasses')!.restarts, 0, 'no error restarts')
  })

  await t.test('410 Gone as an HTTP status (injected: the apiserver sends it as an event) relists too', async (t) => {
    const { proxy, src } = await setup(t)
    await src.start()
    proxy.faults.set(NODES, { watch: 'gone' })
    const before = lists(proxy, NODES)
    src.relistNow()
    await waitFor(() => lists(proxy, NODES) >= before + 4, 'relists after HTTP 410')
    t.equal(src.status().find((s) => s.kind === 'nodes')!.failingSince, null)
  })

  await t.test('HTTP errors: backoff, restarts counted, readiness stale after staleAfterMs, recovery', async (t) => {
    const { proxy, src, registry } = await setup(t)
    await src.start()
    proxy.faults.set(NODES, { watch: 'error' })
    proxy.dropWatches(NODES)
    // The dropped watch fails first as a socket error; the relists that follow get the 500s. Wait
    // for staleness that names them (which one is current when staleAfterMs passes is a race).
    const r = await waitFor(() => {
      const r = src.readiness()
      return !r.ready && /HTTP 500/.test(r.detail) && r
    }, 'readiness to go stale on the HTTP 500s')
    t.match(r.detail, /nodes stale: list\/watch failing since .*HTTP 500/)
    t.notMatch(r.detail, /runtimeclasses/, 'only the failing kind is named')
    proxy.faults.delete(NODES)
    await waitFor(() => src.readiness().ready, 'recovery')
    t.match(await registry.metrics(), /wasm_admission_informer_restarts_total\{kind="nodes"\} [1-9]/)
  })

  await t.test('connection resets: every loop reconnects and stays ready', async (t) => {
    const { proxy, src } = await setup(t)
    await src.start()
    const w = watches(proxy, NS)
    proxy.faults.set(NODES, { list: 'reset' })
    proxy.resetConnections()
    await waitFor(() => watches(proxy, NS) > w, 'namespaces to re-watch')
    await waitFor(() => src.status().find((s) => s.kind === 'nodes')!.lastError !== '', 'the nodes relist to fail on resets')
    proxy.faults.delete(NODES)
    await waitFor(() => src.readiness().ready && proxy.openWatches(NODES) === 1, 'recovery after resets')
    t.equal(src.snapshot().nodeCount(), 2)
  })

  await t.test('a watch that never answers is a failure, not a quiet watch', async (t) => {
    const { proxy, src } = await setup(t, { inactivityMs: 100 })
    proxy.faults.set(NS, { watch: 'hang' })
    await src.start()
    // On a loaded machine another kind's watch may also miss the 100 ms first; wait for namespaces.
    const r = await waitFor(() => {
      const r = src.readiness()
      return !r.ready && /namespaces stale/.test(r.detail) && r
    }, 'stale namespaces')
    t.match(r.detail, /namespaces stale: .*no response within 100 ms/)
  })

  await t.test('a quiet but connected watch stays ready and reconnects', async (t) => {
    // staleAfterMs is generous: on a loaded machine one watch's headers may miss inactivityMs (a
    // real failure, not this test's subject), and 200 ms of that would make readiness false.
    const { proxy, src } = await setup(t, { inactivityMs: 300, staleAfterMs: 60_000 })
    await src.start()
    // Watches that connected (the apiserver answered 200) and were then ended for quietness.
    const quiet = (): number => proxy.count((r) => r.path === RCS && r.watch && r.status === 200)
    await waitFor(() => quiet() >= 3, 'reconnects after inactivity')
    t.equal(src.readiness().ready, true)
  })

  await t.test('a hung stream (forwarding paused): reconnects, and events flow again once resumed', async (t) => {
    // listTimeoutMs bounds a list sent while forwarding is paused (it hangs like the watch).
    const { proxy, src } = await setup(t, { inactivityMs: 300, staleAfterMs: 60_000, listTimeoutMs: 5_000 })
    await src.start()
    await waitFor(() => proxy.openWatches(NODES) === 1, 'watch to open')
    proxy.pause()
    const n = proxy.count((r) => r.path === NODES)
    await patchNodeStatus(cp, 'b', nodeJson('b', { runtimeHandlers: ['spin'] }).status)
    // A new watch (the silent one timed out) or, on a loaded machine where the new watch's headers
    // also missed inactivityMs (a failure), a relist: either way a new request after the silence.
    await waitFor(() => proxy.count((r) => r.path === NODES) > n, 'a new request after the stream went silent')
    t.equal(src.snapshot().eligibility('spin', pod()).eligibleNodes, 1, 'the change is not seen while paused')
    proxy.resume()
    await waitFor(() => src.snapshot().eligibility('spin', pod()).eligibleNodes === 2, 'the change after resume')
    t.equal(src.readiness().ready, true)
    await patchNodeStatus(cp, 'b', { runtimeHandlers: null }) // merge patch: null removes the field
    await waitFor(() => src.snapshot().eligibility('spin', pod()).eligibleNodes === 1, 'watch events flow')
  })

  await t.test('watchdog restarts a hung list', async (t) => {
    // watchdogMs bounds each step of the list after the fault goes (the watchdog counts every page
    // as progress); 2 s per request holds on a loaded machine, 300 ms did not.
    const { proxy, src } = await setup(t, { watchdogMs: 2_000, listTimeoutMs: 60_000, startWaitMs: 100 })
    proxy.faults.set(NODES, { list: 'hang' })
    await src.start()
    t.notOk(src.synced())
    const r = src.readiness()
    t.equal(r.ready, false)
    t.match(r.detail, /nodes not synced \(waiting since \d{4}-/)
    await waitFor(() => src.status().find((s) => s.kind === 'nodes')!.restarts >= 1, 'watchdog restart')
    proxy.faults.delete(NODES)
    await waitFor(() => src.synced(), 'sync after the watchdog restart')
    t.equal(src.snapshot().nodeCount(), 2)
    t.equal(src.snapshot().known, true)
  })

  await t.test('unsynced: snapshot is not known', async (t) => {
    const { proxy, src } = await setup(t, { startWaitMs: 50 })
    proxy.faults.set(RCS, { list: 'hang' })
    await src.start()
    t.equal(src.snapshot().known, false)
    t.match(src.readiness().detail, /runtimeclasses not synced/)
  })

  await t.test('watch events: MODIFIED and DELETED from the real apiserver', async (t) => {
    const { proxy, src } = await setup(t)
    await src.start()
    await waitFor(() => proxy.openWatches(NODES) === 1, 'watch to open')
    await patchNodeStatus(cp, 'b', nodeJson('b', { runtimeHandlers: ['spin'] }).status)
    await waitFor(() => src.snapshot().eligibility('spin', pod()).eligibleNodes === 2, 'MODIFIED event')
    await cp.kubectl(['delete', 'node', 'a'])
    await waitFor(() => src.snapshot().nodeCount() === 1, 'DELETED event')
    t.equal(src.readiness().ready, true)
  })
})
