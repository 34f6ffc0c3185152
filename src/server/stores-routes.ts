/**
 * Queryable state over HTTP:
 *
 *   GET /stores                            the queryable steps of each running pipeline
 *   GET /stores/:step/:key                 200 { key, value } | 404 { error }
 *   GET /stores/:step?from=&to=&limit=     200 { entries: [{ key, value }] } (sorted by key)
 *     ?pipeline=name picks the pipeline when several have the step.
 *
 * On Kafka a worker answers for the keys of its own tasks only (a key another worker holds
 * reads as not found, for now).
 */
import type { FastifyInstance } from 'fastify'
import type { QueryableStore } from '../runtime/query.ts'
import type { Auth } from './auth.ts'

/** What the server needs from a runner. */
export interface Queryable {
  store(step: string, options?: { pipeline?: string }): QueryableStore
  /** Queryable steps per pipeline. */
  queryableSteps(): Record<string, string[]>
  /** Consumer-group runners: which worker holds a key (GroupRunner.locate). */
  locate?(
    step: string,
    key: string,
    options?: { pipeline?: string },
  ): Promise<{ local: boolean; task: string; owner?: { instance: string; url: string } }>
}

/** Marks a query sent on by another worker, so it is never sent on again. */
const FORWARDED = 'sluice-forwarded-by'

const MAX_RANGE = 10_000

export async function storesRoutes(
  app: FastifyInstance,
  options: { runner: Queryable | undefined; auth: Auth },
): Promise<void> {
  const { runner, auth } = options

  app.addHook('onRequest', async (request, reply) => {
    const denied = auth.check(request.headers.authorization, (request.query as { token?: string }).token, {
      kind: 'stores',
    })
    if (!denied.ok) return reply.code(denied.status).send({ error: denied.error, code: denied.code })
    if (!runner) {
      return reply.code(404).send({
        error: 'no pipelines run in this server (sluice serve): use sluice run',
        code: 'SLUICE_NOT_FOUND',
      })
    }
  })

  app.get('/stores', async () => ({ pipelines: runner!.queryableSteps() }))

  app.get<{ Params: { step: string; key: string }; Querystring: { pipeline?: string } }>(
    '/stores/:step/:key',
    async (request, reply) => {
      const { step, key } = request.params
      const store = runner!.store(step, pick(request.query.pipeline))
      const value = store.get(key)
      if (value !== undefined) return { key, value }
      const where =
        runner!.locate && !request.headers[FORWARDED]
          ? await runner!.locate(step, key, pick(request.query.pipeline))
          : null
      if (where && !where.local) {
        if (!where.owner) {
          return reply.code(503).send({
            error: `key "${key}" belongs to task ${where.task} of ${store.store}, which no live worker advertises right now (a rebalance in progress?); retry shortly`,
            code: 'SLUICE_KEY_OWNER_UNKNOWN',
          })
        }
        // The worker that holds the key answers; its answer is relayed as it is.
        const query =
          request.query.pipeline === undefined
            ? ''
            : `?pipeline=${encodeURIComponent(request.query.pipeline)}`
        const target = `${where.owner.url}/stores/${encodeURIComponent(step)}/${encodeURIComponent(key)}${query}`
        try {
          const res = await fetch(target, {
            headers: {
              [FORWARDED]: 'yes',
              ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
            },
            signal: AbortSignal.timeout(5_000),
          })
          void reply.header('sluice-answered-by', where.owner.instance)
          return reply.code(res.status).send(await res.json())
        } catch (error) {
          return reply.code(502).send({
            error: `key "${key}" is held by worker ${where.owner.instance} at ${where.owner.url}, which did not answer: ${(error as Error).message}`,
            code: 'SLUICE_KEY_OWNER_UNREACHABLE',
            owner: where.owner,
          })
        }
      }
      return reply
        .code(404)
        .send({ error: `no value for key "${key}" in ${store.store}`, code: 'SLUICE_KEY_NOT_FOUND' })
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
    const store = runner!.store(request.params.step, pick(request.query.pipeline))
    const entries = store.range({
      ...(from === undefined ? {} : { from }),
      ...(to === undefined ? {} : { to }),
      limit: n,
    })
    return { store: store.store, kind: store.kind, entries: entries.map(([key, value]) => ({ key, value })) }
  })
}

function pick(pipeline: string | undefined): { pipeline?: string } {
  return pipeline === undefined ? {} : { pipeline }
}
