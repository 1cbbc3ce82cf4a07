/**
 * Cluster facts from the API server: Nodes, RuntimeClasses (node.k8s.io/v1) and Namespaces, each
 * kept by a list+watch loop ("reflector") that feeds ClusterIndex with summaries only.
 *
 * Why not client-node's makeInformer / ListWatch: its ObjectCache keeps every full object (a Node
 * with its image list is 10-50 kB, so 5,000 nodes cost hundreds of MB), and the known stalls
 * (kubernetes-client/javascript#596, #958, #2385, #1933) are in its reconnect logic. Here client-node
 * provides the KubeConfig and authentication (headers, TLS dispatcher); the loop is ours:
 *
 *  - (reflector.ts) list (paginated, `limit`), then watch from the list's resourceVersion with
 *    bookmarks and a server-side timeout; a normal end of the watch re-watches from the last
 *    resourceVersion; `410 Gone` relists;
 *  - any error: back off exponentially (1 s doubling, capped at 30 s, jittered) and relist;
 *  - a full relist every relistIntervalMs (default 10 min), diffed into the index;
 *  - an inactivity timeout on the watch stream (no bytes for inactivityMs → reconnect);
 *  - a watchdog: a loop that has made no progress (no connect, list page, event or recorded
 *    failure) for watchdogMs is torn down and restarted. It is based on connects and lists, not on events,
 *    because RuntimeClasses and Namespaces may see no event for days;
 *  - readiness false until every kind has synced once, and when a kind has had no working watch
 *    (errors since the last successful watch connect; a list that succeeds while every watch
 *    fails does not count as recovery) for longer than staleAfterMs; the detail names the kind
 *    and since when.
 */
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ClusterFactsSource } from '../../domain/facts.js'
import type { Readiness } from '../../domain/readiness.js'
import type { Policy } from '../../domain/policy.js'
import { ClusterIndex, type IndexSnapshot, type ReplaceResult } from './cluster-index.js'
import { stringMap, summarizeNode, type NodeSummary } from './node-summary.js'
import type { RuntimeClassInfo } from '../../domain/facts.js'
import { summarizeRuntimeClass } from './runtime-class-summary.js'
import { connectionFromKubeConfig, type KubeConnection } from './kubeconfig.js'
import { makeInformerMetrics, type InformerMetrics } from './informer-metrics.js'
import { Reflector, type ReflectorEnv } from './reflector.js'

export const INFORMER_KINDS = ['nodes', 'runtimeclasses', 'namespaces'] as const
export type InformerKind = (typeof INFORMER_KINDS)[number]

export interface InformerClusterSourceOptions {
  /** The way to the API server (serve: loadKubeConnection, without client-node), or ... */
  connection?: KubeConnection
  /** ... a client-node KubeConfig (CLI commands, tests). One of the two is required. */
  kubeConfig?: KubeConfig
  policy: () => Policy
  logger?: Logger
  /** Registry for the informer metrics (never prom-client's global one). */
  metrics?: Registry
  /** Full relist period. Default 10 min. */
  relistIntervalMs?: number
  /** Restart a loop that made no progress (connect, list page, event, failure) for this long. Default 10 min. */
  watchdogMs?: number
  /** Readiness false when a kind's list/watch has been failing this long. Default 90 s. */
  staleAfterMs?: number
  /** Watch stream inactivity timeout (bookmarks arrive about once a minute). Default 90 s. */
  inactivityMs?: number
  /** Server-side watch timeout, jittered up to +50 %. Default 300 s. */
  watchTimeoutSeconds?: number
  /** Backoff after errors: base and cap. Default 1 s and 30 s. */
  backoffBaseMs?: number
  backoffMaxMs?: number
  /** Page size of lists. Default DEFAULT_LIST_PAGE_SIZE. */
  pageSize?: number
  /** Per-request timeout of list pages. Default 60 s. */
  listTimeoutMs?: number
  /** How long start() waits for the initial sync before returning (it never fails). Default 30 s. */
  startWaitMs?: number
  /** Wall clock in ms (readiness "since" times). Default Date.now. */
  now?: () => number
}

/**
 * Objects per list page (`limit`). A page's garbage (the JSON text, ~12-15 kB per Node, and its parse,
 * ~17 kB more; Nodes carry up to 50 images) must die in V8's young generation: with the shipped
 * `--max-semi-space-size=2` a page of 100 Nodes (~3 MB) outgrew it, was promoted, and grew old space
 * (and the RSS) by ~10 MB at 5,000 nodes; 50 (~1.5 MB) stays young (docs/benchmarks.md, "Memory").
 */
