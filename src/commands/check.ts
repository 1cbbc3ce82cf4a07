/**
 * `wasm-admission check -f FILE [--kubeconfig K | --cluster FILE] [--policy P] [--plain-http]
 *                       [--allow-host H]... [--output text|json]`
 *
 * Prints what the webhook would do with each Pod or workload in FILE: the same facts (images
 * inspected in their registries, cluster facts from a live cluster or a file), the same decide().
 * Pods go through the mutating step, then the validating step on the mutated pod, as in the
 * apiserver; workloads are validated as the pods they will create. Exit 0 when every document
 * would be allowed, 1 when any would be denied or could not be judged, 2 on usage errors.
 */
import { readFile } from 'node:fs/promises'
import { parseAllDocuments } from 'yaml'
import jsonpatch, { type Operation } from 'fast-json-patch'
import type { GroupVersionKind, KubeObject } from '../domain/kube.js'
import { containersOf, isPodKind, podSpecPath, podTemplateOf } from '../domain/workload.js'
import type { ClusterFactsSource } from '../domain/facts.js'
import { defaultPolicy } from '../policy/defaults.js'
import { parsePolicy } from '../policy/load.js'
import type { Mode, Policy } from '../domain/policy.js'
import { reviewTemplate } from '../pipeline.js'
import type { ImageInspector } from '../facts/images/inspector.js'
import { cliImageInspector } from './cli-images.js'
import { loadClusterSnapshot } from './cluster-snapshot.js'
import { parseCommandArgs } from './command-args.js'

export interface CheckIo {
  stdout(s: string): void
  stderr(s: string): void
  env: Record<string, string | undefined>
}

export interface CheckResult {
  kind: string
  namespace: string
  name: string
  allowed: boolean
  mode: Mode
  patch: Operation[]
  warnings: string[]
  reasons: string[]
}

export const CHECK_USAGE = `Usage: wasm-admission check -f FILE [options]

Shows what wasm-admission would do with each Pod or workload in FILE (YAML, several documents
or a List): the JSON patch it would apply and its verdict with reasons.

Options:
  -f, --filename FILE        the manifests to check (required)
      --kubeconfig FILE      a live cluster's Nodes, RuntimeClasses and Namespaces
      --cluster FILE         a YAML file of Nodes, RuntimeClasses and Namespaces instead
      --policy FILE          the policy (default: the built-in policy)
      --plain-http           talk plain HTTP to the registries of the images in FILE, and let
                             them past the private-address guard (for local registries)
      --allow-host HOST|CIDR let a private registry host past the guard (repeatable)
  -o, --output text|json     output format (default: text)
      --timeout SECONDS      registry and cluster sync timeout (default: 30)
  -h, --help                 show this help
`

