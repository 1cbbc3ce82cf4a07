// Starts the real control plane for the cluster-facts integration tests, or says why it cannot.
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.js'
import { missingTools, toolPaths } from '../../harness/tools.js'

/** Returns a reason to skip, or undefined when the tools are there. */
export function planeSkipReason(): string | undefined {
  const missing = missingTools().filter((m) => m !== 'helm' && m !== 'kubeControllerManager')
  const etcdFallback = join(dirname(toolPaths().etcd), 'server')
  const stillMissing = missing.filter((m) => !(m === 'etcd' && existsSync(etcdFallback)))
  return stillMissing.length > 0 ? `control-plane tools not built (${stillMissing.join(', ')}): run scripts/build-tools.sh` : undefined
}

export async function startPlane(): Promise<ControlPlane> {
  const paths = toolPaths()
  const etcdFallback = join(dirname(paths.etcd), 'server')
  // An early build-tools.sh left the etcd binary named after its package (`server`).
  const tools = !existsSync(paths.etcd) && existsSync(etcdFallback) ? { etcd: etcdFallback } : {}
  return startControlPlane({ tools })
}

/**
 * Creates the objects of a cluster YAML file on the plane: RuntimeClasses, Namespaces and Nodes;
 * Node status (conditions, runtimeHandlers) goes through the nodes/status subresource.
 */
export async function seedPlane(cp: ControlPlane, file: string): Promise<void> {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'))
  if (!Array.isArray(docs)) throw new Error('empty fixture')
  const objs = docs.map((d) => d.toJS() as { kind: string; metadata: { name: string }; status?: unknown })
  const withoutStatus = objs.map(({ status: _s, ...o }) => o)
  await cp.kubectl(['apply', '-f', '-'], { input: withoutStatus.map((o) => JSON.stringify(o)).join('\n---\n') })
  for (const o of objs) {
    if (o.kind !== 'Node') continue
    if (o.status) await patchNodeStatus(cp, o.metadata.name, o.status)
    // The TaintNodesByCondition admission plugin taints every new Node not-ready:NoSchedule; the
    // node-lifecycle controller (not running here) lifts it once the node is Ready. Do its job.
    const ready = (o.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions?.some(
      (c) => c.type === 'Ready' && c.status === 'True',
    )
    if (ready) await cp.kubectl(['taint', 'node', o.metadata.name, 'node.kubernetes.io/not-ready:NoSchedule-'], { allowFailure: true })
  }
}

export async function patchNodeStatus(cp: ControlPlane, name: string, status: unknown): Promise<void> {
  await cp.kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })])
}

/** Polls fn until it returns a truthy value; fails after the deadline (no fixed sleeps). */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, deadlineMs = 30_000): Promise<T> {
  const until = Date.now() + deadlineMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
