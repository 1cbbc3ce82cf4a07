/**
 * `wasm-admission serve`: wires config, facts sources, policy, TLS and the two listeners, and runs
 * the graceful shutdown. Everything from the process (argv, env, signals, stdout) is passed in.
 */
import type { FastifyInstance, FastifyListenOptions } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import { setTimeout as delay } from 'node:timers/promises'
import { parseServeOptions, reviewDeadlineMs, serveHelp, type ServeOptions } from '../config/serve-options.js'
import { createLogger, requestLineLogger, stdoutDestination } from '../log/logger.js'
import { WebhookMetrics } from '../metrics/metrics.js'
import { PolicyStore } from '../policy/policy-store.js'
import { CertificateSource } from '../tls/cert-source.js'
import { buildWebhookApp, type WebhookTimeouts } from '../http/webhook-app.js'
import { trackConnections } from '../http/connection-drain.js'
import { buildHealthApp, readinessOf, type HealthCheck } from '../http/health-app.js'
import { NoClusterFacts, UninspectedImages } from '../facts/placeholders.js'
import type { ClusterFactsSource, ImageFactsSource } from '../domain/facts.js'
import type { Policy } from '../domain/policy.js'
import { loadKubeConfig, loadKubeConnection, type KubeConnection } from '../facts/cluster/kubeconfig.js'
import { InformerClusterSource } from '../facts/cluster/informers.js'
import { ImageInspector } from '../facts/images/inspector.js'
import { loadHostsDir } from '../facts/images/hosts.js'
import { ChainCredentialProvider, FileCredentialProvider, SecretCredentialProvider, type CredentialProvider } from '../facts/images/credentials.js'
import { loadRegistryConfig } from '../config/registry-config.js'
import { isWasmAdmissionError } from '../errors.js'
import { startDrift, type RunningDrift } from '../drift/run.js'

export interface FactsSources {
  images: ImageFactsSource
  cluster: ClusterFactsSource
}

export interface ServeIO {
  env: Record<string, string | undefined>
  stdout: (s: string) => void
  stderr: (s: string) => void
  /** Where signals come from (the process, in production). */
  signals?: { on(signal: 'SIGTERM' | 'SIGINT', fn: () => void): unknown; off?(signal: 'SIGTERM' | 'SIGINT', fn: () => void): unknown }
  /** Log destination (stdout by default). */
  logDestination?: DestinationStream
  /** Monotonic clock in ms. */
  now?: () => number
  /** Called once the health port listens (before the webhook port, which waits for a certificate). */
  onHealthListening?: (port: number) => void
  /** Overrides of the webhook listener's limits (tests use short ones; production keeps WEBHOOK_TIMEOUTS). */
  webhookTimeouts?: Partial<WebhookTimeouts>
  /** Lease timings of the drift controller (tests shorten them; production keeps the defaults). */
  driftTimings?: { leaseDurationSeconds?: number; renewDeadlineMs?: number; retryPeriodMs?: number }
  /** Builds the facts sources; the default builds the registry inspector and the informers. */
  factsSources?: (opts: ServeOptions, ctx: { logger: Logger; metrics: WebhookMetrics; policy: () => Policy; env: Record<string, string | undefined> }) => Promise<FactsSources>
}

export interface RunningServer {
  webhookPort: number
  healthPort: number
  logger: Logger
  metrics: WebhookMetrics
  policy: PolicyStore
  certificates: CertificateSource
  ready(): boolean
  /** Readiness false, wait the shutdown delay, drain connections, finish in-flight reviews, close everything. */
  shutdown(reason: string): Promise<void>
  /** Resolves when the server has shut down. */
  closed: Promise<void>
}

/**
 * Default facts sources: the registry inspector (unless --no-registry) and the informer-backed
 * cluster view (unless --no-cluster). What is switched off is replaced by a source that says so.
 */
