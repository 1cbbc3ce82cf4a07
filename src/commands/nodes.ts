/**
 * `wasm-admission nodes [--kubeconfig K | --cluster FILE] [--policy P] [--runtime-class NAME]
 *                       [--output text|json] [--timeout SECONDS]`
 *
 * Prints, for each RuntimeClass, every node and why it can or cannot run a pod of that
 * RuntimeClass (a pod with no nodeSelector, affinity or tolerations of its own), with the same
 * scheduler-style summary the webhook uses in denials. Facts come from a live cluster (one sync of
 * the informers) or from a YAML file of Nodes, RuntimeClasses and Namespaces.
 * Exit status: 0 on success, 1 when the cluster facts cannot be read, 2 on usage errors.
 * Does not touch `process`: io is passed in.
 */
import { readFile } from 'node:fs/promises'
import type { Policy } from '../domain/policy.js'
import { defaultPolicy } from '../policy/defaults.js'
import { parsePolicy } from '../policy/load.js'
import type { IndexSnapshot } from '../facts/cluster/cluster-index.js'
import { loadClusterSnapshot } from './cluster-snapshot.js'
import { formatSelector, formatTaint, type NodeSummary } from '../facts/cluster/node-summary.js'
import { NO_POD_CONSTRAINTS } from '../facts/cluster/eligibility.js'
import type { RuntimeClassInfo } from '../domain/facts.js'
import type { Taint, Toleration } from '../domain/kube.js'
import { parseCommandArgs } from './command-args.js'

export interface NodesIo {
  stdout(s: string): void
  stderr(s: string): void
  env: Record<string, string | undefined>
}

export const NODES_USAGE = `Usage: wasm-admission nodes [options]

Shows which nodes can run which RuntimeClass, and why each node can or cannot.

Options:
      --kubeconfig FILE      read a live cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)
      --cluster FILE         read Nodes, RuntimeClasses and Namespaces from a YAML file instead
      --policy FILE          policy file (shim labels, trust in RuntimeClass nodeSelectors)
      --runtime-class NAME   only this RuntimeClass (repeatable)
  -o, --output text|json     output format (default: text)
      --timeout SECONDS      how long to wait for a live cluster's caches (default: 30)
  -h, --help                 show this help
`

/** One element of `runtimeClasses` in the JSON output. */
export interface NodesRuntimeClassResult {
  name: string
  handler: string
  nodeSelector: Record<string, string>
  tolerations: Toleration[]
  totalNodes: number
  eligibleNodes: number
  /** Scheduler-style summary, as in the webhook's denials. */
  message: string
  nodes: Array<{
    name: string
    eligible: boolean
    /** First failing check (notReady, cordoned, noShim, rcNodeSelector, taint, ...), null when eligible. */
    reason: string | null
    detail: string
    /** What says the node has (or lacks) the shim: runtimeHandlers, label, runtimeClassNodeSelector, none. */
    shimEvidence: string
  }>
}

export interface NodesOutput {
  source: string
  nodes: Array<{ name: string; ready: boolean; unschedulable: boolean; runtimeHandlers: string[] | null; taints: Taint[]; labels: Record<string, string> }>
  runtimeClasses: NodesRuntimeClassResult[]
}

export function buildNodesOutput(snapshot: IndexSnapshot, source: string, policy: Policy, only: string[] = []): { output: NodesOutput; missing: string[] } {
  const all = snapshot.runtimeClasses()
  const missing = only.filter((n) => !all.some((r) => r.name === n))
  const rcs = only.length > 0 ? all.filter((r) => only.includes(r.name)) : all
  const runtimeClasses = rcs.map((rc): NodesRuntimeClassResult => {
    const e = snapshot.eligibility(rc.name, NO_POD_CONSTRAINTS, policy)
    const checks = snapshot.checkNodes(rc.name, NO_POD_CONSTRAINTS, policy) ?? []
    return {
      name: rc.name,
      handler: rc.handler,
      nodeSelector: rc.nodeSelector,
      tolerations: rc.tolerations,
      totalNodes: e.totalNodes,
      eligibleNodes: e.eligibleNodes,
      message: e.message,
      nodes: checks.map((c) => ({ name: c.node, eligible: c.eligible, reason: c.failure?.code ?? null, detail: c.detail, shimEvidence: c.shim.evidence })),
    }
  })
  const nodes = snapshot.nodes().map((n: NodeSummary) => ({
    name: n.name,
    ready: n.ready,
    unschedulable: n.unschedulable,
    runtimeHandlers: n.runtimeHandlers,
    taints: n.taints,
    labels: n.labels,
  }))
  return { output: { source, nodes, runtimeClasses }, missing }
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
}

