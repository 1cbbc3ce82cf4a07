// The drift Publisher on a real kube-apiserver: without the PolicyReport CRD no report is written
// (WA_ERR_DRIFT_REPORT_API) but Events are; once the CRD exists the report is applied, not rewritten
// when unchanged, deleted when the namespace has no workload left; a new leader's Publisher seeded
// from the existing reports neither rewrites an unchanged report nor repeats an Event.
import t from 'tap'
import { Registry } from 'prom-client'
import { loadKubeConnection } from '../../src/facts/cluster/kubeconfig.js'
import { kubeApi } from '../../src/drift/kube-api.js'
import { Publisher } from '../../src/drift/publisher.js'
import { DriftMetrics } from '../../src/metrics/drift-metrics.js'
import type { Verdict } from '../../src/drift/evaluate.js'
import { planeSkipReason, startPlane, waitFor } from '../facts/cluster/plane.js'

const NS = 'pub'
function verdict(name: string, fail: boolean, message = 'container "app": 0/6 nodes can run RuntimeClass spin-test (handler spin): 6 lack the spin shim; fix: provision the "spin" shim'): Verdict {
  return {
    key: `Deployment/${NS}/${name}`,
    workload: { kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, namespace: NS, name, uid: `uid-${name}` },
    mode: 'enforce',
    result: fail ? 'fail' : 'pass',
    wouldDeny: fail,
    violations: fail ? [{ rule: 'no-eligible-node', message }] : [],
    wasm: true,
  }
}

t.test('Publisher on a real kube-apiserver', { skip: planeSkipReason() ?? false }, async (t) => {
  const cp = await startPlane()
  t.teardown(() => cp.stop())
  await cp.kubectl(['create', 'namespace', NS])
  const { connection } = loadKubeConnection(cp.kubeconfigPath, {})
  t.teardown(() => connection.close())
  const api = kubeApi(connection)
  const logged: string[] = []
  const logger = { warn: (o: { code?: string }) => logged.push(o.code ?? ''), error: (o: { code?: string }) => logged.push(o.code ?? ''), info() {}, debug() {} } as never
  const registry = new Registry()
  const metrics = new DriftMetrics(registry)
  const count = async (name: string, labels: Record<string, string> = {}) =>
    ((await registry.getSingleMetric(name)?.get())?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0)
  const events = async (reason: string) =>
    ((JSON.parse((await cp.kubectl(['get', 'events.events.k8s.io', '-n', NS, '-o', 'json'])).stdout) as { items: Array<{ reason: string }> }).items).filter((e) => e.reason === reason).length
  const report = async () => {
    const r = await cp.kubectl(['get', 'policyreports.wgpolicyk8s.io', 'wasm-admission', '-n', NS, '-o', 'json'], { allowFailure: true })
    return r.code === 0 ? (JSON.parse(r.stdout) as { summary: Record<string, number>; results?: Array<{ rule: string; resources: Array<{ name: string }> }> }) : undefined
  }

  const p = new Publisher({ api, identity: 'test-1', reports: true, events: true, logger, metrics })
  await p.publishNamespace(NS, [verdict('a', false), verdict('b', true)])
  t.ok(logged.includes('WA_ERR_DRIFT_REPORT_API'), 'no CRD: the report API error is logged')
  t.equal(await events('WasmWorkloadAtRisk'), 1, 'Events are written without the CRD')
  t.equal(await count('wasm_admission_drift_report_writes_total'), 0)

  await cp.kubectl(['apply', '-f', 'charts/wasm-admission/crds/wgpolicyk8s.io_policyreports.yaml'])
  await cp.kubectl(['wait', '--for=condition=Established', 'crd/policyreports.wgpolicyk8s.io', '--timeout=60s'])
  // The apiserver may answer 429 while the new resource's storage initialises: publish until written.
  await waitFor(async () => {
    await p.publishNamespace(NS, [verdict('a', false), verdict('b', true)])
    return (await report()) ?? false
  }, 'the report once the CRD exists', 60_000)
  const r1 = (await report())!
  t.same(r1.summary, { pass: 1, fail: 1, warn: 0, error: 0, skip: 0 })
  t.same(r1.results?.map((x) => [x.rule, x.resources[0]!.name]), [['no-eligible-node', 'b']])
  t.equal(await events('WasmWorkloadAtRisk'), 1, 'the same verdict is not announced twice')
  const writes = await count('wasm_admission_drift_report_writes_total', { operation: 'apply' })
  t.equal(writes, 1)
  await p.publishNamespace(NS, [verdict('b', true), verdict('a', false)])
  t.equal(await count('wasm_admission_drift_report_writes_total', { operation: 'apply' }), writes, 'unchanged: not written again')

  // A new leader: seeded from the report, it neither rewrites it nor repeats the Event.
  const p2 = new Publisher({ api, identity: 'test-2', reports: true, events: true, logger, metrics })
  await p2.publishNamespace(NS, [verdict('a', false), verdict('b', true)])
  t.equal(await count('wasm_admission_drift_report_writes_total', { operation: 'apply' }), writes, 'the new leader does not rewrite an unchanged report')
  t.equal(await events('WasmWorkloadAtRisk'), 1, 'nor repeat the Event')
  // Only the counts in the message change: the report is updated, no Event.
  await p2.publishNamespace(NS, [verdict('a', false), verdict('b', true, 'container "app": 0/7 nodes can run RuntimeClass spin-test (handler spin): 7 lack the spin shim; fix: provision the "spin" shim')])
  t.equal(await count('wasm_admission_drift_report_writes_total', { operation: 'apply' }), writes + 1)
  t.equal(await events('WasmWorkloadAtRisk'), 1)
  // b passes again: the report changes and a Normal Event says so.
  await p2.publishNamespace(NS, [verdict('a', false), verdict('b', false)])
  t.same((await report())!.results ?? [], [])
  t.equal(await events('WasmWorkloadRestored'), 1)
  // No workload left: the report is deleted.
  await p2.publishNamespace(NS, [])
  t.equal(await report(), undefined)
  t.equal(await count('wasm_admission_drift_report_writes_total', { operation: 'delete' }), 1)
})
