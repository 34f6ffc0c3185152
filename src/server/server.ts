/**
 * Sluice's HTTP server (Fastify), hosted by `sluice run --port N`. This first part serves
 * queryable state; ingest, subscriptions, metrics and the dashboard join it (issue 6, 8).
 *
 *   GET /health                            200 { status, pipelines }
 *   GET /stores                            the queryable steps of each running pipeline
 *   GET /stores/:step/:key                 200 { key, value } | 404 { error }
 *   GET /stores/:step?from=&to=&limit=     200 { entries: [{ key, value }] } (sorted by key)
 *     ?pipeline=name picks the pipeline when several have the step.
 *
 * Errors are JSON `{ error, code }` naming the problem. On Kafka a worker answers for the keys
 * of its own tasks only (a key another worker holds reads as not found, for now).
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { isSluiceError } from '../errors.ts'
import type { QueryableStore } from '../runtime/query.ts'

/** What the server needs from a runner. */
export interface Queryable {
  store(step: string, options?: { pipeline?: string }): QueryableStore
  /** Queryable steps per pipeline. */
  queryableSteps(): Record<string, string[]>
}

export interface ServerOptions {
  host?: string
  port?: number
  runner: Queryable
}

const MAX_RANGE = 10_000

export async function startServer(options: ServerOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false })
  const { runner } = options

  app.setErrorHandler((error, _request, reply) => {
    const err = error as Error & { statusCode?: number; code?: string }
    if (isSluiceError(err)) {
      void reply
        .code(err.code === 'SLUICE_INVALID_ARGUMENT' ? 404 : 500)
        .send({ error: err.message, code: err.code })
      return
    }
    void reply.code(err.statusCode ?? 500).send({ error: err.message, code: err.code ?? 'SLUICE_INTERNAL' })
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: `no route ${request.method} ${request.url}: try GET /stores or GET /health`,
      code: 'SLUICE_NOT_FOUND',
    })
  })

  app.get('/health', async () => ({ status: 'ok', pipelines: Object.keys(runner.queryableSteps()) }))

  app.get('/stores', async () => ({ pipelines: runner.queryableSteps() }))

  app.get<{ Params: { step: string; key: string }; Querystring: { pipeline?: string } }>(
    '/stores/:step/:key',
    async (request, reply) => {
      const { step, key } = request.params
      const store = runner.store(step, pick(request.query.pipeline))
      const value = store.get(key)
      if (value === undefined) {
        return reply.code(404).send({
          error: `no value for key "${key}" in ${store.store} here (on Kafka it may be held by another worker)`,
          code: 'SLUICE_KEY_NOT_FOUND',
        })
      }
      return { key, value }
    },
  )

  app.get<{
    Params: { step: string }
    Querystring: { pipeline?: string; from?: string; to?: string; limit?: string }
  }>('/stores/:step', async (request, reply) => {
    const { from, to, limit } = request.query
    let n = MAX_RANGE
    if (limit !== undefined) {
      n = Number(limit)
      if (!Number.isInteger(n) || n < 1 || n > MAX_RANGE) {
        return reply.code(400).send({
          error: `limit must be a whole number from 1 to ${MAX_RANGE}, got "${limit}"`,
          code: 'SLUICE_INVALID_ARGUMENT',
        })
      }
    }
    const store = runner.store(request.params.step, pick(request.query.pipeline))
    const entries = store.range({
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      limit: n,
    })
    return { store: store.store, kind: store.kind, entries: entries.map(([key, value]) => ({ key, value })) }
  })

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 })
  return { app, url: address }
}

function pick(pipeline: string | undefined): { pipeline?: string } {
  return pipeline === undefined ? {} : { pipeline }
}
