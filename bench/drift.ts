// The drift controller at scale, in-process, against the REAL kube-apiserver: 5,000 realistic Nodes
// and 50 RuntimeClasses (bench/lib/kube.ts, as the scale bench), N workloads (default 10,000
// Deployments in 100 namespaces: every 4th a Spin Deployment without runtimeClassName, every 8th
// naming spin-test, the rest Linux), the PolicyReport CRD from the chart. Image facts come from an
// in-memory source (one Spin and one Linux image): the registry's cost is measured by run.ts, this
// measures the controller. Reports and Events are written to the real apiserver.
//   source scripts/lib/node.sh && node --expose-gc --import tsx bench/drift.ts [WORKLOADS] [NODES]
// Prints JSON: RSS and CPU after the initial sync and evaluation, and for two cluster changes (a node
// label that changes no verdict: no report written; the spin shim leaving every Wasm node: the
// reports of the namespaces with Spin workloads written once each).
import { Registry } from 'prom-client'
import { startControlPlane } from '../test/harness/control-plane.js'
import { createNodes, Kube, parallel, realisticNode, runtimeClasses } from './lib/kube.js'
import { testPolicy } from '../test/facts/cluster/helpers.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePorts, httpGet, procCpuSeconds, procMemory, spawnLogged } from './lib/proc.js'
import { shippedMallocEnv, shippedNodeOptions } from './lib/webhook.js'
import { issueServingCert, makeCa } from '../test/helpers/tls.js'
import type { ImageFact, ImageFactsSource } from '../src/domain/facts.js'

const WORKLOADS = Number(process.argv[2] ?? 10_000)
const NODES = Number(process.argv[3] ?? 5000)
const NAMESPACES = 100
const SPIN = 'registry.example/apps/spin-hello:v1'
const LINUX = 'registry.example/apps/web:v1'
const gc = (globalThis as { gc?: () => void }).gc
const mb = (b: number): number => Math.round((b / 1048576) * 10) / 10
const log = (s: string): void => void process.stderr.write(`[drift-bench] ${s}\n`)

const images: ImageFactsSource = {
  async lookup(image) {
    const f: ImageFact = image === SPIN
      ? { kind: 'wasm', image, digest: 'sha256:' + 'a'.repeat(64), runtime: 'spin', packaging: 'spin-app', pinnedImage: null, hasEntrypoint: false, evidence: ['bench'] }
      : { kind: 'linux', image, digest: 'sha256:' + 'b'.repeat(64), evidence: ['bench'] }
    return f
  },
  readiness: () => ({ ready: true, detail: '' }),
}

function deployment(ns: string, i: number): Record<string, unknown> {
  const wasm = i % 4 === 0
  const named = i % 8 === 0
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `app-${i}`, namespace: ns, labels: { app: `app-${i}`, team: `team-${i % 13}` }, annotations: { 'deployment.kubernetes.io/revision': '1' } },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: `app-${i}` } },
      template: {
        metadata: { labels: { app: `app-${i}` }, annotations: { 'prometheus.io/scrape': 'true' } },
        spec: {
          ...(named ? { runtimeClassName: 'spin-test' } : {}),
          containers: [{
            name: 'app',
            image: wasm || named ? SPIN : LINUX,
            ports: [{ containerPort: 8080 }],
            env: Array.from({ length: 10 }, (_, k) => ({ name: `VAR_${k}`, value: `value-${k}-${'x'.repeat(20)}` })),
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
            readinessProbe: { httpGet: { path: '/healthz', port: 8080 } },
          }],
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
        },
      },
    },
  }
}

