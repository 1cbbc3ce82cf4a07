/**
 * evaluate(workload, facts, policy): the drift verdict of one stored workload, through the same
 * decide() as admission in validation-only form (src/pipeline.ts judgeStored: the stored workload
 * is judged as the CREATE of its template; no mutation is produced). Pure.
 */
import type { Facts } from '../domain/facts.js'
import type { Mode, Policy } from '../domain/policy.js'
import { containersOf } from '../domain/workload.js'
import { judgeStored, type Violation } from '../pipeline.js'
import type { StoredWorkload } from './stored-workload.js'

/** PolicyReport result values (wgpolicyk8s.io/v1alpha2): fail = a rule is violated, skip = the namespace's mode is off. */
export type ResultValue = 'pass' | 'fail' | 'skip'

export interface Verdict {
  key: string
  workload: Pick<StoredWorkload, 'kind' | 'namespace' | 'name' | 'uid'>
  mode: Mode
  result: ResultValue
  /** True when admission would deny this workload today (mode enforce and a violation). */
  wouldDeny: boolean
  violations: Violation[]
  /** Whether any image of the template is Wasm (decides which cluster changes re-evaluate it: affected.ts). */
  wasm: boolean
}

export function evaluate(w: StoredWorkload, facts: Facts, policy: Policy): Verdict {
  const d = judgeStored({ kind: w.kind, namespace: w.namespace, template: w.template }, facts, policy)
  const result: ResultValue = d.outcome === 'skipped' ? 'skip' : d.violations.length > 0 ? 'fail' : 'pass'
  return {
    key: w.key,
    workload: { kind: w.kind, namespace: w.namespace, name: w.name, uid: w.uid },
    mode: d.mode,
    result,
    wouldDeny: d.outcome === 'denied',
    violations: d.violations,
    wasm: containersOf(w.template.spec).some((c) => {
      const kind = facts.images.get(c.image)?.kind
      return kind === 'wasm' || kind === 'unsupported'
    }),
  }
}

/**
 * What an Event announces about a verdict: its result and the set of rules violated. Equal
 * fingerprints mean nothing new to announce: a message that only changes its counts (a second node
 * losing the shim) updates the report, not the Events.
 */
export function verdictFingerprint(v: { result: Verdict['result']; violations: ReadonlyArray<{ rule: string }> }): string {
  return JSON.stringify([v.result, [...new Set(v.violations.map((x) => x.rule))].sort()])
}
