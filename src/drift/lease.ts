/**
 * One writer: a coordination.k8s.io/v1 Lease held by the replica that publishes reports and events.
 *
 * @kubernetes/client-node (2.0.1) has no leader election, so this is a small loop with client-go's
 * semantics (k8s.io/client-go/tools/leaderelection/leaderelection.go): a candidate takes the Lease
 * when it does not exist, when it holds it, or when the record has not changed for
 * leaseDurationSeconds *as observed on the candidate's own clock* (the holder's renewTime is never
 * compared with the local clock, so clock skew between replicas does not matter). Every write carries
 * the resourceVersion it read (optimistic concurrency): of two candidates, one gets 409 and stays a
 * follower. A leader that cannot renew for renewDeadlineMs stops leading before its Lease can have
 * expired for others. On a clean stop the leader releases the Lease (empty holder, duration 1 s),
 * as client-go's ReleaseOnCancel, so the next replica takes over at its next try.
 */
import type { Logger } from 'pino'
import { formatMessage } from '../errors.js'
import { describeAnswer, type KubeApi } from './kube-api.js'

export interface LeaseOptions {
  api: KubeApi
  namespace: string
  name: string
  identity: string
  /** How long a record that stopped changing is honoured by others. Default 15 s (client-go's usual). */
  leaseDurationSeconds?: number
  /** A leader that could not renew for this long stops leading. Default 10 s. */
  renewDeadlineMs?: number
  /** Time between tries (renew, or try to acquire). Default 2 s. */
  retryPeriodMs?: number
  now?: () => number
  logger?: Logger
  onStartedLeading(): void
  onStoppedLeading(): void
}

interface LeaseObject {
  metadata?: { resourceVersion?: string }
  spec?: { holderIdentity?: string | null; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number }
}

/** A Kubernetes MicroTime (RFC 3339 with microseconds). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z')
}

export class LeaseElector {
  leading = false
  /** Times this replica started leading. */
  terms = 0
  private readonly durationS: number
  private readonly renewDeadlineMs: number
  private readonly retryMs: number
  private readonly now: () => number
  private observedRv = ''
  private observedAt = 0
  private lastRenewAt = 0
  private timer: NodeJS.Timeout | undefined
  private running = false
  private busy: Promise<void> = Promise.resolve()

  constructor(private readonly o: LeaseOptions) {
    this.durationS = o.leaseDurationSeconds ?? 15
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000
    this.retryMs = o.retryPeriodMs ?? 2000
    this.now = o.now ?? Date.now
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases`
  }

  start(): void {
    if (this.running) return
    this.running = true
    const loop = (): void => {
      if (!this.running) return
      this.busy = this.tick().finally(() => {
        if (this.running) {
          this.timer = setTimeout(loop, this.retryMs)
          this.timer.unref?.()
        }
      })
    }
    loop()
  }

  /** Stops trying; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await this.busy
    if (this.leading) {
      this.setLeading(false)
      await this.release().catch((e: unknown) => this.o.logger?.warn({ err: (e as Error).message }, 'could not release the drift Lease'))
    }
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return
    this.leading = v
    this.o.logger?.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, v ? 'drift: started leading' : 'drift: stopped leading')
    if (v) {
      this.terms++
      this.o.onStartedLeading()
    } else this.o.onStoppedLeading()
  }

  /** One try: acquire or renew. Never throws. */
  async tick(): Promise<void> {
    try {
      const ok = await this.tryAcquireOrRenew()
      if (ok) {
        this.lastRenewAt = this.now()
        this.setLeading(true)
      } else if (this.leading) {
        this.setLeading(false)
      }
    } catch (e) {
      this.o.logger?.warn({ code: 'WA_ERR_DRIFT_LEASE' }, formatMessage('WA_ERR_DRIFT_LEASE', [`${this.o.namespace}/${this.o.name}`, (e as Error).message]))
      if (this.leading && this.now() - this.lastRenewAt > this.renewDeadlineMs) this.setLeading(false)
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now()
    const got = await this.o.api.request('GET', `${this.path}/${encodeURIComponent(this.o.name)}`)
    if (got.status === 404) {
      const created = await this.o.api.request('POST', this.path, {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { holderIdentity: this.o.identity, leaseDurationSeconds: this.durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        },
      })
      if (created.status === 201) return true
      if (created.status === 409) return false
      throw new Error(`create Lease: ${describeAnswer(created)}`)
    }
    if (got.status !== 200) throw new Error(`get Lease: ${describeAnswer(got)}`)
    const lease = got.body as LeaseObject
    const rv = lease.metadata?.resourceVersion ?? ''
    if (rv !== this.observedRv) {
      this.observedRv = rv
      this.observedAt = now
    }
    const spec = lease.spec ?? {}
    const holder = spec.holderIdentity ?? ''
    const duration = (spec.leaseDurationSeconds ?? this.durationS) * 1000
    if (holder !== '' && holder !== this.o.identity && now - this.observedAt < duration) return false
    const mine = holder === this.o.identity
    const updated = await this.o.api.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: rv },
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: this.durationS,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      },
    })
    if (updated.status === 200) {
      this.observedRv = (updated.body as LeaseObject).metadata?.resourceVersion ?? ''
      this.observedAt = now
      return true
    }
    if (updated.status === 409) return false
    throw new Error(`update Lease: ${describeAnswer(updated)}`)
  }

  private async release(): Promise<void> {
    const got = await this.o.api.request('GET', `${this.path}/${encodeURIComponent(this.o.name)}`)
    if (got.status !== 200) return
    const lease = got.body as LeaseObject
    if (lease.spec?.holderIdentity !== this.o.identity) return
    const now = this.now()
    await this.o.api.request('PUT', `${this.path}/${encodeURIComponent(this.o.name)}`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace, resourceVersion: lease.metadata?.resourceVersion ?? '' },
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(now) },
      },
    })
  }
}
