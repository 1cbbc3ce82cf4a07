/**
 * In-memory index of the cluster, updated on informer (or file) events.
 *
 * Per RuntimeClass it keeps the set of nodes passing the pod-independent checks (Ready, not
 * cordoned, shim, RuntimeClass nodeSelector) and the per-reason counts of the others, maintained
 * incrementally on node / RuntimeClass add, update and delete. An admission then runs only the
 * pod-specific checks (pod nodeSelector, required affinity, taints) over that candidate set.
 *
 * snapshot() returns an immutable view: the index is copy-on-write, so a view taken before a
 * mutation keeps seeing the old state (the structures a view references are never mutated; a
 * mutation after a snapshot clones only the maps it touches).
 */
import type { ClusterFacts, Eligibility, Placement, RuntimeClassInfo, ShimPolicy } from '../../domain/facts.js'
import type { PodScheduling } from '../../domain/kube.js'
import type { Policy } from '../../domain/policy.js'
import { sameNodeSummary, sameStringMap, type NodeSummary } from './node-summary.js'
import { sameRuntimeClass } from './runtime-class-summary.js'
import { shimPolicyKey, shimPolicyOf } from './shim-detection.js'
import {
  checkNode,
  checkNodePod,
  checkNodeStatic,
  computeEligibility,
  daemonSetTargets,
  effectiveTolerations,
  EligibilityTally,
  missingRuntimeClassEligibility,
  type NodeCheck,
  type NodeFailure,
} from './eligibility.js'

interface FailureCount {
  failure: NodeFailure
  count: number
}

interface RcState {
  info: RuntimeClassInfo
  /** Nodes passing the pod-independent checks. */
  candidates: Map<string, NodeSummary>
  /** (code, key) -> count of nodes failing a pod-independent check. */
  counts: Map<string, FailureCount>
}

interface State {
  nodes: Map<string, NodeSummary>
  rcs: Map<string, RcState>
  namespaces: Map<string, Record<string, string>>
  shimPolicy: ShimPolicy
  /** shimPolicyKey(shimPolicy): the policy the candidates were computed under. */
  shimPolicyKey: string
  known: boolean
}

export interface ReplaceResult {
  added: number
  updated: number
  deleted: number
}

/**
 * Makes a keyed set equal to `items` (after a list / relist): upserts every item, deletes the keys
 * not listed, and counts what changed.
 */
function replaceAll<T extends { name: string }>(items: Iterable<T>, keys: Iterable<string>, upsert: (item: T) => boolean, remove: (name: string) => boolean): ReplaceResult {
  const res: ReplaceResult = { added: 0, updated: 0, deleted: 0 }
  const existing = new Set(keys)
  const seen = new Set<string>()
  for (const item of items) {
    seen.add(item.name)
    if (upsert(item)) existing.has(item.name) ? res.updated++ : res.added++
  }
  for (const name of existing) if (!seen.has(name) && remove(name)) res.deleted++
  return res
}

/** Remembered eligibility answers per snapshot, at most. */
const MEMO_LIMIT = 1024

function failureKey(f: NodeFailure): string {
  return `${f.code}\u0000${f.key}`
}

/** The read-only view decide() uses. Every method is a pure read of memory. */
export class IndexSnapshot implements ClusterFacts {
  /**
   * Answers remembered for as long as this snapshot lives: a snapshot never changes (the index hands
   * out a new one after a change), and reviews repeat (the pods of one workload ask the same
   * questions; the automatic choice asks for every RuntimeClass of a family). Without this a review
   * walks every candidate node of each class, O(nodes) at 5,000 nodes (docs/benchmarks.md).
   */
  private readonly answers = new Map<string, Eligibility>()
  private sortedRcs: RuntimeClassInfo[] | undefined
  /** The scheduling object decide() passes for several classes: serialised once. */
  private readonly schedulingKeys = new WeakMap<PodScheduling, string>()

  /** A snapshot never changes (see the class comment). */
  readonly immutable = true