export async function defaultFactsSources(opts: ServeOptions, ctx: { logger: Logger; metrics: WebhookMetrics; policy: () => Policy; env: Record<string, string | undefined> }): Promise<FactsSources> {
  // The informers use the light kubeconfig client; @kubernetes/client-node (about 75 MB of RSS) is
  // loaded only for --read-pull-secrets, whose readers use its API client (docs/benchmarks.md).
  const connection: KubeConnection | undefined = opts.noCluster ? undefined : loadKubeConnection(opts.kubeconfig, ctx.env).connection
  let images: ImageFactsSource = new UninspectedImages('image inspection disabled by --no-registry')
  if (!opts.noRegistry) {
    const { options, hostsDir } = opts.registryConfig ? loadRegistryConfig(opts.registryConfig) : { options: {}, hostsDir: undefined }
    const providers: CredentialProvider[] = []
    if (opts.registryCredentials) providers.push(new FileCredentialProvider(opts.registryCredentials))
    if (opts.readPullSecrets) {
      const { KubeSecretReaders } = await import('../facts/images/k8s-readers.js')
      const readers = new KubeSecretReaders(loadKubeConfig(opts.kubeconfig, ctx.env).kubeConfig)
      providers.push(new SecretCredentialProvider(readers.secrets, readers.serviceAccounts, (message) => ctx.logger.warn({ code: 'WA_ERR_IMAGE_UNAUTHORIZED' }, message)))
    }
    images = new ImageInspector({
      ...options,
      ...(hostsDir ? { hosts: await loadHostsDir(hostsDir) } : {}),
      ...(providers.length > 0 ? { credentials: new ChainCredentialProvider(providers) } : {}),
      metricsRegistry: ctx.metrics.registry,
    })
  }
  const cluster: ClusterFactsSource = opts.noCluster || !connection
    ? new NoClusterFacts()
    : new InformerClusterSource({ connection, policy: ctx.policy, logger: ctx.logger, metrics: ctx.metrics.registry })
  return { images, cluster }
}

function portOf(app: FastifyInstance): number {
  const addr = app.server.address()
  return typeof addr === 'object' && addr ? addr.port : 0
}

async function waitForCertificate(certs: CertificateSource, pollMs: number, stopped: () => boolean): Promise<void> {
  while (!certs.current() && !stopped()) {
    await delay(Math.min(pollMs, 1000))
    certs.refresh()
  }
}

