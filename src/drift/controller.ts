/**
 * The drift controller: keeps the stored workloads (trimmed, stored-workload.ts) by list+watch loops
 * (the project's Reflector, facts/cluster/reflector.ts), evaluates them through the same decide() as
 * admission (evaluate.ts), and re-evaluates the affected ones when a Node, RuntimeClass or Namespace
 * changes (affected.ts), debounced. Every replica evaluates (so a new leader has its verdicts at
 * once); only the Lease holder publishes (publisher.ts) and exports the at-risk gauge.
 *
 * Nothing is evaluated before every workload kind has been listed once and the cluster facts are
 * known: a report built from half a list, or from no cluster facts, would be wrong.
 */
import type { Logger } from 'pino'
import type { ClusterFactsSource, ImageFactsSource } from '../domain/facts.js'
import type { Policy } from '../domain/policy.js'
import type { KubeConnection } from '../facts/cluster/kubeconfig.js'
import type { ClusterChangeEvent } from '../facts/cluster/informers.js'
import { Reflector, type ReflectorEnv } from '../facts/cluster/reflector.js'
import type { ReplaceResult } from '../facts/cluster/cluster-index.js'
import { gatherStored } from '../pipeline.js'
import type { DriftMetrics } from '../metrics/drift-metrics.js'
import { affectedKeys, type ClusterChange } from './affected.js'
import { evaluate, type Verdict } from './evaluate.js'
import type { Publisher } from './publisher.js'
import { debounceDelay } from './debounce.js'
import { forEachTimeSliced } from './time-sliced.js'
import { WORKLOAD_KINDS, summarizeWorkload, workloadKey, type StoredWorkload, type WorkloadKind } from './stored-workload.js'

export interface DriftControllerOptions {
  connection: KubeConnection
  images: ImageFactsSource
  cluster: ClusterFactsSource & { onChange?(fn: (c: ClusterChangeEvent) => void): () => void }
  policy: () => Policy
  publisher: Publisher
  logger?: Logger
  metrics?: DriftMetrics
  /** Namespaces never evaluated (the webhook's namespaceSelector excludes them too). */
  excludeNamespaces?: readonly string[]
  /** Quiet time after the last change before evaluating. Default 1 s. */
  debounceMs?: number
  /** Longest a change waits for its round while changes keep coming. Default 10 x debounceMs, at least 5 s. */
  maxWaitMs?: number
  /** Full re-evaluation period (image tags pushed again, policy reloads). Default 10 min. */
  resyncIntervalMs?: number
  /** Concurrent evaluations (image lookups go through the image cache). Default 8. */
  concurrency?: number
  /** Longest run of evaluations before admission gets the event loop back, ms. Default 5. */
  sliceMs?: number
  /** Budget of one evaluation's image lookups. Default 30 s. */
  imageTimeoutMs?: number
  /** List page size. Default 500. */
  pageSize?: number
  now?: () => number
}

type Rec = Record<string, unknown>
const meta = (o: unknown): Rec => ((o as { metadata?: Rec })?.metadata ?? {}) as Rec
/** What decides whether a stored workload changed (its uid and trimmed template). */
const signature = (w: StoredWorkload): string => JSON.stringify([w.uid, w.template.spec, w.template.metadata])

export class DriftController {
  private readonly workloads = new Map<string, StoredWorkload>()
  private readonly verdicts = new Map<string, Verdict>()
  private readonly dirty = new Set<string>()
  private readonly dirtyNamespaces = new Set<string>()
  private readonly changes: ClusterChange[] = []
  private readonly reflectors: Reflector[]
  private readonly exclude: Set<string>
  private readonly debounceMs: number
  private timer: NodeJS.Timeout | undefined
  /** When the first change the pending timer waits for arrived (performance.now()). */
  private waitingSince = 0
  private readonly maxWaitMs: number
  private resync: NodeJS.Timeout | undefined
  private policyCheck: NodeJS.Timeout | undefined
  private lastPolicy: Policy | undefined
  private unsubscribe: (() => void) | undefined
  private running = false
  private flushing: Promise<void> | undefined
  private leading = false
  /** Flushes completed (tests and the bench wait on it). */
  flushes = 0
  /** Evaluations run. */
  evaluations = 0

