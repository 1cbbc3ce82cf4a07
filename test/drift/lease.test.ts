// The drift Lease on a real kube-apiserver: one holder among concurrent candidates, renewal, release
// on stop (the next candidate takes over at its next try), and takeover after a holder vanishes
// without releasing (only once the record has stopped changing for the lease duration).
import t from 'tap'
import { loadKubeConnection } from '../../src/facts/cluster/kubeconfig.js'
import { kubeApi } from '../../src/drift/kube-api.js'
import { LeaseElector, microTime } from '../../src/drift/lease.js'
import { planeSkipReason, startPlane, waitFor } from '../facts/cluster/plane.js'

t.test('microTime has microseconds', async (t) => {
  t.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), '2026-01-02T03:04:05.678000Z')
})

t.test('LeaseElector on a real kube-apiserver', { skip: planeSkipReason() ?? false }, async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  await cp.kubectl(['create', 'namespace', 'lease-test'])
  const { connection } = loadKubeConnection(cp.kubeconfigPath, {})
  t.teardown(() => connection.close())
  const api = kubeApi(connection)
  const holder = async (): Promise<string> => {
    const r = await api.request('GET', '/apis/coordination.k8s.io/v1/namespaces/lease-test/leases/one')
    return r.status === 200 ? ((r.body as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '') : ''
  }
  const calls: string[] = []
  const make = (id: string, retryPeriodMs = 100) =>
    new LeaseElector({
      api,
      namespace: 'lease-test',
      name: 'one',
      identity: id,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1500,
      retryPeriodMs,
      onStartedLeading: () => calls.push(`${id}+`),
      onStoppedLeading: () => calls.push(`${id}-`),
    })

  const a = make('a')
  const b = make('b')
  // Both try at once: optimistic concurrency lets exactly one create or take the Lease.
  await Promise.all([a.tick(), b.tick()])
  t.equal([a, b].filter((e) => e.leading).length, 1, 'exactly one leader')
  const first = a.leading ? a : b
  const second = first === a ? b : a
  const firstId = first === a ? 'a' : 'b'
  t.equal(await holder(), firstId)
  await second.tick()
  t.notOk(second.leading, 'a live holder is respected')
  await first.tick()
  t.ok(first.leading, 'the holder renews')

  // A holder that vanishes (never renews, never releases): the other takes over once the record
  // has not changed for the lease duration on its own clock.
  second.start()
  t.teardown(() => second.stop())
  await waitFor(() => second.leading, 'the second candidate to take over an abandoned Lease', 20_000)
  t.equal(await holder(), firstId === 'a' ? 'b' : 'a')
  await first.tick()
  t.notOk(first.leading, 'the old holder learns it lost the Lease')
  t.same(calls.filter((c) => c.endsWith('-')), [`${firstId}-`])

  // A clean stop releases: a fresh candidate takes over at its first try, without waiting.
  await second.stop()
  t.equal(await holder(), '', 'released')
  const c = make('c')
  await c.tick()
  t.ok(c.leading, 'taken at once after a release')
  t.equal(c.terms, 1)
})