export async function startServer(opts: ServeOptions, io: ServeIO): Promise<RunningServer> {
  const logger = createLogger(opts.logLevel, io.logDestination ?? stdoutDestination())
  const metrics = new WebhookMetrics()
  const now = io.now ?? (() => performance.now())
  const pollMs = opts.pollIntervalSeconds * 1000

  const policy = new PolicyStore(opts.policy, {
    onLoaded: (file) => {
      metrics.policyReloads.inc()
      logger.info({ file }, 'policy reloaded')
    },
    onRejected: (error) => {
      metrics.policyReloadErrors.inc()
      logger.error({ code: error.code }, `${error.message}; the previous policy stays in force`)
    },
  })
  policy.watch(pollMs)

  const certificates = new CertificateSource({
    dir: opts.tlsDir,
    pollIntervalMs: pollMs,
    onRotated: (pair) => {
      metrics.certNotAfter.set(pair.notAfter.getTime() / 1000)
      logger.info({ fingerprint: pair.fingerprint, notAfter: pair.notAfter.toISOString() }, 'serving certificate loaded')
    },
    onError: (error) => logger.error({ code: error.code }, error.message),
  })
  certificates.start()

  let shuttingDown = false
  const checks: HealthCheck[] = [
    { name: 'shutdown', check: () => ({ ready: !shuttingDown, detail: shuttingDown ? 'shutting down' : 'serving' }) },
    { name: 'tls', check: () => certificates.readiness() },
    { name: 'policy', check: () => policy.readiness() },
  ]
  let sources: FactsSources
  try {
    sources = await (io.factsSources ?? defaultFactsSources)(opts, { logger, metrics, policy: () => policy.current(), env: io.env })
  } catch (e) {
    policy.close()
    certificates.close()
    throw e
  }
  checks.push({ name: 'images', check: () => sources.images.readiness() }, { name: 'cluster', check: () => sources.cluster.readiness() })
  const health = buildHealthApp({ checks, metrics })
  await health.listen({ port: opts.healthPort, host: opts.host })
  io.onHealthListening?.(portOf(health))
  await sources.cluster.start?.()
  // The drift controller (docs/drift.md): background evaluation; only the Lease holder publishes.
  const drift: RunningDrift | undefined = opts.drift && !opts.noCluster
    ? startDrift(
        {
          kubeconfig: opts.kubeconfig,
          env: io.env,
          reports: opts.driftReports === 'true',
          events: opts.driftEvents === 'true',
          namespace: opts.driftNamespace,
          leaseName: opts.driftLeaseName,
          identity: opts.driftIdentity,
          excludeNamespaces: opts.driftExcludeNamespaces.split(',').map((n) => n.trim()).filter((n) => n !== ''),
          debounceMs: opts.driftDebounceMs,
          ...io.driftTimings,
        },
        { images: sources.images, cluster: sources.cluster, policy: () => policy.current(), logger, registry: metrics.registry },
      )
    : undefined

  await waitForCertificate(certificates, pollMs, () => shuttingDown)
  const pair = certificates.current()
  if (!pair) throw new Error('shut down before a certificate was available')
  const webhook = buildWebhookApp({
    tls: { key: pair.key, cert: pair.cert },
    deps: { images: sources.images, cluster: sources.cluster, policy: () => policy.current(), deadlineMs: reviewDeadlineMs(opts) },
    logger,
    requestLogger: requestLineLogger(logger),
    metrics,
    now,
    ...(io.webhookTimeouts ? { timeouts: io.webhookTimeouts } : {}),
  })
  const connections = trackConnections(webhook.server as unknown as import('node:http2').Http2SecureServer, { now })
  certificates.onChange((p) => {
    ;(webhook.server as unknown as { setSecureContext(o: { key: string; cert: string }): void }).setSecureContext({ key: p.key, cert: p.cert })
  })
  // reusePort (SO_REUSEPORT): several processes share the port and the kernel spreads connections.
  await webhook.listen({ port: opts.port, host: opts.host, ...(opts.reusePort ? { reusePort: true } : {}) } as FastifyListenOptions)
  logger.info({ webhookPort: portOf(webhook), healthPort: portOf(health) }, 'wasm-admission serving')

  let resolveClosed!: () => void
  const closed = new Promise<void>((r) => (resolveClosed = r))
  let shutdownPromise: Promise<void> | undefined
  const shutdown = (reason: string): Promise<void> => {
    shutdownPromise ??= (async () => {
      shuttingDown = true
      logger.info({ reason, delaySeconds: opts.shutdownDelaySeconds }, 'shutting down: readiness false, finishing in-flight reviews')
      if (opts.shutdownDelaySeconds > 0) await delay(opts.shutdownDelaySeconds * 1000)
      // The drift Lease is released first, so another replica publishes while this one drains.
      await drift?.stop()
      // Kept-alive connections close on an answer (Connection: close, GOAWAY) before the listener
      // closes; the apiserver keeps using the connections it has after the endpoint is gone.
      const open = connections.open()
      const drained = await connections.drain(opts.shutdownDrainSeconds * 1000)
      logger.info({ connections: open, idleClosedAtDeadline: drained.forced }, 'connections drained')
      await webhook.close()
      await health.close()
      await sources.cluster.stop?.()
      await sources.images.close?.()
      policy.close()
      certificates.close()
      logger.info('shut down')
      resolveClosed()
    })()
    return shutdownPromise
  }
  return {
    webhookPort: portOf(webhook),
    healthPort: portOf(health),
    logger,
    metrics,
    policy,
    certificates,
    ready: () => readinessOf(checks).ready,
    shutdown,
    closed,
  }
}

/** Entry point of `serve`; returns the exit code once the server has shut down. */
export async function runServe(argv: string[], io: ServeIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(serveHelp())
    return 0
  }
  let opts: ServeOptions
  try {
    opts = parseServeOptions(argv, io.env)
  } catch (e) {
    io.stderr(`wasm-admission serve: ${isWasmAdmissionError(e) ? `${e.message} (${e.code})` : String(e)}\n`)
    return 2
  }
  let server: RunningServer
  try {
    server = await startServer(opts, io)
  } catch (e) {
    io.stderr(`wasm-admission serve: cannot start: ${isWasmAdmissionError(e) ? `${e.message} (${e.code})` : (e as Error).message}\n`)
    return 1
  }
  const onSignal = (sig: string) => () => void server.shutdown(sig)
  const term = onSignal('SIGTERM')
  const int = onSignal('SIGINT')
  io.signals?.on('SIGTERM', term)
  io.signals?.on('SIGINT', int)
  await server.closed
  io.signals?.off?.('SIGTERM', term)
  io.signals?.off?.('SIGINT', int)
  return 0
}
