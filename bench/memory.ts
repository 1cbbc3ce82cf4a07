// Memory and sync time of InformerClusterSource alone, in-process, against the REAL kube-apiserver
// holding N realistic Nodes (bench/lib/kube.ts) and 50 RuntimeClasses. Not part of run.ts's table:
// a focused tool for the informer's memory (the full webhook's figures are in run.ts's scale section).
//   source scripts/lib/node.sh && node --expose-gc --import tsx bench/memory.ts [N] [--client-node]
// PAGE_SIZE=n overrides the list page size.
import { Registry } from 'prom-client'
import { startControlPlane } from '../test/harness/control-plane.js'
import { createNodes, Kube, parallel, runtimeClasses } from './lib/kube.js'
import { pod, testPolicy } from '../test/facts/cluster/helpers.js'

const n = Number(process.argv[2] ?? 5000)
const gc = (globalThis as { gc?: () => void }).gc
const mb = (b: number): number => Math.round((b / 1048576) * 10) / 10
const cp = await startControlPlane({})
try {
  const kube = new Kube(cp.kubeconfigPath, cp.server)
  await parallel(runtimeClasses(), 8, async (rc) => void (await kube.must('POST', '/apis/node.k8s.io/v1/runtimeclasses', rc)))
  const createMs = await createNodes(kube, 0, n)
  kube.close()
  gc?.()
  const base = process.memoryUsage()
  const { InformerClusterSource } = await import('../src/facts/cluster/informers.js')
  const { loadKubeConfig } = await import('../src/facts/cluster/kubeconfig.js')
  gc?.()
  const before = process.memoryUsage()
  const src = new InformerClusterSource({ kubeConfig: loadKubeConfig(cp.kubeconfigPath, {}).kubeConfig, policy: () => testPolicy(), metrics: new Registry(), startWaitMs: 300_000, ...(process.env.PAGE_SIZE ? { pageSize: Number(process.env.PAGE_SIZE) } : {}) })
  const t0 = performance.now()
  await src.start()
  const syncMs = performance.now() - t0
  const peakish = process.memoryUsage()
  gc?.()
  const after = process.memoryUsage()
  const s = src.snapshot()
  const time = (f: () => unknown, reps = 200): number => {
    const t = performance.now()
    for (let i = 0; i < reps; i++) f()
    return Math.round(((performance.now() - t) / reps) * 1000) / 1000
  }
  console.log(JSON.stringify({
    nodes: s.nodeCount(),
    createNodesMs: Math.round(createMs),
    syncMs: Math.round(syncMs),
    rssBaseMB: mb(base.rss),
    rssAfterImportMB: mb(before.rss),
    rssAfterSyncBeforeGcMB: mb(peakish.rss),
    rssAfterSyncMB: mb(after.rss),
    heapUsedAfterImportMB: mb(before.heapUsed),
    heapUsedAfterSyncMB: mb(after.heapUsed),
    eligibilityMsSpinTest: time(() => s.eligibility('spin-test', pod())),
  }, null, 2))
  await src.stop()
} finally {
  await cp.stop()
}
