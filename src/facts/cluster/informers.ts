/**
 * Cluster facts from the API server: Nodes, RuntimeClasses (node.k8s.io/v1) and Namespaces, each
 * kept by a list+watch loop ("reflector") that feeds ClusterIndex with summaries only.
 *
 * Why not client-node's makeInformer / ListWatch: its ObjectCache keeps every full object (a Node
 * with its image list is 10-50 kB, so 5,000 nodes cost hundreds of MB), and the known stalls
 * (kubernetes-client/javascript#596, #958, #2385, #1933) are in its reconnect logic. Here client-node
 * provides the KubeConfig and authentication (headers, TLS dispatcher); the loop is ours:
 *
 *  - list (paginated, `limit`), then watch from the list's resourceVersion with bookmarks and a
 *    server-side timeout; a normal end of the watch re-watches from the last resourceVersion;
 *    `410 Gone` relists;
 *  - any error: back off exponentially (1 s doubling, capped at 30 s, jittered) and relist;
 *  - a full relist every relistIntervalMs (default 10 min), diffed into the index;
 *  - an inactivity timeout on the watch stream (no bytes for inactivityMs → reconnect);
 *  - a watchdog: a loop that has made no progress (no connect, list, event or recorded failure)
 *    for watchdogMs is torn down and restarted. It is based on connects and lists, not on events,
 *    because RuntimeClasses and Namespaces may see no event for days;
 *  - readiness false until every kind has synced once, and when a kind has had no working watch
 *    (errors since the last successful watch connect; a list that succeeds while every watch
 *    fails does not count as recovery) for longer than staleAfterMs; the detail names the kind
 *    and since when.
 */
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { fetch } from 'undici'
import type { ClusterFactsSource } from '../../domain/facts.js'
import type { Readiness } from '../../domain/readiness.js'
import type { Policy } from '../../domain/policy.js'
import { ClusterIndex, type IndexSnapshot, type ReplaceResult } from './cluster-index.js'
import { stringMap, summarizeNode, type NodeSummary } from './node-summary.js'
import type { RuntimeClassInfo } from '../../domain/facts.js'
import { summarizeRuntimeClass } from './runtime-class-summary.js'
import { connectionFromKubeConfig, type KubeConnection } from './kubeconfig.js'

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
  /** Restart a loop that made no progress (connect, list, event, failure) for this long. Default 10 min. */
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
  /** Page size of lists. Default 100 (smaller pages keep the transient heap of a relist small). */
  pageSize?: number
  /** Per-request timeout of list pages. Default 60 s. */
  listTimeoutMs?: number
  /** How long start() waits for the initial sync before returning (it never fails). Default 30 s. */
  startWaitMs?: number
  /** Wall clock in ms (readiness "since" times). Default Date.now. */
  now?: () => number
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of specs with different summary types
interface KindSpec<S = any> {
  kind: InformerKind
  path: string
  /** Reduces one object to what the index keeps; undefined drops it (no name). */
  summarize(obj: unknown): S | undefined
  /** Applies a full list (of summaries) to the index. */
  replace(items: S[]): ReplaceResult
  upsert(s: S): void
  remove(obj: unknown): void
}

class WatchEventError extends Error {
  constructor(
    message: string,
    readonly statusCode?: number,
  ) {
    super(message)
  }
}

type WatchEnd = 'closed' | 'gone' | 'relist' | 'inactive'

interface Metrics {
  events: Counter<'kind' | 'type'>
  restarts: Counter<'kind'>
  lastSync: Gauge<'kind'>
}

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

function makeMetrics(registry: Registry, nodeCount: () => number): Metrics {
  const registers = [registry]
  getOrCreate(registry, 'wasm_admission_cluster_nodes', () => {
    return new Gauge({
      name: 'wasm_admission_cluster_nodes',
      help: 'Nodes in the cluster facts cache.',
      registers,
      collect() {
        this.set(nodeCount())
      },
    })
  })
  return {
    events: getOrCreate(
      registry,
      'wasm_admission_informer_events_total',
      () =>
        new Counter({
          name: 'wasm_admission_informer_events_total',
          help: 'Watch events received, by kind (nodes, runtimeclasses, namespaces) and type (added, modified, deleted, bookmark, error).',
          labelNames: ['kind', 'type'],
          registers,
        }),
    ),
    restarts: getOrCreate(
      registry,
      'wasm_admission_informer_restarts_total',
      () =>
        new Counter({
          name: 'wasm_admission_informer_restarts_total',
          help: 'List/watch loop restarts after an error or by the watchdog, by kind.',
          labelNames: ['kind'],
          registers,
        }),
    ),
    lastSync: getOrCreate(
      registry,
      'wasm_admission_informer_last_sync_timestamp_seconds',
      () =>
        new Gauge({
          name: 'wasm_admission_informer_last_sync_timestamp_seconds',
          help: 'Time of the last successful full list, by kind.',
          labelNames: ['kind'],
          registers,
        }),
    ),
  }
}