const cp = await startControlPlane({})
try {
  const kube = new Kube(cp.kubeconfigPath, cp.server)
  await cp.kubectl(['apply', '-f', 'charts/wasm-admission/crds/wgpolicyk8s.io_policyreports.yaml'])
  await cp.kubectl(['wait', '--for=condition=Established', 'crd/policyreports.wgpolicyk8s.io', '--timeout=60s'])
  await parallel(runtimeClasses(), 8, async (rc) => void (await kube.must('POST', '/apis/node.k8s.io/v1/runtimeclasses', rc)))
  log(`creating ${NODES} nodes`)
  const nodesMs = await createNodes(kube, 0, NODES)
  const namespaces = Array.from({ length: NAMESPACES }, (_, k) => `team-${String(k).padStart(3, '0')}`)
  await parallel(namespaces, 16, async (ns) => void (await kube.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })))
  await kube.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wasm-admission' } })
  log(`creating ${WORKLOADS} Deployments in ${NAMESPACES} namespaces`)
  const t0 = performance.now()
  await parallel(Array.from({ length: WORKLOADS }, (_, i) => i), 32, async (i) => {
    const ns = namespaces[i % NAMESPACES]!
    await kube.must('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment(ns, i))
  })
  const workloadsMs = performance.now() - t0

  gc?.()
  const base = process.memoryUsage()
  const { InformerClusterSource } = await import('../src/facts/cluster/informers.js')
  const { startDrift } = await import('../src/drift/run.js')
  const pino = (await import('pino')).default
  const registry = new Registry()
  const logger = pino({ level: 'warn' })
  const cluster = new InformerClusterSource({ kubeConfig: (await import('../src/facts/cluster/kubeconfig.js')).loadKubeConfig(cp.kubeconfigPath, {}).kubeConfig, policy: () => testPolicy(), metrics: registry, startWaitMs: 300_000 })
  gc?.()
  const before = process.memoryUsage()
  const cpu0 = process.cpuUsage()
  const s0 = performance.now()
  await cluster.start()
  const drift = startDrift(
    { kubeconfig: cp.kubeconfigPath, env: {}, reports: true, events: true, namespace: 'wasm-admission', leaseName: 'drift', identity: 'bench', excludeNamespaces: [], debounceMs: 1000 },
    { images, cluster, policy: () => testPolicy(), logger, registry },
  )
  const metric = async (name: string): Promise<number> => {
    const m = (await registry.getSingleMetric(name)?.get())?.values ?? []
    return m.reduce((a, v) => a + v.value, 0)
  }
  const waitUntil = async (what: string, pred: () => Promise<boolean> | boolean): Promise<void> => {
    const until = Date.now() + 600_000
    while (!(await pred())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  await waitUntil('leading and every workload evaluated', async () => drift.controller.isLeading && drift.controller.evaluations >= WORKLOADS)
  await drift.controller.idle()
  const initialMs = performance.now() - s0
  const cpuInitial = process.cpuUsage(cpu0)
  const peakish = process.memoryUsage()
  gc?.()
  const afterSync = process.memoryUsage()
  const evaluations0 = drift.controller.evaluations
  const writes0 = await metric('wasm_admission_drift_report_writes_total')
  const events0 = await metric('wasm_admission_drift_events_total')
  const atRisk0 = await metric('wasm_admission_drift_workloads_at_risk')

  // Change 1: a label on a Wasm node that changes no verdict.
  const round = async (what: string, change: () => Promise<void>, done: () => Promise<boolean>) => {
    const evals = drift.controller.evaluations
    const writes = await metric('wasm_admission_drift_report_writes_total')
    const events = await metric('wasm_admission_drift_events_total')
    const c = process.cpuUsage()
    const t = performance.now()
    await change()
    await waitUntil(what, done)
    await drift.controller.idle()
    const cpu = process.cpuUsage(c)
    return {
      ms: Math.round(performance.now() - t),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      evaluations: drift.controller.evaluations - evals,
      reportWrites: (await metric('wasm_admission_drift_report_writes_total')) - writes,
      events: (await metric('wasm_admission_drift_events_total')) - events,
    }
  }
  const label = await round('the label change to be evaluated', async () => {
    await kube.must('PATCH', '/api/v1/nodes/node-00010', { metadata: { labels: { 'bench.example.com/touched': 'yes' } } }, 'application/merge-patch+json')
  }, async () => drift.controller.evaluations > 0 && drift.controller.flushes > 0 && (await metric('wasm_admission_drift_evaluations_total')) > WORKLOADS)
  // Change 2: the spin shim leaves every Wasm node (label and handler), node by node.
  const wasmNodes = Array.from({ length: NODES }, (_, i) => i).filter((i) => i % 10 === 0)
  const spinGone = await round('the Spin workloads to be reported', async () => {
    await parallel(wasmNodes, 16, async (i) => {
      const n = realisticNode(i)
      const name = (n.node.metadata as { name: string }).name
      await kube.must('PATCH', `/api/v1/nodes/${name}`, { metadata: { labels: { spin: null } } }, 'application/merge-patch+json')
      const handlers = (n.status.runtimeHandlers as Array<{ name: string }>).filter((h) => h.name !== 'spin')
      await kube.must('PATCH', `/api/v1/nodes/${name}/status`, { status: { runtimeHandlers: handlers } }, 'application/merge-patch+json')
    })
  }, async () => (await metric('wasm_admission_drift_workloads_at_risk')) >= Math.floor(WORKLOADS / 4))
  gc?.()
  const end = process.memoryUsage()
  const reportsList = await kube.must('GET', '/apis/wgpolicyk8s.io/v1alpha2/policyreports')
  const reportBytes = (reportsList.body.items as unknown[]).map((r) => JSON.stringify(r).length)
  console.log(JSON.stringify({
    workloads: WORKLOADS,
    nodes: NODES,
    namespaces: NAMESPACES,
    createNodesMs: Math.round(nodesMs),
    createWorkloadsMs: Math.round(workloadsMs),
    initial: {
      ms: Math.round(initialMs),
      cpuMs: Math.round((cpuInitial.user + cpuInitial.system) / 1000),
      evaluations: evaluations0,
      reportWrites: writes0,
      events: events0,
      atRisk: atRisk0,
    },
    rssBaseMB: mb(base.rss),
    rssBeforeStartMB: mb(before.rss),
    rssAfterInitialBeforeGcMB: mb(peakish.rss),
    rssAfterInitialMB: mb(afterSync.rss),
    heapUsedBeforeStartMB: mb(before.heapUsed),
    heapUsedAfterInitialMB: mb(afterSync.heapUsed),
    rssEndMB: mb(end.rss),
    nodeLabelChange: label,
    spinShimRemoved: spinGone,
    atRiskEnd: await metric('wasm_admission_drift_workloads_at_risk'),
    reports: reportBytes.length,
    largestReportBytes: Math.max(...reportBytes),
  }, null, 2))
  await drift.stop()
  await cluster.stop()

  // The product as it runs: `serve` processes against the same apiserver (5,000 nodes, the
  // workloads), with and without --drift, one after the other. --no-registry: every image is
  // unknown (allowed by the default policy), so this is the cost of keeping and evaluating the
  // workloads, not of registry lookups. RSS and CPU from /proc once every workload is evaluated.
  const dir = mkdtempSync(join(tmpdir(), 'drift-bench-'))
  const ca = makeCa('drift-bench')
  issueServingCert(ca, join(dir, 'tls'))
  writeFileSync(join(dir, 'policy.yaml'), '{}\n')
  const serve = async (drift: boolean) => {
    const [port, health] = (await freePorts(2)) as [number, number]
    const args = ['dist/src/cli.js', 'serve', '--host', '127.0.0.1', '--port', String(port), '--health-port', String(health), '--tls-dir', join(dir, 'tls'), '--policy', join(dir, 'policy.yaml'), '--kubeconfig', cp.kubeconfigPath, '--no-registry', '--log-level', 'warn', ...(drift ? ['--drift', '--drift-identity', 'serve-bench', '--drift-lease-name', 'serve-bench'] : [])]
    // With the image's (and the chart's) V8 flags and malloc settings, as it runs in a cluster.
    const child = spawnLogged(process.execPath, args, join(dir, `serve-${drift}.log`), { ...process.env, ...shippedMallocEnv(), NODE_OPTIONS: process.env['SERVE_NODE_OPTIONS'] ?? shippedNodeOptions() })
    const t = performance.now()
    const evaluated = async (): Promise<boolean> => {
      const r = await httpGet(`http://127.0.0.1:${health}/metrics`).catch(() => undefined)
      if (!r || r.status !== 200) return false
      if (!drift) return (await httpGet(`http://127.0.0.1:${health}/readyz`)).status === 200
      const m = /^wasm_admission_drift_evaluations_total (\S+)$/m.exec(r.body)
      return Number(m?.[1] ?? 0) >= WORKLOADS
    }
    await waitUntil(`serve (drift ${drift}) to be ready and evaluate every workload`, evaluated)
    const readyMs = performance.now() - t
    const cpuS = procCpuSeconds(child.pid)
    const mem = procMemory(child.pid)
    const metrics = drift ? (await httpGet(`http://127.0.0.1:${health}/metrics`)).body : ''
    await child.stop()
    return {
      readyMs: Math.round(readyMs),
      cpuS: Math.round(cpuS * 100) / 100,
      rssMB: Math.round(mem.rssMB * 10) / 10,
      peakMB: Math.round(mem.peakMB * 10) / 10,
      workloadsKept: drift ? [...metrics.matchAll(/^wasm_admission_drift_workloads\{kind="(\w+)"\} (\S+)$/gm)].reduce((a, m) => a + Number(m[2]), 0) : 0,
    }
  }
  const serveWithout = await serve(false)
  const serveWith = await serve(true)
  console.log(JSON.stringify({ serveWithoutDrift: serveWithout, serveWithDrift: serveWith }, null, 2))
  kube.close()
} finally {
  await cp.stop()
}