  constructor(private readonly s: State) {}

  get known(): boolean {
    return this.s.known
  }

  runtimeClass(name: string): RuntimeClassInfo | undefined {
    return this.s.rcs.get(name)?.info
  }

  runtimeClasses(): RuntimeClassInfo[] {
    this.sortedRcs ??= [...this.s.rcs.values()].map((r) => r.info).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    return this.sortedRcs
  }

  namespaceLabels(name: string): Record<string, string> | undefined {
    return this.s.namespaces.get(name)
  }

  namespaces(): string[] {
    return [...this.s.namespaces.keys()].sort()
  }

  nodeCount(): number {
    return this.s.nodes.size
  }

  /** All node summaries, sorted by name (for the `nodes` CLI; O(N)). */
  nodes(): NodeSummary[] {
    return [...this.s.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  }

  /**
   * Eligibility under the caller's policy. The candidates were precomputed under the index's policy;
   * when the caller's differs (a policy reload racing a review, a check with another policy file) the
   * answer is computed by scanning every node under the caller's policy instead. ClusterFacts requires
   * the policy (decide() passes its own); here it defaults to the index's, for tools and tests.
   */
  eligibility(runtimeClassName: string, pod: PodScheduling, policy: ShimPolicy = this.s.shimPolicy): Eligibility {
    let key = this.schedulingKeys.get(pod)
    if (key === undefined) {
      key = JSON.stringify(pod)
      this.schedulingKeys.set(pod, key)
    }
    const policyKey = shimPolicyKey(policy)
    const own = policyKey === this.s.shimPolicyKey
    key = `${runtimeClassName}\u0000${key}${own ? '' : `\u0000${policyKey}`}`
    let e = this.answers.get(key)
    if (e === undefined) {
      const rs = this.s.rcs.get(runtimeClassName)
      e = own || !rs ? this.computeEligibility(runtimeClassName, pod) : computeEligibility(this.s.nodes.values(), rs.info, pod, shimPolicyOf(policy))
      if (this.answers.size >= MEMO_LIMIT) this.answers.clear()
      this.answers.set(key, e)
    }
    return e
  }

  private computeEligibility(runtimeClassName: string, pod: PodScheduling): Eligibility {
    const rs = this.s.rcs.get(runtimeClassName)
    if (!rs) return missingRuntimeClassEligibility(runtimeClassName, this.s.nodes.size)
    const tally = new EligibilityTally(rs.info)
    for (const { failure, count } of rs.counts.values()) tally.addFailure(failure, count)
    const tolerations = effectiveTolerations(rs.info, pod)
    for (const node of rs.candidates.values()) {
      const f = checkNodePod(node, pod, tolerations)
      if (f) tally.addFailure(f)
      else tally.addEligible(node.name)
    }
    return tally.result(this.s.nodes.size)
  }

  /**
   * The nodes the DaemonSet controller gives a pod from this template (daemonSetTargets: the template's
   * own selector, affinity and tolerations plus the DaemonSet tolerations; never the RuntimeClass), and
   * those of them where that pod cannot run: no shim, or not matching the RuntimeClass nodeSelector the
   * RuntimeClass admission plugin merges into it. Cordoned and NotReady nodes are no misses: the
   * DaemonSet tolerations cover node.kubernetes.io/unschedulable, and Ready is not a filter.
   */
  placement(runtimeClassName: string, pod: PodScheduling, policy: ShimPolicy = this.s.shimPolicy): Placement {
    const rs = this.s.rcs.get(runtimeClassName)
    const out: Placement = { targeted: 0, ineligible: 0, ineligibleNames: [] }
    if (!rs) return out
    const sp = shimPolicyOf(policy)
    for (const node of this.s.nodes.values()) {
      if (!daemonSetTargets(node, pod)) continue
      out.targeted++
      if (checkNodeStatic(node, rs.info, sp).failure) {
        out.ineligible++
        out.ineligibleNames.push(node.name)
      }
    }
    out.ineligibleNames = out.ineligibleNames.sort().slice(0, 10)
    return out
  }

  /** Per-node verdicts for one RuntimeClass (for the `nodes` CLI; O(N)). */
  checkNodes(runtimeClassName: string, pod: PodScheduling, policy: ShimPolicy = this.s.shimPolicy): NodeCheck[] | undefined {
    const rs = this.s.rcs.get(runtimeClassName)
    if (!rs) return undefined
    const sp = shimPolicyOf(policy)
    return this.nodes().map((n) => checkNode(n, rs.info, pod, sp))
  }
}

export class ClusterIndex {
  private state: State
  private readonly frozen = new WeakSet<object>()
  private view: IndexSnapshot | undefined
  private lastPolicy: Policy | undefined
  private lastPolicyKey = ''

