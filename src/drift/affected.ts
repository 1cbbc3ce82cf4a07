/**
 * Which stored workloads a cluster change can affect (pure). The rule is deliberately simple and
 * errs on the side of re-evaluating too much, never too little:
 *  - a RuntimeClass change: workloads whose template names it, and every Wasm workload (automatic
 *    RuntimeClass choice reads every class of the family);
 *  - a Node change: every Wasm workload and every workload with a runtimeClassName (eligibility and
 *    DaemonSet placement read every node);
 *  - a Namespace change (its mode label): the workloads of that namespace;
 *  - a full relist of one kind (name '*'): as a change of every object of that kind.
 * "Wasm workload" is one whose last verdict found a Wasm image, or that has not been evaluated yet.
 */
import type { StoredWorkload } from './stored-workload.js'

export interface ClusterChange {
  kind: 'Node' | 'RuntimeClass' | 'Namespace'
  /** The object's name, or '*' after a relist that changed something. */
  name: string
}

export interface AffectedInput {
  workload: Pick<StoredWorkload, 'key' | 'namespace' | 'template'>
  /** Whether its last evaluation found a Wasm image (undefined: not evaluated yet). */
  wasm: boolean | undefined
}

function runtimeClassOf(w: AffectedInput['workload']): string | undefined {
  const rc = w.template.spec['runtimeClassName']
  return typeof rc === 'string' && rc !== '' ? rc : undefined
}

export function isAffected(change: ClusterChange, w: AffectedInput): boolean {
  const wasmOrUnknown = w.wasm !== false
  switch (change.kind) {
    case 'RuntimeClass':
      return wasmOrUnknown || (runtimeClassOf(w.workload) !== undefined && (change.name === '*' || runtimeClassOf(w.workload) === change.name))
    case 'Node':
      return wasmOrUnknown || runtimeClassOf(w.workload) !== undefined
    case 'Namespace':
      return change.name === '*' || w.workload.namespace === change.name
  }
}

/** The keys of the workloads affected by any of the changes. */
export function affectedKeys(changes: readonly ClusterChange[], workloads: Iterable<AffectedInput>): string[] {
  const out: string[] = []
  for (const w of workloads) if (changes.some((c) => isAffected(c, w))) out.push(w.workload.key)
  return out
}
