/** Cluster facts for the one-shot commands (`check`, `nodes`): a live cluster synced once, or a file. */
import { FileClusterSource } from '../facts/cluster/cluster-file.js'
import { InformerClusterSource } from '../facts/cluster/informers.js'
import { loadKubeConfig } from '../facts/cluster/kubeconfig.js'
import type { IndexSnapshot } from '../facts/cluster/cluster-index.js'
import type { Policy } from '../domain/policy.js'

export interface SnapshotRequest {
  kubeconfig?: string | undefined
  clusterFile?: string | undefined
  policy: Policy
  timeoutS: number
  env: Record<string, string | undefined>
  /** Told about documents of the cluster file that were not Nodes, RuntimeClasses or Namespaces. */
  onIgnored?: (what: string[]) => void
}

/** Throws with a readable message when the facts cannot be read. */
export async function loadClusterSnapshot(r: SnapshotRequest): Promise<{ snapshot: IndexSnapshot; source: string }> {
  if (r.clusterFile) {
    const file = await FileClusterSource.fromFile(r.clusterFile, () => r.policy)
    if (file.contents.ignored.length > 0) r.onIgnored?.(file.contents.ignored)
    return { snapshot: file.snapshot(), source: `cluster file ${r.clusterFile}` }
  }
  const { kubeConfig, origin } = loadKubeConfig(r.kubeconfig, r.env)
  const source = `${origin} (${kubeConfig.getCurrentCluster()?.server ?? '?'})`
  const informers = new InformerClusterSource({ kubeConfig, policy: () => r.policy, startWaitMs: r.timeoutS * 1000, backoffMaxMs: 5000 })
  try {
    await informers.start()
    if (!informers.synced()) throw new Error(`cluster caches did not sync within ${r.timeoutS} s: ${informers.readiness().detail}`)
    return { snapshot: informers.snapshot(), source }
  } finally {
    await informers.stop()
  }
}
