// InformerClusterSource against a scriptable fake apiserver: 410 handling, errors and backoff,
// hung requests, watchdog, staleness readiness, summaries only.
import t, { type Test } from 'tap'
import { Registry } from 'prom-client'
import { InformerClusterSource, type InformerClusterSourceOptions } from '../../../src/facts/cluster/informers.js'
import { FakeApiserver } from './fake-apiserver.js'
import { nodeJson, pod, testPolicy } from './helpers.js'
import { waitFor } from './plane.js'

const NODES = '/api/v1/nodes'
const RCS = '/apis/node.k8s.io/v1/runtimeclasses'
const NS = '/api/v1/namespaces'
const spinRc = { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: 'spin' }, handler: 'spin' }

async function setup(t: Test, opts: Partial<InformerClusterSourceOptions> = {}) {
  const fake = new FakeApiserver()
  fake.resource(NODES, [nodeJson('a', { runtimeHandlers: ['spin'] }), nodeJson('b')])
  fake.resource(RCS, [spinRc])
  fake.resource(NS, [{ metadata: { name: 'default', labels: { x: 'y' } } }])
  await fake.start()
  t.teardown(() => fake.stop())
  const registry = new Registry()
  const src = new InformerClusterSource({
    kubeConfig: fake.kubeConfig(),
    policy: () => testPolicy(),
    metrics: registry,
    backoffBaseMs: 20,
    backoffMaxMs: 100,
    staleAfterMs: 200,
    startWaitMs: 5000,
    pageSize: 1,
    ...opts,
  })
  t.teardown(() => src.stop())
  return { fake, src, registry }
}


t.test('paginated list, then watch events', async (t) => {
  const { fake, src } = await setup(t)
  await src.start()
  t.ok(src.synced())
  t.equal(fake.resources.get(NODES)!.lists, 2, 'two pages of one node')
  t.equal(src.snapshot().eligibility('spin', pod()).message, '1/2 nodes can run RuntimeClass spin (handler spin): 1 lacks the spin shim')
  await waitFor(() => fake.resources.get(NODES)!.open.size === 1, 'watch to open')
  fake.send(NODES, 'MODIFIED', nodeJson('b', { runtimeHandlers: ['spin'] }))
  await waitFor(() => src.snapshot().eligibility('spin', pod()).eligibleNodes === 2, 'MODIFIED event')
  fake.send(NODES, 'DELETED', nodeJson('a'))
  await waitFor(() => src.snapshot().nodeCount() === 1, 'DELETED event')
  fake.send(NODES, 'BOOKMARK', { kind: 'Node', metadata: {} })
  t.equal(src.readiness().ready, true)
})

t.test('410 Gone on watch → relist', async (t) => {
  const { fake, src } = await setup(t)
  fake.resources.get(RCS)!.watch = 'gone'
  await src.start()
  await waitFor(() => fake.resources.get(RCS)!.lists >= 3, 'relists after 410')
  t.equal(src.readiness().ready, true, 'a 410 is not a failure')
  fake.resources.get(RCS)!.watch = 'gone-event'
  const before = fake.resources.get(RCS)!.lists
  await waitFor(() => fake.resources.get(RCS)!.lists >= before + 2, 'relists after ERROR 410 event')
  t.equal(src.status().find((s) => s.kind === 'runtimeclasses')!.failingSince, null)
})

t.test('HTTP errors: backoff, restarts counted, readiness stale after staleAfterMs, recovery', async (t) => {
  const { fake, src, registry } = await setup(t)
  await src.start()
  fake.resources.get(NODES)!.watch = 'error'
  fake.dropWatches()
  const r = await waitFor(() => {
    const r = src.readiness()
    return !r.ready && r
  }, 'readiness to go stale')
  t.match(r.detail, /nodes stale: list\/watch failing since .*HTTP 500/)
  t.notMatch(r.detail, /runtimeclasses/, 'only the failing kind is named')
  fake.resources.get(NODES)!.watch = 'stream'
  await waitFor(() => src.readiness().ready, 'recovery')
  t.match(await registry.metrics(), /wasm_admission_informer_restarts_total\{kind="nodes"\} [1-9]/)
})

t.test('a watch that never answers is a failure, not a quiet watch', async (t) => {
  const { fake, src } = await setup(t, { inactivityMs: 100 })
  fake.resources.get(NS)!.watch = 'hang'
  await src.start()
  const r = await waitFor(() => {
    const r = src.readiness()
    return !r.ready && r
  }, 'stale namespaces')
  t.match(r.detail, /namespaces stale: .*no response within 100 ms/)
})

t.test('a quiet but connected watch stays ready and reconnects', async (t) => {
  const { fake, src } = await setup(t, { inactivityMs: 100 })
  await src.start()
  await waitFor(() => fake.resources.get(RCS)!.watches >= 3, 'reconnects after inactivity')
  t.equal(src.readiness().ready, true)
})

t.test('watchdog restarts a hung list', async (t) => {
  const { fake, src } = await setup(t, { watchdogMs: 300, listTimeoutMs: 60_000, startWaitMs: 100 })
  fake.resources.get(NODES)!.hangList = true
  await src.start()
  t.notOk(src.synced())
  const r = src.readiness()
  t.equal(r.ready, false)
  t.match(r.detail, /nodes not synced \(waiting since \d{4}-/)
  await waitFor(() => src.status().find((s) => s.kind === 'nodes')!.restarts >= 1, 'watchdog restart')
  fake.resources.get(NODES)!.hangList = false
  await waitFor(() => src.synced(), 'sync after the watchdog restart')
  t.equal(src.snapshot().nodeCount(), 2)
  t.equal(src.snapshot().known, true)
})

t.test('unsynced: snapshot is not known', async (t) => {
  const { fake, src } = await setup(t, { startWaitMs: 50 })
  fake.resources.get(RCS)!.hangList = true
  await src.start()
  t.equal(src.snapshot().known, false)
  t.match(src.readiness().detail, /runtimeclasses not synced/)
})
