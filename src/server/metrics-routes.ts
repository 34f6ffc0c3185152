/**
 * Figures over HTTP:
 *
 *   GET /metrics        Prometheus text: per pipeline, task, input partition and connector
 *   GET /api/metrics    the same as JSON, with latency and commit-duration percentiles per
 *                       pipeline (for `sluice status` and the dashboard)
 */
import type { FastifyInstance } from 'fastify'
import type { ConnectorStatus } from '../connectors/status.ts'
import { Histogram } from '../runtime/metrics/histogram.ts'
import { mergedLatency, type PipelineMetrics } from '../runtime/metrics/snapshot.ts'
import type { Auth } from './auth.ts'
import { renderPrometheus, type ServerFigures } from './prometheus.ts'

export interface MetricsSources {
  pipelines: () => PipelineMetrics[]
  connectors: () => ConnectorStatus[]
  server: () => ServerFigures
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export async function metricsRoutes(
  app: FastifyInstance,
  options: { sources: MetricsSources; auth: Auth },
): Promise<void> {
  const { sources, auth } = options
  app.addHook('onRequest', async (request, reply) => {
    const denied = auth.check(request.headers.authorization, (request.query as { token?: string }).token, {
      kind: 'metrics',
    })
    if (!denied.ok) return reply.code(denied.status).send({ error: denied.error, code: denied.code })
  })

  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
    return renderPrometheus(sources.pipelines(), sources.connectors(), sources.server())
  })

  app.get('/api/metrics', async () => {
    const pipelines = sources.pipelines()
    return {
      at: Date.now(),
      pipelines: pipelines.map((p) => ({
        ...p,
        latency: summary(mergedLatency(p.tasks, 'latency')),
        eventLatency: summary(mergedLatency(p.tasks, 'eventLatency')),
        ...(p.commitLatency ? { commitDuration: summary(Histogram.from(p.commitLatency)) } : {}),
      })),
      connectors: sources.connectors(),
      server: sources.server(),
    }
  })
}

function summary(h: Histogram): LatencySummary {
  return {
    count: h.count,
    p50: h.percentile(0.5),
    p90: h.percentile(0.9),
    p99: h.percentile(0.99),
    p999: h.percentile(0.999),
    max: h.maxMs,
  }
}