export const DEFAULT_LIST_PAGE_SIZE = 50

/** A change of the index: which kind, and the object's name ('*' when a relist changed something). */
export interface ClusterChangeEvent {
  kind: 'Node' | 'RuntimeClass' | 'Namespace'
  name: string
}

export class InformerClusterSource implements ClusterFactsSource {
  readonly index: ClusterIndex
  readonly now: () => number
  readonly metrics: InformerMetrics | undefined
  private readonly conn: KubeConnection
  private readonly relistIntervalMs: number
  private readonly watchdogMs: number
  private readonly staleAfterMs: number
  private readonly startWaitMs: number
  private readonly reflectors: Reflector<InformerKind>[]
  private timers: NodeJS.Timeout[] = []
  private state: 'new' | 'running' | 'stopped' = 'new'
  private syncWaiters: Array<() => void> = []
  private changeListeners: Array<(c: ClusterChangeEvent) => void> = []

  constructor(opts: InformerClusterSourceOptions) {
    if (opts.connection) this.conn = opts.connection
    else if (opts.kubeConfig) this.conn = connectionFromKubeConfig(opts.kubeConfig)
    else throw new Error('InformerClusterSource needs a connection or a kubeConfig')
    this.now = opts.now ?? Date.now
    this.relistIntervalMs = opts.relistIntervalMs ?? 10 * 60_000
    this.watchdogMs = opts.watchdogMs ?? 10 * 60_000
    this.staleAfterMs = opts.staleAfterMs ?? 90_000
    this.startWaitMs = opts.startWaitMs ?? 30_000
    const index = new ClusterIndex(opts.policy)
    this.index = index
    this.metrics = opts.metrics ? makeInformerMetrics(opts.metrics, () => index.nodeCount) : undefined
    const env: ReflectorEnv = {
      conn: this.conn,
      now: this.now,
      pageSize: opts.pageSize ?? DEFAULT_LIST_PAGE_SIZE,
      listTimeoutMs: opts.listTimeoutMs ?? 60_000,
      inactivityMs: opts.inactivityMs ?? 90_000,
      watchTimeoutSeconds: opts.watchTimeoutSeconds ?? 300,
      backoffBaseMs: opts.backoffBaseMs ?? 1000,
      backoffMaxMs: opts.backoffMaxMs ?? 30_000,
      metrics: this.metrics,
      logger: opts.logger,
      onSynced: () => this.onSynced(),
    }
    // Tells listeners (the drift controller) what changed in the index; updates that change
    // nothing (node heartbeats) are not changes.
    const changed = (kind: ClusterChangeEvent['kind'], name: string, did: boolean): void => {
      if (did) for (const l of this.changeListeners) l({ kind, name })
    }
    const replaced = (kind: ClusterChangeEvent['kind'], r: ReplaceResult): ReplaceResult => {
      changed(kind, '*', r.added + r.updated + r.deleted > 0)
      return r
    }
    const nameOf = (o: unknown): string => {
      const n = (o as { metadata?: { name?: unknown } })?.metadata?.name
      return typeof n === 'string' ? n : ''
    }
    this.reflectors = [
      new Reflector(
        {
          kind: 'nodes',
          path: '/api/v1/nodes',
          summarize: (o) => {
            const n = summarizeNode(o)
            return n.name ? n : undefined
          },
          replace: (items: NodeSummary[]) => replaced('Node', index.replaceNodes(items)),
          upsert: (n: NodeSummary) => changed('Node', n.name, index.upsertNode(n)),
          remove: (o) => changed('Node', nameOf(o), index.deleteNode(nameOf(o))),
        },
        env,
      ),
      new Reflector(
        {
          kind: 'runtimeclasses',
          path: '/apis/node.k8s.io/v1/runtimeclasses',
          summarize: (o) => {
            const r = summarizeRuntimeClass(o)
            return r.name ? r : undefined
          },
          replace: (items: RuntimeClassInfo[]) => replaced('RuntimeClass', index.replaceRuntimeClasses(items)),
          upsert: (r: RuntimeClassInfo) => changed('RuntimeClass', r.name, index.upsertRuntimeClass(r)),
          remove: (o) => changed('RuntimeClass', nameOf(o), index.deleteRuntimeClass(nameOf(o))),
        },
        env,
      ),
      new Reflector(
        {
          kind: 'namespaces',
          path: '/api/v1/namespaces',
          summarize: (o) => {
            const name = nameOf(o)
            return name ? { name, labels: stringMap((o as { metadata?: { labels?: unknown } })?.metadata?.labels) } : undefined
          },
          replace: (items: Array<{ name: string; labels: Record<string, string> }>) => replaced('Namespace', index.replaceNamespaces(items)),
          upsert: (ns: { name: string; labels: Record<string, string> }) => changed('Namespace', ns.name, index.upsertNamespace(ns.name, ns.labels)),
          remove: (o) => changed('Namespace', nameOf(o), index.deleteNamespace(nameOf(o))),
        },
        env,
      ),
    ]
  }

