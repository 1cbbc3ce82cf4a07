// Correctness side by side: the same pods, dry-run created through the real kube-apiserver with one
// backend registered at a time (wasm-admission, Kyverno's policy, ...), and what each backend did
// with them: which RuntimeClass it set (and so which runtime family the pod lands on), which pods it
// denied, with the message. Every sample image of test/harness/sample-images.ts (every packaging
// style) plus the denial cases of docs/comparison.md. A row's expectation is wasm-admission's
// documented verdict for the sample (its `expected` field), not its output here.
import type { Kube } from '../lib/kube.js'
import type { PodCreateBackend } from '../lib/pod-create.js'
import { waitFor } from '../lib/proc.js'
import type { SampleImage, SampleName } from '../../test/harness/sample-images.js'

export interface Case {
  name: string
  /** What should happen: the runtime family the pod must land on (null: no RuntimeClass), or a denial. */
  expect: { family: string | null } | { denied: true }
  why: string
  pod: Record<string, unknown>
}

export interface Outcome {
  status: number
  runtimeClassName: string | null
  family: string | null
  /** The RuntimeClass's scheduling nodeSelector made it into the pod (placement on shim nodes). */
  nodeSelectorMerged: boolean | null
  annotations: Record<string, string>
  message: string | null
  right: boolean
}

/** Runtime family of each handler of the bench's RuntimeClasses (bench/lib/kube.ts HANDLERS). */
export const FAMILY_OF_HANDLER: Record<string, string> = { spin: 'spin', wasmtime: 'wasi', wasmedge: 'wasi', slight: 'slight', crun: 'crun' }

export function podOf(name: string, image: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image }], ...spec } }
}

/** One case per sample image; the expectation is the sample's documented kind and runtime. */
export function sampleCases(samples: Record<SampleName, SampleImage>): Case[] {
  return Object.values(samples).map((s) => ({
    name: s.name,
    expect: s.expected.kind === 'unsupported' ? { denied: true as const } : { family: s.expected.kind === 'wasm' ? s.expected.runtime : null },
    why: `${s.expected.format.replace(/^application\//, '')}: ${s.expected.kind}${s.expected.runtime ? ` (${s.expected.runtime})` : ''}`,
    pod: podOf(`s-${s.name}`, s.ref),
  }))
}

/**
 * The denial cases: a Wasm pod pinned (nodeSelector) to a node without any Wasm shim; a Linux image
 * asking for a Wasm RuntimeClass; (unsupported artifacts are sample cases).
 */
export function denialCases(samples: Record<SampleName, SampleImage>, o: { shimlessNode: string; wasmClass: string }): Case[] {
  return [
    {
      name: 'wasm-on-shimless-node',
      expect: { denied: true },
      why: `Spin image, nodeSelector kubernetes.io/hostname=${o.shimlessNode} (a node without Wasm shims)`,
      pod: podOf('d-shimless', samples['spin-v2'].ref, { nodeSelector: { 'kubernetes.io/hostname': o.shimlessNode } }),
    },
    {
      name: 'linux-under-wasm-class',
      expect: { denied: true },
      why: `Linux image with runtimeClassName ${o.wasmClass}`,
      pod: podOf('d-linux-wasm', samples.linux.ref, { runtimeClassName: o.wasmClass }),
    },
  ]
}

/** Dry-run creates every case with each backend registered alone; returns outcome[backend][case]. */
export async function sideBySide(o: {
  kube: Kube
  namespace: string
  backends: PodCreateBackend[]
  cases: Case[]
  /** RuntimeClass name -> { handler, nodeSelector } of the cluster. */
  classes: Record<string, { handler: string; nodeSelector: Record<string, string> }>
  log: (s: string) => void
}): Promise<Record<string, Record<string, Outcome>>> {
  const out: Record<string, Record<string, Outcome>> = {}
  for (const b of o.backends) {
    await b.install()
    await waitFor(`${b.name} active`, () => b.active(), 120_000, 50)
    const rows: Record<string, Outcome> = {}
    for (const c of o.cases) {
      const a = await o.kube.req('POST', `/api/v1/namespaces/${o.namespace}/pods?dryRun=All`, c.pod)
      const spec = a.body?.spec ?? {}
      const rc: string | null = a.status === 201 ? (spec.runtimeClassName ?? null) : null
      const cls = rc ? o.classes[rc] : undefined
      const family = cls ? (FAMILY_OF_HANDLER[cls.handler] ?? cls.handler) : null
      const merged = cls ? Object.entries(cls.nodeSelector).every(([k, v]) => spec.nodeSelector?.[k] === v) : null
      const denied = a.status !== 201
      // crun runs Wasm only with its pod annotation (src/domain/handler-table.ts): without it, a Linux container
      const crunOk = family !== 'crun' || a.body?.metadata?.annotations?.['module.wasm.image/variant'] !== undefined
      const right = 'denied' in c.expect ? denied : !denied && family === c.expect.family && crunOk
      rows[c.name] = {
        status: a.status,
        runtimeClassName: rc,
        family,
        nodeSelectorMerged: merged,
        annotations: a.status === 201 ? (a.body?.metadata?.annotations ?? {}) : {},
        message: denied ? String(a.body?.message ?? a.body).slice(0, 400) : null,
        right,
      }
    }
    await b.uninstall()
    await waitFor(`${b.name} inactive`, async () => (b.inactive ? b.inactive() : !(await b.active())), 120_000, 50)
    const n = Object.values(rows).filter((r) => r.right).length
    o.log(`  ${b.name}: ${n}/${o.cases.length} cases right`)
    out[b.name] = rows
  }
  return out
}

/** A table: one row per case, one column per backend ("spin", "-", "DENIED", with a mark when wrong). */
export function sideBySideTable(cases: Case[], outcomes: Record<string, Record<string, Outcome>>): string {
  const names = Object.keys(outcomes)
  const cell = (r: Outcome | undefined): string => {
    if (!r) return '?'
    const crunNote = r.family === 'crun' && r.annotations['module.wasm.image/variant'] === undefined ? ' (no crun annotation)' : ''
    const what = r.status !== 201 ? 'denied' : r.family ? `${r.family}${r.nodeSelectorMerged === false ? ' (no nodeSelector)' : ''}${crunNote}` : 'no class'
    return `${r.right ? 'ok' : 'WRONG'} ${what}`
  }
  const lines = [`| case | expected | ${names.join(' | ')} |`, `|---|---|${names.map(() => '---').join('|')}|`]
  for (const c of cases) {
    const exp = 'denied' in c.expect ? 'denied' : (c.expect.family ?? 'no class')
    lines.push(`| ${c.name} | ${exp} | ${names.map((n) => cell(outcomes[n]?.[c.name])).join(' | ')} |`)
  }
  lines.push(`| **right** | | ${names.map((n) => `${Object.values(outcomes[n] ?? {}).filter((r) => r.right).length}/${cases.length}`).join(' | ')} |`)
  return lines.join('\n') + '\n'
}
