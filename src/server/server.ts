/**
 * Sluice's HTTP server (Fastify), hosted by `sluice run` and `sluice serve`:
 *
 *   GET  /health                       200 { status, pipelines, subscriptions }
 *   POST /topics/:topic/events         ingest (ingest.ts)
 *   GET  /topics/:topic/stream         Server-Sent Events (subscribe-routes.ts)
 *   GET  /topics/:topic/ws             WebSocket
 *   GET  /stores…                      queryable state (stores-routes.ts)
 *   GET  /api/…                        figures, topologies, topics, dead letters (metrics-routes.ts, api-routes.ts)
 *   GET  /                             the dashboard (dashboard-routes.ts)
 *
 * Errors are JSON `{ error, code }` naming the problem and what to do.
 */
import cors from '@fastify/cors'
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ConnectorStatus } from '../connectors/status.ts'
import type { TopicDef } from '../dsl/topic.ts'
import { isSluiceError } from '../errors.ts'
import type { Log } from '../log/types.ts'
import type { PipelineMetrics } from '../runtime/metrics/snapshot.ts'
import type { Topology } from '../topology/compile.ts'
import { topologyGraph } from '../topology/graph.ts'
import { apiRoutes } from './api-routes.ts'
import { Auth, type TokenGrant } from './auth.ts'
import { TopicCatalog } from './catalog.ts'
import { dashboardRoutes } from './dashboard-routes.ts'
import { ingestRoutes } from './ingest.ts'
import { Ingestor, type IngestorOptions } from './ingestor.ts'
import { metricsRoutes } from './metrics-routes.ts'
import { type Queryable, storesRoutes } from './stores-routes.ts'
import { type SubscriptionStats, subscribeRoutes } from './subscribe-routes.ts'

export type { Queryable } from './stores-routes.ts'

export interface ServerOptions {
  host?: string
  port?: number
  /** Pipelines whose state `/stores` reads and whose figures `/metrics` shows (none under `sluice serve`). */
  runner?: Queryable & { metrics?(): PipelineMetrics[] }
  /** The running pipelines' topologies, for the dashboard's graphs. */
  topologies?: readonly Topology[]
  /** Where the built dashboard is (default dashboard/dist of this package). */
  dashboardDir?: string
  /** The running connectors' figures, for `/metrics`. */
  connectors?: () => ConnectorStatus[]
  /** The log ingest appends to and subscriptions read from; without it those routes are off. */
  log?: Log
  /** Typed topic declarations: ingest validates against their schema and keys by their key. */
  topics?: Iterable<TopicDef<unknown>>
  /** Bearer tokens; none: no auth (the CLI allows that on loopback only). */
  tokens?: readonly TokenGrant[]
  /** Allowed CORS origins (`*` for any); none: no CORS headers. */
  cors?: readonly string[]
  /** Largest ingest request body (default 16 MiB). */
  maxBodyBytes?: number
  ingest?: IngestorOptions
  subscriptions?: { highWaterBytes?: number; slowAfterMs?: number }
}

export interface RunningServer {
  app: FastifyInstance
  url: string
  subscriptions: SubscriptionStats
  /** Stops accepting, ends subscriptions, waits for queued ingest commits. */
  close(): Promise<void>
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024
  const app = Fastify({ logger: false, bodyLimit: maxBodyBytes, forceCloseConnections: true })
  const auth = new Auth(options.tokens ?? [])
  const stats: SubscriptionStats = { open: 0, dropped: 0 }

  app.setErrorHandler((error, _request, reply) => {
    const err = error as Error & { statusCode?: number; code?: string }
    if (isSluiceError(err)) {
      void reply
        .code(err.code === 'SLUICE_INVALID_ARGUMENT' ? 404 : 500)
        .send({ error: err.message, code: err.code })
      return
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void reply.code(413).send({
        error: `the request body is larger than ${maxBodyBytes} bytes: send smaller batches`,
        code: 'SLUICE_BODY_TOO_LARGE',
      })
      return
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      void reply.code(415).send({
        error:
          'send events as Content-Type: application/json (one event) or application/x-ndjson (one event per line)',
        code: 'SLUICE_UNSUPPORTED_MEDIA_TYPE',
      })
      return
    }
    void reply.code(err.statusCode ?? 500).send({ error: err.message, code: err.code ?? 'SLUICE_INTERNAL' })
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: `no route ${request.method} ${request.url}: see GET /health; routes: POST /topics/<t>/events, GET /topics/<t>/stream, GET /stores`,
      code: 'SLUICE_NOT_FOUND',
    })
  })

  if (options.cors && options.cors.length > 0) {
    const origins = options.cors
    await app.register(cors, { origin: origins.includes('*') ? true : [...origins], credentials: false })
  }
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } })

  app.get('/health', async () => ({
    status: 'ok',
    pipelines: options.runner ? Object.keys(options.runner.queryableSteps()) : [],
    subscriptions: stats.open,
  }))

  await app.register(storesRoutes, { runner: options.runner, auth })

  let ingestor: Ingestor | undefined
  await app.register(metricsRoutes, {
    auth,
    sources: {
      pipelines: () => options.runner?.metrics?.() ?? [],
      connectors: () => options.connectors?.() ?? [],
      server: () => ({
        subscriptionsOpen: stats.open,
        subscriptionsDropped: stats.dropped,
        ingestQueuedBytes: ingestor?.queuedBytes ?? 0,
      }),
    },
  })
  if (options.log) {
    const catalog = new TopicCatalog(options.log, options.topics ?? [])
    ingestor = new Ingestor(options.log, options.ingest ?? {})
    await app.register(ingestRoutes, { catalog, ingestor, auth, maxBodyBytes })
    await app.register(subscribeRoutes, {
      log: options.log,
      catalog,
      auth,
      stats,
      ...options.subscriptions,
    })
  }
  await app.register(apiRoutes, {
    auth,
    pipelines: (options.topologies ?? []).map(topologyGraph),
    ...(options.log && ingestor ? { log: { log: options.log, ingestor } } : {}),
  })
  await app.register(dashboardRoutes, options.dashboardDir === undefined ? {} : { dir: options.dashboardDir })

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 })
  return {
    app,
    url: address,
    subscriptions: stats,
    close: async () => {
      await ingestor?.close()
      await app.close()
    },
  }
}