function describeError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string }; statusCode?: number; name?: string }
  const cause = err?.cause?.code ?? err?.cause?.message
  const base = err?.message ?? String(e)
  return cause && !base.includes(cause) ? `${base} (${cause})` : base
}

function isGone(e: unknown): boolean {
  return (e as { statusCode?: number })?.statusCode === 410
}

/** Sleeps ms, resolving early when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** One list+watch loop for one kind. */
class Reflector {
  synced = false
  startedAt = 0
  lastListOkAt = 0
  lastConnectAt = 0
  lastEventAt = 0
  lastFailureAt = 0
  failingSince: number | null = null
  lastError = ''
  restarts = 0
  lists = 0
  private resourceVersion = ''
  private gen = 0
  private running = false
  private loopAbort: AbortController | undefined
  private watchAbort: AbortController | undefined
  private relistDue = false

  constructor(
    private readonly spec: KindSpec,
    private readonly src: InformerClusterSource,
  ) {}

  get kind(): InformerKind {
    return this.spec.kind
  }

  /** The latest sign of life of the loop (watchdog input). */
  get lastProgressAt(): number {
    return Math.max(this.startedAt, this.lastListOkAt, this.lastConnectAt, this.lastEventAt, this.lastFailureAt)
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.startedAt = this.src.now()
    this.launch()
  }

  stop(): void {
    this.running = false
    this.gen++
    this.loopAbort?.abort()
    this.loopAbort = undefined
  }

  /** Tears the loop down and starts it again (watchdog). */
  restart(reason: string): void {
    if (!this.running) return
    this.src.log('warn', { kind: this.kind, reason }, `restarting ${this.kind} list/watch: ${reason}`)
    this.restarts++
    this.src.metrics?.restarts.inc({ kind: this.kind })
    this.loopAbort?.abort()
    this.startedAt = this.src.now()
    this.launch()
  }

  /** Asks for a full relist at the next opportunity (ends the current watch). */
  requestRelist(): void {
    this.relistDue = true
    this.watchAbort?.abort(new Error('relist'))
  }

  private launch(): void {
    const gen = ++this.gen
    const ac = new AbortController()
    this.loopAbort = ac
    void this.loop(gen, ac.signal)
  }

  private alive(gen: number): boolean {
    return this.running && gen === this.gen
  }

  private async loop(gen: number, signal: AbortSignal): Promise<void> {
    let failures = 0
    let needList = true
    while (this.alive(gen)) {
      try {
        if (needList || this.relistDue) {
          this.relistDue = false
          await this.list(gen, signal)
          needList = false
        }
        if (!this.alive(gen)) return
        const started = this.src.now()
        const end = await this.watchOnce(gen, signal)
        if (!this.alive(gen)) return
        if (end === 'gone') needList = true
        // A watch the server ends at once with nothing in it would spin: count it as a failure.
        if (end === 'closed' && this.src.now() - started < 1000 && this.lastEventAt < started) {
          failures++
          await sleep(this.src.backoff(failures), signal)
        } else {
          failures = 0
        }
      } catch (e) {
        if (!this.alive(gen)) return
        failures++
        this.recordFailure(e)
        this.restarts++
        this.src.metrics?.restarts.inc({ kind: this.kind })
        const delay = this.src.backoff(failures)
        this.src.log(failures === 1 ? 'warn' : 'debug', { kind: this.kind, failures, delayMs: delay, err: this.lastError }, `${this.kind} list/watch failed, retrying`)
        await sleep(delay, signal)
        needList = true
      }
    }
  }

  private recordFailure(e: unknown): void {
    const now = this.src.now()
    this.lastFailureAt = now
    this.failingSince ??= now
    this.lastError = describeError(e)
  }

  private recordSuccess(): void {
    if (this.failingSince !== null) {
      this.src.log('info', { kind: this.kind, failingSinceMs: this.src.now() - this.failingSince }, `${this.kind} list/watch recovered`)
    }
    this.failingSince = null
  }