  // ------------------------------------------------------------------ ClusterFactsSource

  snapshot(): IndexSnapshot {
    return this.index.snapshot()
  }

  /** Starts the loops and waits (at most startWaitMs) for the initial sync. Never rejects. */
  async start(): Promise<void> {
    if (this.state !== 'new') return
    this.state = 'running'
    for (const r of this.reflectors) r.start()
    const relist = setInterval(() => {
      for (const r of this.reflectors) r.requestRelist()
    }, this.relistIntervalMs)
    const watchdog = setInterval(() => this.watchdog(), Math.max(50, Math.min(this.watchdogMs / 4, 30_000)))
    relist.unref()
    watchdog.unref()
    this.timers.push(relist, watchdog)
    await this.waitForSync(this.startWaitMs)
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    for (const r of this.reflectors) r.stop()
    for (const w of this.syncWaiters.splice(0)) w()
    await this.conn.close()
  }

  readiness(): Readiness {
    if (this.state === 'new') return { ready: false, detail: 'cluster informers not started' }
    if (this.state === 'stopped') return { ready: false, detail: 'cluster informers stopped' }
    const now = this.now()
    const problems: string[] = []
    for (const r of this.reflectors) {
      if (!r.synced) {
        problems.push(`${r.kind} not synced (waiting since ${new Date(r.startedAt).toISOString()}${r.lastError ? `; last error: ${r.lastError}` : ''})`)
      } else if (r.failingSince !== null && now - r.failingSince >= this.staleAfterMs) {
        problems.push(`${r.kind} stale: list/watch failing since ${new Date(r.failingSince).toISOString()} (${r.lastError})`)
      }
    }
    if (problems.length > 0) return { ready: false, detail: problems.join('; ') }
    return {
      ready: true,
      detail: `synced: ${this.index.nodeCount} nodes, ${this.index.runtimeClassCount} runtimeclasses, ${this.index.namespaceCount} namespaces`,
    }
  }

  // ------------------------------------------------------------------ extras

  /** Resolves true once every kind has synced once, false at the timeout or on stop. */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.synced()) return Promise.resolve(true)
    if (this.state === 'stopped') return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done)
        resolve(false)
      }, timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        resolve(this.synced())
      }
      this.syncWaiters.push(done)
    })
  }

  synced(): boolean {
    return this.reflectors.every((r) => r.synced)
  }

  /** Per-kind loop state (for tests, debugging and the `nodes` CLI). */
  status(): Array<{ kind: InformerKind; synced: boolean; failingSince: number | null; lastError: string; restarts: number; lists: number; lastListOkAt: number; lastConnectAt: number }> {
    return this.reflectors.map((r) => ({
      kind: r.kind,
      synced: r.synced,
      failingSince: r.failingSince,
      lastError: r.lastError,
      restarts: r.restarts,
      lists: r.lists,
      lastListOkAt: r.lastListOkAt,
      lastConnectAt: r.lastConnectAt,
    }))
  }

  /** Calls fn after each change of the index (not for updates that change nothing). Returns an unsubscribe. */
  onChange(fn: (c: ClusterChangeEvent) => void): () => void {
    this.changeListeners.push(fn)
    return () => {
      this.changeListeners = this.changeListeners.filter((l) => l !== fn)
    }
  }

  /** Forces a relist of every kind (as the periodic timer does). */
  relistNow(): void {
    for (const r of this.reflectors) r.requestRelist()
  }

  // ------------------------------------------------------------------ internals

  private onSynced(): void {
    if (!this.synced()) return
    this.index.setKnown(true)
    for (const w of this.syncWaiters.splice(0)) w()
  }

  private watchdog(): void {
    const now = this.now()
    for (const r of this.reflectors) {
      if (now - r.lastProgressAt > this.watchdogMs) r.restart(`no connect, list page, event or error for ${Math.round((now - r.lastProgressAt) / 1000)} s`)
    }
  }
}
