/**
 * A generic list+watch loop ("reflector") for one kind of object on the API server, feeding
 * summaries to a sink (the ClusterIndex in informers.ts):
 *
 *  - list (paginated, `limit`), then watch from the list's resourceVersion with bookmarks and a
 *    server-side timeout; a normal end of the watch re-watches from the last resourceVersion;
 *    `410 Gone` relists;
 *  - any error: back off exponentially (base doubling, capped, jittered) and relist;
 *  - requestRelist() ends the current watch and relists (the owner's periodic full relist);
 *  - an inactivity timeout on the watch stream (no bytes for inactivityMs → reconnect);
 *  - restart() tears the loop down and starts it again (the owner's watchdog); lastProgressAt
 *    is the latest connect, list page, event or recorded failure (a page counts: a slow list of
 *    many pages is progressing, not hung).
 */
import type { Logger } from 'pino'
import { fetch } from 'undici'
import type { InformerMetrics } from './informer-metrics.js'
import type { KubeConnection } from './kubeconfig.js'
import type { ReplaceResult } from './cluster-index.js'

/** What a reflector lists and watches, and where the summaries go. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of specs with different summary types
export interface ReflectorSpec<K extends string = string, S = any> {
  kind: K
  path: string
  /** Reduces one object to what the index keeps; undefined drops it (no name). */
  summarize(obj: unknown): S | undefined
  /** Applies a full list (of summaries) to the index. */
  replace(items: S[]): ReplaceResult
  upsert(s: S): void
  remove(obj: unknown): void
}

/** What every reflector of one owner shares: the connection, timings, metrics, logger. */
export interface ReflectorEnv {
  conn: KubeConnection
  now: () => number
  pageSize: number
  listTimeoutMs: number
  inactivityMs: number
  watchTimeoutSeconds: number
  backoffBaseMs: number
  backoffMaxMs: number
  metrics: InformerMetrics | undefined
  logger: Logger | undefined
  /** Called after each first successful list of a reflector. */
  onSynced(): void
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

/** Exponential backoff after `failures` consecutive failures, jittered ±20 %. */
export function backoff(failures: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 20))
  return Math.round(exp * (0.8 + Math.random() * 0.4))
}

/** One authenticated GET; the connection builds the TLS dispatcher once and reuses it. */
async function apiGet(conn: KubeConnection, path: string, query: Record<string, string>, signal: AbortSignal): Promise<Awaited<ReturnType<typeof fetch>>> {
  const url = new URL(conn.server + path)
  for (const [k, v] of Object.entries(query)) if (v !== '') url.searchParams.set(k, v)
  const { headers, dispatcher } = await conn.prepare()
  return fetch(url, { method: 'GET', headers: { ...headers, accept: 'application/json' }, ...(dispatcher ? { dispatcher } : {}), signal })
}