  private async list(gen: number, signal: AbortSignal): Promise<void> {
    // Summaries only: each page's full objects become garbage as soon as the page is summarised.
    const items: unknown[] = []
    let cont = ''
    let rv = ''
    do {
      const query: Record<string, string> = { limit: String(this.src.pageSize) }
      if (cont) query.continue = cont
      const body = (await this.src.getJson(this.spec.path, query, AbortSignal.any([signal, AbortSignal.timeout(this.src.listTimeoutMs)]))) as {
        items?: unknown[]
        metadata?: { continue?: string; resourceVersion?: string }
      }
      if (!this.alive(gen)) return
      for (const it of body.items ?? []) {
        const sum = this.spec.summarize(it)
        if (sum !== undefined) items.push(sum)
      }
      cont = body.metadata?.continue ?? ''
      rv = body.metadata?.resourceVersion ?? rv
    } while (cont)
    const res = this.spec.replace(items)
    this.resourceVersion = rv
    const now = this.src.now()
    this.lastListOkAt = now
    this.lists++
    this.src.metrics?.lastSync.set({ kind: this.kind }, now / 1000)
    const first = !this.synced
    this.synced = true
    this.src.log(first ? 'info' : 'debug', { kind: this.kind, items: items.length, ...res }, `${this.kind} listed`)
    if (first) this.src.onSynced()
  }

