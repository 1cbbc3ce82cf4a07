/** Plain-value facts for pure tests of decide(): no servers, no informers. */
import type { ClusterFacts, Eligibility, ImageFact, RuntimeClassInfo, RuntimeFamily, WasmPackaging } from '../../src/domain/facts.js'
import type { PodScheduling } from '../../src/domain/kube.js'

const PACKAGING: Record<RuntimeFamily, WasmPackaging> = { spin: 'spin-app', slight: 'slight-app', wasi: 'wasm-file', crun: 'crun-annotated' }

export function wasm(image: string, runtime: RuntimeFamily, extra: Partial<{ pinnedImage: string | null; hasEntrypoint: boolean; packaging: WasmPackaging }> = {}): ImageFact {
  return { kind: 'wasm', image, digest: 'sha256:' + 'a'.repeat(64), runtime, packaging: extra.packaging ?? PACKAGING[runtime], pinnedImage: extra.pinnedImage ?? null, hasEntrypoint: extra.hasEntrypoint ?? true, evidence: [`test: ${runtime}`] }
}
export function linux(image: string): ImageFact {
  return { kind: 'linux', image, digest: 'sha256:' + 'b'.repeat(64), evidence: ['test: linux/amd64'] }
}
export function unsupported(image: string): ImageFact {
  return { kind: 'unsupported', image, digest: 'sha256:' + 'c'.repeat(64), evidence: ['config application/vnd.wasmcloud.provider.archive.config'] }
}
export function unknown(image: string): ImageFact {
  return { kind: 'unknown', image, code: 'WA_ERR_IMAGE_UNREACHABLE', reason: 'registry example.com is unreachable: ECONNREFUSED', evidence: [] }
}
export function imagesOf(...facts: ImageFact[]): Map<string, ImageFact> {
  return new Map(facts.map((f) => [f.image, f]))
}

export interface PlainCluster {
  runtimeClasses: RuntimeClassInfo[]
  /** Eligible node count per RuntimeClass (default 0), out of `totalNodes`. */
  eligible?: Record<string, number>
  totalNodes?: number
  namespaces?: Record<string, Record<string, string>>
  /** Names of nodes a DaemonSet template would target that cannot run each RuntimeClass. */
  daemonSetMisses?: Record<string, string[]>
  /** Eligible nodes per RuntimeClass when the pod is bound to this node name (spec.nodeName). */
  boundTo?: Record<string, Record<string, boolean>>
  /** Eligible node count computed from the pod's scheduling (overrides `eligible` and `boundTo`). */
  eligibleFor?: (runtimeClass: string, pod: PodScheduling) => number
}

/** decide() must say which policy the eligibility is for (issue 12: no hidden input); the fake insists. */
function requirePolicy(policy: unknown): void {
  const p = policy as { trustRuntimeClassNodeSelector?: unknown } | undefined
  if (typeof p?.trustRuntimeClassNodeSelector !== 'boolean') throw new Error('eligibility/placement called without the policy')
}

export function cluster(c: PlainCluster): ClusterFacts {
  const total = c.totalNodes ?? 6
  return {
    known: true,
    runtimeClass: (n) => c.runtimeClasses.find((r) => r.name === n),
    runtimeClasses: () => c.runtimeClasses,
    namespaceLabels: (n) => c.namespaces?.[n] ?? {},
    placement: (name, pod, policy) => {
      requirePolicy(policy)
      const misses = c.daemonSetMisses?.[name] ?? []
      // With eligibleFor, the nodes a DaemonSet template targets are the ones it says the pod fits.
      const targeted = c.eligibleFor ? c.eligibleFor(name, pod) + misses.length : total
      return { targeted, ineligible: misses.length, ineligibleNames: misses }
    },
    eligibility: (name, pod, policy): Eligibility => {
      requirePolicy(policy)
      const rc = c.runtimeClasses.find((r) => r.name === name)
      const n = c.eligibleFor ? c.eligibleFor(name, pod) : pod.nodeName !== undefined ? (c.boundTo?.[name]?.[pod.nodeName] ? 1 : 0) : (c.eligible?.[name] ?? 0)
      return {
        runtimeClass: name,
        handler: rc?.handler ?? '',
        totalNodes: total,
        eligibleNodes: n,
        eligibleNodeNames: [],
        reasons: n === total ? [] : [{ reason: `lack the ${rc?.handler} shim`, count: total - n, code: 'noShim', key: '' }],
        message: `${n}/${total} nodes can run RuntimeClass ${name} (handler ${rc?.handler})${n === total ? '' : `: ${total - n} lack the ${rc?.handler} shim`}`,
      }
    },
  }
}

/** The seed tutorial's RuntimeClasses. */
export const SEED_RCS: RuntimeClassInfo[] = [
  { name: 'wasm1', handler: 'wasmtime', nodeSelector: { 'wasmtime-enabled': 'yes' }, tolerations: [] },
  { name: 'spin-test', handler: 'spin', nodeSelector: { spin: 'yes' }, tolerations: [] },
  { name: 'crun', handler: 'crun', nodeSelector: {}, tolerations: [] },
  { name: 'gvisor', handler: 'runsc', nodeSelector: {}, tolerations: [] },
]

/** Asserts that fn throws an error satisfying pred (tap's t.throws takes a class, not a predicate). */
export function throwsWith(t: import('tap').Test, fn: () => unknown, pred: (e: unknown) => boolean, msg: string): void {
  try {
    fn()
  } catch (e) {
    t.ok(pred(e), `${msg}: ${(e as Error)?.message}`)
    return
  }
  t.fail(`${msg}: did not throw`)
}