async function getJson(conn: KubeConnection, path: string, query: Record<string, string>, signal: AbortSignal): Promise<unknown> {
  const res = await apiGet(conn, path, query, signal)
  if (res.status !== 200) {
    const text = await res.text().catch(() => '')
    throw new WatchEventError(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`, res.status)
  }
  return res.json()
}

/** One list+watch loop for one kind. */
export class Reflector<K extends string = string> {
  synced = false
  startedAt = 0
  lastListOkAt = 0
  lastPageAt = 0
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
    private readonly spec: ReflectorSpec<K>,
    private readonly env: ReflectorEnv,
  ) {}

  get kind(): K {
    return this.spec.kind
  }

  /** The latest sign of life of the loop (watchdog input). */
  get lastProgressAt(): number {
    return Math.max(this.startedAt, this.lastListOkAt, this.lastPageAt, this.lastConnectAt, this.lastEventAt, this.lastFailureAt)
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.startedAt = this.env.now()
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
    this.log('warn', { kind: this.kind, reason }, `restarting ${this.kind} list/watch: ${reason}`)
    this.restarts++
    this.env.metrics?.restarts.inc({ kind: this.kind })
    this.loopAbort?.abort()
    this.startedAt = this.env.now()
    this.launch()
  }

  /** Asks for a full relist at the next opportunity (ends the current watch). */
  requestRelist(): void {
    this.relistDue = true
    this.watchAbort?.abort(new Error('relist'))
  }

  private log(level: 'debug' | 'info' | 'warn', obj: Record<string, unknown>, msg: string): void {
    this.env.logger?.[level](obj, msg)
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
        const started = this.env.now()
        const end = await this.watchOnce(gen, signal)
        if (!this.alive(gen)) return
        if (end === 'gone') needList = true
        // A watch the server ends at once with nothing in it would spin: count it as a failure.
        if (end === 'closed' && this.env.now() - started < 1000 && this.lastEventAt < started) {
          failures++
          await sleep(backoff(failures, this.env.backoffBaseMs, this.env.backoffMaxMs), signal)
        } else {
          failures = 0
        }
      } catch (e) {
        if (!this.alive(gen)) return
        failures++
        this.recordFailure(e)
        this.restarts++
        this.env.metrics?.restarts.inc({ kind: this.kind })
        const delay = backoff(failures, this.env.backoffBaseMs, this.env.backoffMaxMs)
        this.log(failures === 1 ? 'warn' : 'debug', { kind: this.kind, failures, delayMs: delay, err: this.lastError }, `${this.kind} list/watch failed, retrying`)
        await sleep(delay, signal)
        needList = true
      }
    }
  }

  private recordFailure(e: unknown): void {
    const now = this.env.now()
    this.lastFailureAt = now
    this.failingSince ??= now
    this.lastError = describeError(e)
  }

  private recordSuccess(): void {
    if (this.failingSince !== null) {
      this.log('info', { kind: this.kind, failingSinceMs: this.env.now() - this.failingSince }, `${this.kind} list/watch recovered`)
    }
    this.failingSince = null
  }

  private async list(gen: number, signal: AbortSignal): Promise<void> {
    // Summaries only: each page's full objects become garbage as soon as the page is summarised.
    const items: unknown[] = []
    let cont = ''
    let rv = ''
    do {
      const query: Record<string, string> = { limit: String(this.env.pageSize) }
      if (cont) query.continue = cont
      const body = (await getJson(this.env.conn, this.spec.path, query, AbortSignal.any([signal, AbortSignal.timeout(this.env.listTimeoutMs)]))) as {
        items?: unknown[]
        metadata?: { continue?: string; resourceVersion?: string }
      }
      if (!this.alive(gen)) return
      this.lastPageAt = this.env.now()
      for (const it of body.items ?? []) {
        const sum = this.spec.summarize(it)
        if (sum !== undefined) items.push(sum)
      }
      cont = body.metadata?.continue ?? ''
      rv = body.metadata?.resourceVersion ?? rv
    } while (cont)
    const res = this.spec.replace(items)
    this.resourceVersion = rv
    const now = this.env.now()
    this.lastListOkAt = now
    this.lists++
    this.env.metrics?.lastSync.set({ kind: this.kind }, now / 1000)
    const first = !this.synced
    this.synced = true
    this.log(first ? 'info' : 'debug', { kind: this.kind, items: items.length, ...res }, `${this.kind} listed`)
    if (first) this.env.onSynced()
  }

  private async watchOnce(gen: number, loopSignal: AbortSignal): Promise<WatchEnd> {
    const wa = new AbortController()
    this.watchAbort = wa
    if (this.relistDue) return 'relist'
    const signal = AbortSignal.any([loopSignal, wa.signal])
    const timeoutSeconds = Math.round(this.env.watchTimeoutSeconds * (1 + Math.random() * 0.5))
    let inactive = false
    let connected = false
    let timer: NodeJS.Timeout | undefined
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        inactive = true
        wa.abort(new Error('watch inactive'))
      }, this.env.inactivityMs)
      timer.unref?.()
    }
    try {
      arm()
      const res = await apiGet(
        this.env.conn,
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
      this.lastConnectAt = this.env.now()
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
        if (inactive && !connected) throw new Error(`watch ${this.spec.path}: no response within ${this.env.inactivityMs} ms`)
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
    this.env.metrics?.events.inc({ kind: this.kind, type })
    this.lastEventAt = this.env.now()
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