  private async watchOnce(gen: number, loopSignal: AbortSignal): Promise<WatchEnd> {
    const wa = new AbortController()
    this.watchAbort = wa
    if (this.relistDue) return 'relist'
    const signal = AbortSignal.any([loopSignal, wa.signal])
    const timeoutSeconds = Math.round(this.src.watchTimeoutSeconds * (1 + Math.random() * 0.5))
    let inactive = false
    let connected = false
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        inactive = true
        wa.abort(new Error('watch inactive'))
      }, this.src.inactivityMs)
      timer.unref?.()
    }
    try {
      arm()
      const res = await this.src.request(
        this.spec.path,
        { watch: '1', allowWatchBookmarks: 'true', resourceVersion: this.resourceVersion, timeoutSeconds: String(timeoutSeconds) },
        signal,
      )
      if (res.status !== 200) {
        const text = await res.text().catch(() => '')
        throw new WatchEventError(`watch ${this.spec.path}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status)
      }
      if (!this.alive(gen)) return 'closed'
      connected = true
      this.lastConnectAt = this.src.now()
      this.recordSuccess()
      arm()
      const decoder = new TextDecoder()
      let buf = ''
      if (!res.body) return 'closed'
      for await (const chunk of res.body) {
        arm()
        buf += decoder.decode(chunk as Uint8Array, { stream: true })
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line.trim() === '') continue
          const end = this.handleLine(line)
          if (end) return end
          if (!this.alive(gen)) return 'closed'
        }
      }
      return 'closed'
    } catch (e) {
      if (!this.alive(gen)) return 'closed'
      if (wa.signal.aborted && !loopSignal.aborted) {
        // No response at all within inactivityMs is a failure, not a quiet watch.
        if (inactive && !connected) throw new Error(`watch ${this.spec.path}: no response within ${this.src.inactivityMs} ms`)
        return inactive ? 'inactive' : 'relist'
      }
      if (isGone(e)) return 'gone'
      throw e
    } finally {
      clearTimeout(timer)
      if (!wa.signal.aborted) wa.abort()
      if (this.watchAbort === wa) this.watchAbort = undefined
    }
  }

  /** Applies one watch event line; returns how the watch ends, if it does. */
  private handleLine(line: string): WatchEnd | undefined {
    let ev: { type?: string; object?: { metadata?: { resourceVersion?: string }; code?: number; message?: string } }
    try {
      ev = JSON.parse(line)
    } catch {
      return undefined
    }
    const type = (ev.type ?? '').toLowerCase()
    this.src.metrics?.events.inc({ kind: this.kind, type })
    this.lastEventAt = this.src.now()
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const sum = this.spec.summarize(ev.object)
        if (sum !== undefined) this.spec.upsert(sum)
        break
      }
      case 'DELETED':
        this.spec.remove(ev.object)
        break
      case 'BOOKMARK':
        break
      case 'ERROR': {
        const code = ev.object?.code
        if (code === 410) return 'gone'
        throw new WatchEventError(`watch ${this.spec.path}: ${ev.object?.message ?? 'error event'}`, code)
      }
      default:
        return undefined
    }
    const rv = ev.object?.metadata?.resourceVersion
    if (rv) this.resourceVersion = rv
    return undefined
  }
}

export class InformerClusterSource implements ClusterFactsSource {
  readonly index: ClusterIndex
  readonly now: () => number
  readonly metrics: Metrics | undefined
  readonly pageSize: number
  readonly listTimeoutMs: number
  readonly inactivityMs: number
  readonly watchTimeoutSeconds: number
  private readonly conn: KubeConnection
  private readonly logger: Logger | undefined
  private readonly relistIntervalMs: number
  private readonly watchdogMs: number
  private readonly staleAfterMs: number
  private readonly backoffBaseMs: number
  private readonly backoffMaxMs: number
  private readonly startWaitMs: number
  private readonly reflectors: Reflector[]
  private timers: NodeJS.Timeout[] = []
  private state: 'new' | 'running' | 'stopped' = 'new'
  private syncWaiters: Array<() => void> = []

  constructor(opts: InformerClusterSourceOptions) {
    if (opts.connection) this.conn = opts.connection
    else if (opts.kubeConfig) this.conn = connectionFromKubeConfig(opts.kubeConfig)
    else throw new Error('InformerClusterSource needs a connection or a kubeConfig')
    this.logger = opts.logger
    this.now = opts.now ?? Date.now
    this.relistIntervalMs = opts.relistIntervalMs ?? 10 * 60_000
    this.watchdogMs = opts.watchdogMs ?? 10 * 60_000
    this.staleAfterMs = opts.staleAfterMs ?? 90_000
    this.inactivityMs = opts.inactivityMs ?? 90_000
    this.watchTimeoutSeconds = opts.watchTimeoutSeconds ?? 300
    this.backoffBaseMs = opts.backoffBaseMs ?? 1000
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000
    this.pageSize = opts.pageSize ?? 100
    this.listTimeoutMs = opts.listTimeoutMs ?? 60_000
    this.startWaitMs = opts.startWaitMs ?? 30_000
    const index = new ClusterIndex(opts.policy)
    this.index = index
    this.metrics = opts.metrics ? makeMetrics(opts.metrics, () => index.nodeCount) : undefined
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
          replace: (items: NodeSummary[]) => index.replaceNodes(items),
          upsert: (n: NodeSummary) => index.upsertNode(n),
          remove: (o) => index.deleteNode(nameOf(o)),
        },
        this,
      ),
      new Reflector(
        {
          kind: 'runtimeclasses',
          path: '/apis/node.k8s.io/v1/runtimeclasses',
          summarize: (o) => {
            const r = summarizeRuntimeClass(o)
            return r.name ? r : undefined
          },
          replace: (items: RuntimeClassInfo[]) => index.replaceRuntimeClasses(items),
          upsert: (r: RuntimeClassInfo) => index.upsertRuntimeClass(r),
          remove: (o) => index.deleteRuntimeClass(nameOf(o)),
        },
        this,
      ),
      new Reflector(
        {
          kind: 'namespaces',
          path: '/api/v1/namespaces',
          summarize: (o) => {
            const name = nameOf(o)
            return name ? { name, labels: stringMap((o as { metadata?: { labels?: unknown } })?.metadata?.labels) } : undefined
          },
          replace: (items: Array<{ name: string; labels: Record<string, string> }>) => index.replaceNamespaces(items),
          upsert: (ns: { name: string; labels: Record<string, string> }) => index.upsertNamespace(ns.name, ns.labels),
          remove: (o) => index.deleteNamespace(nameOf(o)),
        },
        this,
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

  /** Forces a relist of every kind (as the periodic timer does). */
  relistNow(): void {
    for (const r of this.reflectors) r.requestRelist()
  }

  // ------------------------------------------------------------------ used by the reflectors

  onSynced(): void {
    if (!this.synced()) return
    this.index.setKnown(true)
    for (const w of this.syncWaiters.splice(0)) w()
  }

  backoff(failures: number): number {
    const exp = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.min(failures - 1, 20))
    return Math.round(exp * (0.8 + Math.random() * 0.4))
  }

  log(level: 'debug' | 'info' | 'warn', obj: Record<string, unknown>, msg: string): void {
    this.logger?.[level](obj, msg)
  }

  private watchdog(): void {
    const now = this.now()
    for (const r of this.reflectors) {
      if (now - r.lastProgressAt > this.watchdogMs) r.restart(`no connect, list, event or error for ${Math.round((now - r.lastProgressAt) / 1000)} s`)
    }
  }

  /** One authenticated GET; the TLS dispatcher is built once and reused. */
  async request(path: string, query: Record<string, string>, signal: AbortSignal): Promise<Awaited<ReturnType<typeof fetch>>> {
    const url = new URL(this.conn.server + path)
    for (const [k, v] of Object.entries(query)) if (v !== '') url.searchParams.set(k, v)
    const { headers, dispatcher } = await this.conn.prepare()
    return fetch(url, { method: 'GET', headers: { ...headers, accept: 'application/json' }, ...(dispatcher ? { dispatcher } : {}), signal })
  }

  async getJson(path: string, query: Record<string, string>, signal: AbortSignal): Promise<unknown> {
    const res = await this.request(path, query, signal)
    if (res.status !== 200) {
      const text = await res.text().catch(() => '')
      throw new WatchEventError(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status)
    }
    return res.json()
  }
}
