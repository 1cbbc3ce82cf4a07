// Starts the real control plane for the cluster-facts integration tests, or says why it cannot.
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.js'
import { missingTools } from '../../harness/tools.js'
import { waitFor as harnessWaitFor } from '../../harness/process.js'

/**
 * Returns a reason to skip, or undefined when the tools are there. Under
 * WASM_ADMISSION_REQUIRE_CLUSTER=1 (scripts/test.sh) there is never a reason: a missing tool fails.
 */
export function planeSkipReason(): string | undefined {
  if (process.env['WASM_ADMISSION_REQUIRE_CLUSTER'] === '1') return undefined
  const missing = missingTools().filter((m) => m !== 'helm' && m !== 'kubeControllerManager')
  return missing.length > 0 ? `control-plane tools not built (${missing.join(', ')}): run scripts/build-tools.sh` : undefined
}

export async function startPlane(): Promise<ControlPlane> {
  return startControlPlane()
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

/** waitFor with the condition first (the order these tests were written in). */
export function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, deadlineMs = 30_000): Promise<T> {
  return harnessWaitFor(what, fn, deadlineMs)
}