  constructor(private readonly policy: () => Policy) {
    const p = policy()
    this.lastPolicy = p
    const sp = shimPolicyOf(p)
    this.lastPolicyKey = shimPolicyKey(sp)
    this.state = { nodes: new Map(), rcs: new Map(), namespaces: new Map(), shimPolicy: sp, shimPolicyKey: this.lastPolicyKey, known: false }
  }

  // ------------------------------------------------------------ reads

  snapshot(): IndexSnapshot {
    this.syncPolicy()
    if (this.view) return this.view
    const s = this.state
    this.frozen.add(s)
    this.frozen.add(s.nodes)
    this.frozen.add(s.rcs)
    this.frozen.add(s.namespaces)
    for (const r of s.rcs.values()) {
      this.frozen.add(r)
      this.frozen.add(r.candidates)
      this.frozen.add(r.counts)
    }
    this.view = new IndexSnapshot(s)
    return this.view
  }

  get nodeCount(): number {
    return this.state.nodes.size
  }

  get runtimeClassCount(): number {
    return this.state.rcs.size
  }

  get namespaceCount(): number {
    return this.state.namespaces.size
  }

  /** Set once every informer has synced at least once (the placeholder state is `known: false`). */
  setKnown(known: boolean): void {
    if (this.state.known === known) return
    this.w().known = known
  }

  // ------------------------------------------------------------ copy-on-write helpers

  /** Writable state object (cloned if a snapshot references it). */
  private w(): State {
    this.view = undefined
    if (this.frozen.has(this.state)) this.state = { ...this.state }
    return this.state
  }

  private wNodes(): Map<string, NodeSummary> {
    const s = this.w()
    if (this.frozen.has(s.nodes)) s.nodes = new Map(s.nodes)
    return s.nodes
  }

  private wNamespaces(): Map<string, Record<string, string>> {
    const s = this.w()
    if (this.frozen.has(s.namespaces)) s.namespaces = new Map(s.namespaces)
    return s.namespaces
  }

  private wRcs(): Map<string, RcState> {
    const s = this.w()
    if (this.frozen.has(s.rcs)) s.rcs = new Map(s.rcs)
    return s.rcs
  }

  private wRc(name: string): RcState | undefined {
    const cur = this.state.rcs.get(name)
    if (!cur) return undefined
    if (!this.frozen.has(cur) && !this.frozen.has(cur.candidates) && !this.frozen.has(cur.counts)) {
      this.w()
      return cur
    }
    const copy: RcState = {
      info: cur.info,
      candidates: this.frozen.has(cur.candidates) ? new Map(cur.candidates) : cur.candidates,
      counts: this.frozen.has(cur.counts) ? new Map([...cur.counts].map(([k, v]) => [k, { ...v }])) : cur.counts,
    }
    this.wRcs().set(name, copy)
    return copy
  }

  // ------------------------------------------------------------ policy

  /** Rebuilds every RuntimeClass state when the shim-relevant policy changed (policy reload). */
  private syncPolicy(): void {
    const p = this.policy()
    if (p === this.lastPolicy) return
    this.lastPolicy = p
    const sp = shimPolicyOf(p)
    const key = shimPolicyKey(sp)
    if (key === this.lastPolicyKey) return
    this.lastPolicyKey = key
    const w = this.w()
    w.shimPolicy = sp
    w.shimPolicyKey = key
    const rcs = this.wRcs()
    for (const [name, r] of rcs) rcs.set(name, this.buildRc(r.info))
  }