  constructor(private readonly o: DriftControllerOptions) {
    this.exclude = new Set(o.excludeNamespaces ?? [])
    this.debounceMs = o.debounceMs ?? 1000
    this.maxWaitMs = o.maxWaitMs ?? Math.max(10 * this.debounceMs, 5000)
    const env: ReflectorEnv = {
      conn: o.connection,
      now: o.now ?? Date.now,
      pageSize: o.pageSize ?? 500,
      listTimeoutMs: 60_000,
      inactivityMs: 90_000,
      watchTimeoutSeconds: 300,
      backoffBaseMs: 1000,
      backoffMaxMs: 30_000,
      metrics: undefined,
      logger: o.logger,
      onSynced: () => this.schedule(),
    }
    this.reflectors = WORKLOAD_KINDS.map(
      (kind) =>
        new Reflector(
          {
            kind: kind.resource,
            path: kind.path,
            summarize: (obj) => summarizeWorkload(kind, obj),
            replace: (items: StoredWorkload[]) => this.replaceKind(kind, items),
            upsert: (w: StoredWorkload) => this.upsert(w),
            remove: (obj) => this.remove(workloadKey(kind.gvk.kind, String(meta(obj)['namespace'] ?? ''), String(meta(obj)['name'] ?? ''))),
          },
          env,
        ),
    )
  }

  // ------------------------------------------------------------------ lifecycle

  start(): void {
    if (this.running) return
    this.running = true
    this.unsubscribe = this.o.cluster.onChange?.((c) => {
      this.changes.push(c)
      this.schedule()
    })
    for (const r of this.reflectors) r.start()
    this.resync = setInterval(() => this.resyncAll(), this.o.resyncIntervalMs ?? 10 * 60_000)
    this.resync.unref()
    // A reloaded policy (a new object from the policy store) can change every verdict.
    this.lastPolicy = this.o.policy()
    this.policyCheck = setInterval(() => {
      const p = this.o.policy()
      if (p === this.lastPolicy) return
      this.lastPolicy = p
      this.resyncAll()
    }, 2000)
    this.policyCheck.unref()
  }

  async stop(): Promise<void> {
    this.running = false
    this.unsubscribe?.()
    clearTimeout(this.timer)
    clearInterval(this.resync)
    clearInterval(this.policyCheck)
    for (const r of this.reflectors) r.stop()
    await this.flushing
  }

  /** The Lease elector's callbacks: a new leader seeds its memory from the cluster and publishes every namespace. */
  setLeading(v: boolean): void {
    this.leading = v
    this.o.metrics?.leader.set(v ? 1 : 0)
    if (v) {
      this.o.publisher.reset()
      for (const w of this.workloads.values()) this.dirtyNamespaces.add(w.namespace)
      this.schedule(0)
    } else {
      this.o.publisher.reset()
      this.o.metrics?.atRisk.reset()
    }
  }

  get isLeading(): boolean {
    return this.leading
  }

  /** True once every kind is listed and the cluster facts are known. */
  synced(): boolean {
    return this.reflectors.every((r) => r.synced) && this.o.cluster.snapshot().known
  }

  /** Current verdicts (tests, audit). */
  verdictList(): Verdict[] {
    return [...this.verdicts.values()]
  }

  /** Resolves once a flush has completed with nothing left to do. */
  async idle(): Promise<void> {
    while (this.flushing || this.timer || this.dirty.size > 0 || this.changes.length > 0) {
      if (this.flushing) await this.flushing
      else await new Promise((r) => setTimeout(r, 20))
    }
  }

  // ------------------------------------------------------------------ the store

  private upsert(w: StoredWorkload): void {
    const old = this.workloads.get(w.key)
    if (old && signature(old) === signature(w)) return
    this.workloads.set(w.key, w)
    this.dirty.add(w.key)
    this.schedule()
  }

  private remove(key: string): void {
    const w = this.workloads.get(key)
    if (!w) return
    this.workloads.delete(key)
    this.verdicts.delete(key)
    this.dirty.delete(key)
    this.dirtyNamespaces.add(w.namespace)
    this.o.publisher.forget(key)
    this.schedule()
  }

