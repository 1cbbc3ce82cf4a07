import Fastify, { type FastifyInstance } from 'fastify'
import type { Readiness } from '../domain/readiness.js'
import type { WebhookMetrics } from '../metrics/metrics.js'

export interface HealthCheck {
  name: string
  check: () => Readiness
}

export function readinessOf(checks: readonly HealthCheck[]): { ready: boolean; checks: Record<string, Readiness> } {
  const out: Record<string, Readiness> = {}
  let ready = true
  for (const c of checks) {
    const r = c.check()
    out[c.name] = r
    if (!r.ready) ready = false
  }
  return { ready, checks: out }
}

/** Plain-HTTP listener for probes and Prometheus: /livez, /readyz, /metrics. */
export function buildHealthApp(opts: { checks: readonly HealthCheck[]; metrics: WebhookMetrics }): FastifyInstance {
  const app = Fastify({ logger: false })
  app.get('/livez', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const r = readinessOf(opts.checks)
    opts.metrics.ready.set(r.ready ? 1 : 0)
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks })
  })
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.metrics.registry.metrics()
    return reply.header('content-type', opts.metrics.registry.contentType).send(body)
  })
  return app
}
