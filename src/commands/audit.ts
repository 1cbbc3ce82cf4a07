/**
 * `wasm-admission audit [--kubeconfig K] [--policy P] [-n NS] [--plain-http] [--allow-host H]...
 *                       [--exclude-namespaces LIST] [--output text|json] [--timeout S]`
 *
 * A one-shot scan of a live cluster for CI and incident response: every stored workload the drift
 * controller would watch (docs/drift.md), judged by the same evaluation (the same decide() as
 * admission, validation only) against the cluster's current facts and images inspected in their
 * registries. Exit 0 when admission would admit every workload today, 1 when it would deny at least
 * one (enforce mode), 2 on usage errors or when the cluster cannot be read.
 */
import { readFile } from 'node:fs/promises'
import type { ClusterFactsSource } from '../domain/facts.js'
import type { Policy } from '../domain/policy.js'
import { containersOf } from '../domain/workload.js'
import { isWasmAdmissionError } from '../errors.js'
import { connectionFromKubeConfig, loadKubeConfig } from '../facts/cluster/kubeconfig.js'
import { defaultPolicy } from '../policy/defaults.js'
import { parsePolicy } from '../policy/load.js'
import { gatherStored } from '../pipeline.js'
import { evaluate, type Verdict } from '../drift/evaluate.js'
import { kubeApi } from '../drift/kube-api.js'
import { listWorkloads } from '../drift/list-workloads.js'
import { cliImageInspector } from './cli-images.js'
import { loadClusterSnapshot } from './cluster-snapshot.js'
import { parseCommandArgs } from './command-args.js'

export interface AuditIo {
  stdout(s: string): void
  stderr(s: string): void
  env: Record<string, string | undefined>
}

export const AUDIT_USAGE = `Usage: wasm-admission audit [options]

Lists the workloads of a live cluster (Deployments, StatefulSets, DaemonSets, CronJobs, Jobs and
ReplicaSets without such an owner, bare Pods) and judges each as wasm-admission would judge its
creation now. Exit 1 when at least one would be denied.

Options:
      --kubeconfig FILE            the cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster)
      --policy FILE                the policy (default: the built-in policy)
  -n, --namespace NS               only this namespace
      --exclude-namespaces LIST    namespaces skipped (default: kube-system,kube-public,kube-node-lease)
      --plain-http                 talk plain HTTP to the registries of the listed images, and let
                                   them past the private-address guard (for local registries)
      --allow-host HOST|CIDR       let a private registry host past the guard (repeatable)
  -o, --output text|json           output format (default: text)
  -A, --all                        text output: list passing workloads too
      --timeout SECONDS            registry and cluster sync timeout (default: 30)
  -h, --help                       show this help
`

/** The JSON form of a verdict. */
export function verdictJson(v: Verdict): Record<string, unknown> {
  const w = v.workload
  return { kind: w.kind.kind, namespace: w.namespace, name: w.name, result: v.result, mode: v.mode, wouldDeny: v.wouldDeny, wasm: v.wasm, violations: v.violations }
}

export function renderAuditText(verdicts: Verdict[], all: boolean): string {
  const lines: string[] = []
  const shown = all ? verdicts : verdicts.filter((v) => v.result === 'fail')
  if (shown.length > 0) {
    const rows = shown.map((v) => [`${v.workload.kind.kind} ${v.workload.namespace}/${v.workload.name}`, v.result === 'fail' ? (v.wouldDeny ? 'DENIED' : `FLAGGED (${v.mode})`) : v.result.toUpperCase(), [...new Set(v.violations.map((x) => x.rule))].join(',') || '-'])
    const w0 = Math.max(8, ...rows.map((r) => r[0]!.length))
    const w1 = Math.max(7, ...rows.map((r) => r[1]!.length))
    lines.push(`${'WORKLOAD'.padEnd(w0)}  ${'VERDICT'.padEnd(w1)}  RULES`)
    for (const r of rows) lines.push(`${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`)
    const failing = shown.filter((v) => v.result === 'fail')
    if (failing.length > 0) lines.push('')
    for (const v of failing) {
      lines.push(`${v.workload.kind.kind} ${v.workload.namespace}/${v.workload.name}:`)
      for (const x of v.violations) lines.push(`  ${x.rule}: ${x.message}`)
    }
    lines.push('')
  }
  const count = (r: string) => verdicts.filter((v) => v.result === r).length
  lines.push(`${verdicts.length} workloads: ${count('pass')} pass, ${count('fail')} fail (${verdicts.filter((v) => v.wouldDeny).length} would be denied), ${count('skip')} skipped (mode off)`)
  return lines.join('\n') + '\n'
}

export async function runAudit(argv: string[], io: AuditIo): Promise<number> {
  const args = parseCommandArgs<{ kubeconfig?: string; policy?: string; namespace?: string; 'exclude-namespaces'?: string; 'plain-http'?: boolean; 'allow-host'?: string[]; all?: boolean }>('audit', AUDIT_USAGE, argv, io, {
    kubeconfig: { type: 'string' },
    policy: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    'exclude-namespaces': { type: 'string', default: 'kube-system,kube-public,kube-node-lease' },
    'plain-http': { type: 'boolean' },
    'allow-host': { type: 'string', multiple: true },
    all: { type: 'boolean', short: 'A' },
  })
  if (typeof args === 'number') return args
  const { values, output, timeoutS } = args
  const fail = (msg: string): number => {
    io.stderr(`wasm-admission audit: ${msg}\n`)
    return 2
  }

  let policy: Policy
  try {
    policy = values.policy ? parsePolicy(await readFile(values.policy, 'utf8'), values.policy) : defaultPolicy()
  } catch (e) {
    return fail((e as Error).message)
  }
  let cluster: ClusterFactsSource
  let workloads
  try {
    const { snapshot } = await loadClusterSnapshot({ kubeconfig: values.kubeconfig, policy, timeoutS, env: io.env })
    cluster = { snapshot: () => snapshot, readiness: () => ({ ready: true, detail: '' }) }
    const conn = connectionFromKubeConfig(loadKubeConfig(values.kubeconfig, io.env).kubeConfig)
    try {
      workloads = await listWorkloads(kubeApi(conn, timeoutS * 1000), { namespace: values.namespace })
    } finally {
      await conn.close()
    }
  } catch (e) {
    return fail(isWasmAdmissionError(e) ? `${e.message} (${e.code})` : `cannot read the cluster: ${(e as Error).message}`)
  }
  const excluded = new Set((values['exclude-namespaces'] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== ''))
  workloads = workloads.filter((w) => !excluded.has(w.namespace))

  const images = cliImageInspector({
    images: workloads.flatMap((w) => containersOf(w.template.spec).map((c) => c.image)),
    plainHttp: values['plain-http'] === true,
    allowHosts: values['allow-host'] ?? [],
    timeoutS,
  })
  try {
    const verdicts: Verdict[] = []
    for (const w of workloads) {
      const facts = await gatherStored(w, { images, cluster }, AbortSignal.timeout(timeoutS * 1000))
      verdicts.push(evaluate(w, facts, policy))
    }
    io.stdout(output === 'json' ? JSON.stringify(verdicts.map(verdictJson), null, 2) + '\n' : renderAuditText(verdicts, values.all === true))
    return verdicts.some((v) => v.wouldDeny) ? 1 : 0
  } finally {
    await images.close()
  }
}