  private replaceKind(kind: WorkloadKind, items: StoredWorkload[]): ReplaceResult {
    const res: ReplaceResult = { added: 0, updated: 0, deleted: 0 }
    const keep = new Set(items.map((w) => w.key))
    for (const [key, w] of this.workloads) {
      if (w.kind.kind === kind.gvk.kind && !keep.has(key)) {
        this.remove(key)
        res.deleted++
      }
    }
    for (const w of items) {
      const old = this.workloads.get(w.key)
      if (!old) res.added++
      else if (signature(old) !== signature(w)) res.updated++
      this.upsert(w)
    }
    this.o.metrics?.workloads.set({ kind: kind.gvk.kind }, [...this.workloads.values()].filter((w) => w.kind.kind === kind.gvk.kind).length)
    return res
  }

  private resyncAll(): void {
    for (const key of this.workloads.keys()) this.dirty.add(key)
    for (const w of this.workloads.values()) this.dirtyNamespaces.add(w.namespace)
    this.schedule()
  }

  // ------------------------------------------------------------------ evaluation

  private schedule(delayMs = this.debounceMs): void {
    if (!this.running) return
    const now = performance.now()
    // Debounced, but a steady trickle of changes cannot postpone the round past maxWait (debounce.ts).
    const delay = debounceDelay({ now, waitingSince: this.timer ? this.waitingSince : undefined, quietMs: delayMs, maxWaitMs: this.maxWaitMs })
    if (!this.timer) this.waitingSince = now
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, delay)
    this.timer.unref?.()
  }

  private flush(): Promise<void> {
    if (this.flushing) {
      // One flush at a time; what arrived meanwhile is taken by the next.
      void this.flushing.then(() => this.schedule())
      return this.flushing
    }
    this.flushing = this.runFlush()
      .catch((e: unknown) => this.o.logger?.error({ err: (e as Error).message }, 'drift: evaluation failed'))
      .finally(() => {
        this.flushing = undefined
        this.flushes++
      })
    return this.flushing
  }

  private async runFlush(): Promise<void> {
    if (!this.synced()) {
      // Not every kind listed yet, or no cluster facts: look again after the debounce.
      this.schedule()
      return
    }
    const changes = this.changes.splice(0)
    if (changes.length > 0) {
      const inputs = [...this.workloads.values()].map((w) => ({ workload: w, wasm: this.verdicts.get(w.key)?.wasm }))
      for (const k of affectedKeys(changes, inputs)) this.dirty.add(k)
    }
    const keys = [...this.dirty]
    this.dirty.clear()
    const policy = this.o.policy()
    const sources = { images: this.o.images, cluster: this.o.cluster }
    // Time-sliced: admission shares this event loop (time-sliced.ts).
    await forEachTimeSliced(keys, async (key) => {
      const w = this.workloads.get(key)
      if (!w) return
      if (this.exclude.has(w.namespace)) return
      const facts = await gatherStored(w, sources, AbortSignal.timeout(this.o.imageTimeoutMs ?? 30_000))
      // The workload may have been deleted or changed while its images were looked up.
      if (this.workloads.get(w.key) !== w) return
      this.verdicts.set(w.key, evaluate(w, facts, policy))
      this.evaluations++
      this.o.metrics?.evaluations.inc()
      this.dirtyNamespaces.add(w.namespace)
    }, { concurrency: this.o.concurrency ?? 8, sliceMs: this.o.sliceMs ?? 5, now: () => performance.now() })
    if (this.leading) await this.publish()
  }

  private async publish(): Promise<void> {
    const byNamespace = new Map<string, Verdict[]>()
    for (const v of this.verdicts.values()) {
      const list = byNamespace.get(v.workload.namespace)
      if (list) list.push(v)
      else byNamespace.set(v.workload.namespace, [v])
    }
    const namespaces = [...this.dirtyNamespaces]
    this.dirtyNamespaces.clear()
    let failed = 0
    for (const ns of namespaces) {
      try {
        await this.o.publisher.publishNamespace(ns, byNamespace.get(ns) ?? [])
      } catch (e) {
        failed++
        this.dirtyNamespaces.add(ns)
        this.o.logger?.warn({ namespace: ns, err: (e as Error).message }, 'drift: publishing failed; retried in 5 s')
      }
      if (!this.leading) return
    }
    if (failed > 0) this.schedule(Math.max(this.debounceMs, 5000))
    const m = this.o.metrics
    if (m) {
      m.atRisk.reset()
      for (const v of this.verdicts.values()) {
        if (v.result !== 'fail') continue
        for (const rule of new Set(v.violations.map((x) => x.rule))) m.atRisk.inc({ namespace: v.workload.namespace, rule })
      }
    }
  }
}
