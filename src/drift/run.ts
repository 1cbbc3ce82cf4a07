/**
 * Starts the drift controller next to the webhook (serve --drift): its own connection to the API
 * server, the controller over the webhook's facts sources, the publisher and the Lease elector.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { ClusterFactsSource, ImageFactsSource } from '../domain/facts.js'
import type { Policy } from '../domain/policy.js'
import { loadKubeConnection } from '../facts/cluster/kubeconfig.js'
import type { ClusterChangeEvent } from '../facts/cluster/informers.js'
import { DriftMetrics } from '../metrics/drift-metrics.js'
import { DriftController } from './controller.js'
import { kubeApi } from './kube-api.js'
import { LeaseElector } from './lease.js'
import { Publisher } from './publisher.js'

export interface DriftSettings {
  kubeconfig: string | undefined
  env: Record<string, string | undefined>
  reports: boolean
  events: boolean
  namespace: string
  leaseName: string
  identity: string | undefined
  excludeNamespaces: string[]
  debounceMs: number
  /** Lease timings (tests shorten them). */
  leaseDurationSeconds?: number
  renewDeadlineMs?: number
  retryPeriodMs?: number
}

export interface RunningDrift {
  controller: DriftController
  elector: LeaseElector
  identity: string
  stop(): Promise<void>
}

export function startDrift(
  s: DriftSettings,
  deps: { images: ImageFactsSource; cluster: ClusterFactsSource & { onChange?(fn: (c: ClusterChangeEvent) => void): () => void }; policy: () => Policy; logger: Logger; registry: Registry },
): RunningDrift {
  const { connection } = loadKubeConnection(s.kubeconfig, s.env)
  const api = kubeApi(connection)
  const metrics = new DriftMetrics(deps.registry)
  const identity = s.identity ?? `${s.env['HOSTNAME'] || 'wasm-admission'}_${randomUUID()}`
  const logger = deps.logger.child({ component: 'drift' })
  const publisher = new Publisher({ api, identity, reports: s.reports, events: s.events, logger, metrics })
  const controller = new DriftController({
    connection,
    images: deps.images,
    cluster: deps.cluster,
    policy: deps.policy,
    publisher,
    logger,
    metrics,
    excludeNamespaces: [...new Set([...s.excludeNamespaces, s.namespace])],
    debounceMs: s.debounceMs,
  })
  const elector = new LeaseElector({
    api,
    namespace: s.namespace,
    name: s.leaseName,
    identity,
    logger,
    ...(s.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: s.leaseDurationSeconds } : {}),
    ...(s.renewDeadlineMs !== undefined ? { renewDeadlineMs: s.renewDeadlineMs } : {}),
    ...(s.retryPeriodMs !== undefined ? { retryPeriodMs: s.retryPeriodMs } : {}),
    onStartedLeading: () => controller.setLeading(true),
    onStoppedLeading: () => controller.setLeading(false),
  })
  controller.start()
  elector.start()
  return {
    controller,
    elector,
    identity,
    async stop() {
      await elector.stop()
      await controller.stop()
      await connection.close()
    },
  }
}