  private buildRc(info: RuntimeClassInfo): RcState {
    const rs: RcState = { info, candidates: new Map(), counts: new Map() }
    for (const n of this.state.nodes.values()) this.apply(rs, n, +1)
    return rs
  }

  /** Adds (+1) or removes (-1) one node's contribution to a RuntimeClass state. */
  private apply(rs: RcState, node: NodeSummary, sign: 1 | -1): void {
    const { failure } = checkNodeStatic(node, rs.info, this.state.shimPolicy)
    if (!failure) {
      if (sign > 0) rs.candidates.set(node.name, node)
      else rs.candidates.delete(node.name)
      return
    }
    const k = failureKey(failure)
    const cur = rs.counts.get(k)
    if (sign > 0) {
      if (cur) cur.count++
      else rs.counts.set(k, { failure, count: 1 })
    } else if (cur) {
      cur.count--
      if (cur.count <= 0) rs.counts.delete(k)
    }
  }

  // ------------------------------------------------------------ nodes

  /** Returns false when nothing decision-relevant changed (e.g. a heartbeat-only update). */
  upsertNode(node: NodeSummary): boolean {
    this.syncPolicy()
    const old = this.state.nodes.get(node.name)
    if (old && sameNodeSummary(old, node)) return false
    this.wNodes().set(node.name, node)
    for (const name of [...this.state.rcs.keys()]) {
      const rs = this.wRc(name)!
      if (old) this.apply(rs, old, -1)
      this.apply(rs, node, +1)
    }
    return true
  }

  deleteNode(name: string): boolean {
    this.syncPolicy()
    const old = this.state.nodes.get(name)
    if (!old) return false
    this.wNodes().delete(name)
    for (const rcName of [...this.state.rcs.keys()]) this.apply(this.wRc(rcName)!, old, -1)
    return true
  }

  /** Makes the node set equal to `nodes` (after a list / relist). */
  replaceNodes(nodes: Iterable<NodeSummary>): ReplaceResult {
    return replaceAll(nodes, this.state.nodes.keys(), (n) => this.upsertNode(n), (name) => this.deleteNode(name))
  }

  // ------------------------------------------------------------ runtime classes

  upsertRuntimeClass(info: RuntimeClassInfo): boolean {
    this.syncPolicy()
    const old = this.state.rcs.get(info.name)
    if (old && sameRuntimeClass(old.info, info)) return false
    this.wRcs().set(info.name, this.buildRc(info))
    return true
  }

  deleteRuntimeClass(name: string): boolean {
    this.syncPolicy()
    if (!this.state.rcs.has(name)) return false
    this.wRcs().delete(name)
    return true
  }

  replaceRuntimeClasses(rcs: Iterable<RuntimeClassInfo>): ReplaceResult {
    return replaceAll(rcs, this.state.rcs.keys(), (rc) => this.upsertRuntimeClass(rc), (name) => this.deleteRuntimeClass(name))
  }

  // ------------------------------------------------------------ namespaces

  upsertNamespace(name: string, labels: Record<string, string>): boolean {
    const old = this.state.namespaces.get(name)
    if (old && sameStringMap(old, labels)) return false
    this.wNamespaces().set(name, labels)
    return true
  }

  deleteNamespace(name: string): boolean {
    if (!this.state.namespaces.has(name)) return false
    this.wNamespaces().delete(name)
    return true
  }

  replaceNamespaces(namespaces: Iterable<{ name: string; labels: Record<string, string> }>): ReplaceResult {
    return replaceAll(namespaces, this.state.namespaces.keys(), (ns) => this.upsertNamespace(ns.name, ns.labels), (name) => this.deleteNamespace(name))
  }
}