function documentsOf(text: string): KubeObject[] {
  const out: KubeObject[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`)
    const v = doc.toJSON() as unknown
    if (v === null || v === undefined) continue
    if (typeof v !== 'object' || Array.isArray(v)) throw new Error('every document must be a Kubernetes object')
    const o = v as KubeObject
    if (typeof o['kind'] === 'string' && o['kind'].endsWith('List') && Array.isArray(o['items'])) out.push(...(o['items'] as KubeObject[]))
    else out.push(o)
  }
  return out
}

function gvkOf(o: KubeObject): GroupVersionKind {
  const apiVersion = String(o['apiVersion'] ?? 'v1')
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) as [string, string] : ['', apiVersion]
  return { group, version, kind: String(o['kind'] ?? '') }
}

/** Runs one document through the same steps as the apiserver would with the webhook installed. */
export async function checkObject(obj: KubeObject, deps: { images: ImageInspector; cluster: ClusterFactsSource; policy: Policy; timeoutMs: number }): Promise<CheckResult> {
  const kind = gvkOf(obj)
  const meta = (obj['metadata'] ?? {}) as Record<string, unknown>
  const namespace = typeof meta['namespace'] === 'string' && meta['namespace'] ? meta['namespace'] : 'default'
  const name = typeof meta['name'] === 'string' ? meta['name'] : typeof meta['generateName'] === 'string' ? `${meta['generateName']}*` : ''
  const base = { kind: kind.kind, namespace, name }
  const template = podTemplateOf(kind, obj)
  if (!podSpecPath(kind) || !template) {
    return { ...base, allowed: true, mode: deps.policy.defaultMode, patch: [], warnings: [`${kind.kind || 'object'} is not reviewed by wasm-admission`], reasons: [] }
  }
  const signal = AbortSignal.timeout(deps.timeoutMs)
  const subject = { operation: 'CREATE' as const, kind, namespace }
  let patch: Operation[] = []
  let object = obj
  if (isPodKind(kind)) {
    ;({ patch } = await reviewTemplate({ ...subject, endpoint: 'mutate', object: obj, template }, deps, deps.policy, signal))
    object = jsonpatch.applyPatch(structuredClone(obj), patch, false, false).newDocument as KubeObject
  }
  const finalTemplate = podTemplateOf(kind, object)!
  const { decision: v } = await reviewTemplate({ ...subject, endpoint: 'validate', object, template: finalTemplate }, deps, deps.policy, signal)
  return { ...base, allowed: v.allowed, mode: v.mode, patch, warnings: v.warnings, reasons: v.violations.map((x) => x.message) }
}

export function renderCheckText(results: CheckResult[]): string {
  const lines: string[] = []
  for (const r of results) {
    const verdict = r.allowed ? (r.reasons.length > 0 ? `ALLOWED (${r.mode} mode)` : 'ALLOWED') : 'DENIED'
    lines.push(`${r.kind} ${r.namespace}/${r.name || '(no name)'}: ${verdict}`)
    if (r.patch.length > 0) {
      lines.push('  patch:')
      for (const op of r.patch) {
        const sign = op.op === 'remove' ? '-' : op.op === 'add' ? '+' : '~'
        lines.push(`    ${sign} ${op.path}${'value' in op ? `: ${JSON.stringify(op.value)}` : ''}`)
      }
    } else lines.push('  patch: none')
    for (const reason of r.reasons) lines.push(`  reason: ${reason}`)
    for (const w of r.warnings) lines.push(`  warning: ${w}`)
    lines.push('')
  }
  return lines.join('\n')
}

export async function runCheck(argv: string[], io: CheckIo): Promise<number> {
  const args = parseCommandArgs<{ filename?: string; kubeconfig?: string; cluster?: string; policy?: string; 'plain-http'?: boolean; 'allow-host'?: string[] }>('check', CHECK_USAGE, argv, io, {
    filename: { type: 'string', short: 'f' },
    kubeconfig: { type: 'string' },
    cluster: { type: 'string' },
    policy: { type: 'string' },
    'plain-http': { type: 'boolean' },
    'allow-host': { type: 'string', multiple: true },
  })
  if (typeof args === 'number') return args
  const { values, output, timeoutS, usage } = args
  if (!values.filename) return usage('-f FILE is required')
  if (values.kubeconfig && values.cluster) return usage('--kubeconfig and --cluster are mutually exclusive')

  let docs: KubeObject[]
  let policy: Policy
  try {
    docs = documentsOf(await readFile(values.filename, 'utf8'))
    policy = values.policy ? parsePolicy(await readFile(values.policy, 'utf8'), values.policy) : defaultPolicy()
  } catch (e) {
    io.stderr(`wasm-admission check: ${(e as Error).message}\n`)
    return 1
  }
  let cluster: ClusterFactsSource
  try {
    const { snapshot } = await loadClusterSnapshot({ kubeconfig: values.kubeconfig, clusterFile: values.cluster, policy, timeoutS, env: io.env, onIgnored: () => {} })
    cluster = { snapshot: () => snapshot, readiness: () => ({ ready: true, detail: '' }) }
  } catch (e) {
    io.stderr(`wasm-admission check: cannot read cluster facts: ${(e as Error).message}\n`)
    return 1
  }
  // --plain-http names the registries of the images in FILE: they are reached over HTTP and allowed past the guard.
  const images = cliImageInspector({
    images: docs.flatMap((d) => {
      const t = podTemplateOf(gvkOf(d), d)
      return t ? containersOf(t.spec).map((c) => c.image) : []
    }),
    plainHttp: values['plain-http'] === true,
    allowHosts: values['allow-host'] ?? [],
    timeoutS,
  })
  try {
    const results: CheckResult[] = []
    for (const d of docs) results.push(await checkObject(d, { images, cluster, policy, timeoutMs: timeoutS * 1000 }))
    io.stdout(output === 'json' ? JSON.stringify(results, null, 2) + '\n' : renderCheckText(results))
    return results.every((r) => r.allowed) ? 0 : 1
  } finally {
    await images.close()
  }
}