function describeRc(rc: Pick<RuntimeClassInfo, 'handler' | 'nodeSelector' | 'tolerations'>): string {
  const parts = [`handler ${rc.handler}`]
  parts.push(Object.keys(rc.nodeSelector).length > 0 ? `nodeSelector ${formatSelector(rc.nodeSelector)}` : 'no nodeSelector')
  if (rc.tolerations.length > 0) parts.push(`${rc.tolerations.length} toleration(s)`)
  return parts.join(', ')
}

export function renderNodesText(out: NodesOutput): string {
  const lines: string[] = [`Cluster: ${out.source}: ${out.nodes.length} nodes, ${out.runtimeClasses.length} RuntimeClasses shown`]
  if (out.nodes.length > 0) {
    lines.push('', 'Nodes:')
    const rows = [['NAME', 'READY', 'SCHEDULABLE', 'RUNTIME HANDLERS', 'TAINTS']]
    for (const n of out.nodes) {
      rows.push([
        n.name,
        n.ready ? 'yes' : 'no',
        n.unschedulable ? 'no (cordoned)' : 'yes',
        n.runtimeHandlers === null ? '(not reported)' : n.runtimeHandlers.map((h) => (h === '' ? '""' : h)).join(','),
        n.taints.length > 0 ? n.taints.map(formatTaint).join(',') : '-',
      ])
    }
    lines.push(...table(rows).map((l) => `  ${l}`))
  }
  if (out.runtimeClasses.length === 0) lines.push('', 'No RuntimeClasses.')
  for (const rc of out.runtimeClasses) {
    lines.push('', `RuntimeClass ${rc.name} (${describeRc(rc)})`, `  ${rc.message}`)
    if (rc.nodes.length > 0) {
      const rows = [['NODE', 'ELIGIBLE', 'WHY']]
      for (const n of rc.nodes) rows.push([n.name, n.eligible ? 'yes' : 'no', n.detail])
      lines.push(...table(rows).map((l) => `  ${l}`))
    }
  }
  lines.push('', 'Eligibility is for a pod with no nodeSelector, affinity or tolerations of its own.')
  return lines.join('\n') + '\n'
}

export async function runNodes(argv: string[], io: NodesIo): Promise<number> {
  const args = parseCommandArgs<{ kubeconfig?: string; cluster?: string; policy?: string; 'runtime-class'?: string[] }>('nodes', NODES_USAGE, argv, io, {
    kubeconfig: { type: 'string' },
    cluster: { type: 'string' },
    policy: { type: 'string' },
    'runtime-class': { type: 'string', multiple: true },
  })
  if (typeof args === 'number') return args
  const { values, output: format, timeoutS, usage } = args
  if (values.kubeconfig && values.cluster) return usage('--kubeconfig and --cluster are mutually exclusive')

  let policy: Policy
  try {
    policy = values.policy ? parsePolicy(await readFile(values.policy, 'utf8'), values.policy) : defaultPolicy()
  } catch (e) {
    io.stderr(`wasm-admission nodes: ${(e as Error).message}\n`)
    return values.policy && (e as NodeJS.ErrnoException).code === 'ENOENT' ? 2 : 1
  }

  let snapshot: IndexSnapshot
  let source: string
  try {
    ;({ snapshot, source } = await loadClusterSnapshot({
      kubeconfig: values.kubeconfig,
      clusterFile: values.cluster,
      policy,
      timeoutS,
      env: io.env,
      onIgnored: (ignored) => io.stderr(`wasm-admission nodes: ignored ${ignored.length} other document(s): ${ignored.join(', ')}\n`),
    }))
  } catch (e) {
    io.stderr(`wasm-admission nodes: ${(e as Error).message}\n`)
    return 1
  }

  const { output, missing } = buildNodesOutput(snapshot, source, policy, values['runtime-class'] ?? [])
  io.stdout(format === 'json' ? JSON.stringify(output, null, 2) + '\n' : renderNodesText(output))
  if (missing.length > 0) {
    io.stderr(`wasm-admission nodes: RuntimeClass not found: ${missing.join(', ')}\n`)
    return 1
  }
  return 0
}
