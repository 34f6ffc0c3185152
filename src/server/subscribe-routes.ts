/**
 * Live subscriptions over HTTP:
 *
 *   GET /topics/:topic/stream   Server-Sent Events (EventSource in a browser)
 *   GET /topics/:topic/ws       WebSocket: one JSON message per event, { type, id, data }
 *
 * Query: `from` (earliest | latest (default) | an offset | an ISO-8601 time | time:<ms>),
 * `partition` (one partition; default all), `slow` (drop (default) | skip), `token` (for
 * browsers, which cannot set headers on EventSource/WebSocket). `Last-Event-ID` (header, or
 * the `lastEventId` query parameter) resumes after the last event a client saw.
 * Events: `ready` (the starting positions), `record`, `skipped`, `error`.
 */
import type { ServerResponse } from 'node:http'
import type {} from '@fastify/websocket'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { Log, OffsetSpec } from '../log/types.ts'
import type { Auth } from './auth.ts'
import type { TopicCatalog, TopicInfo } from './catalog.ts'
import { type Channel, parseFrom, parsePositions, type SlowPolicy, subscribe } from './subscription.ts'

export interface SubscribeRoutesOptions {
  log: Log
  catalog: TopicCatalog
  auth: Auth
  highWaterBytes?: number
  slowAfterMs?: number
  /** Counts subscriptions, for /health and tests. */
  stats: SubscriptionStats
}

export interface SubscriptionStats {
  open: number
  dropped: number
}

type SubscribeRequest = FastifyRequest<{
  Params: { topic: string }
  Querystring: { from?: string; partition?: string; slow?: string; token?: string; lastEventId?: string }
}>

interface Start {
  info: TopicInfo
  start: { positions?: Map<number, number>; from?: OffsetSpec; partitions?: number[] }
  policy: SlowPolicy
}

export async function subscribeRoutes(app: FastifyInstance, options: SubscribeRoutesOptions): Promise<void> {
  const { log, catalog, auth, stats } = options

  /** Checks the request; on a problem sends the error and returns undefined. */
  const prepare = async (request: SubscribeRequest, reply: FastifyReply): Promise<Start | undefined> => {
    const name = request.params.topic
    const denied = auth.check(request.headers.authorization, request.query.token, {
      kind: 'read',
      topic: name,
    })
    if (!denied.ok) {
      await reply.code(denied.status).send({ error: denied.error, code: denied.code })
      return undefined
    }
    const info = await catalog.get(name)
    if (!info) {
      await reply.code(404).send({ error: `topic "${name}" does not exist`, code: 'SLUICE_UNKNOWN_TOPIC' })
      return undefined
    }
    const q = request.query
    const bad = async (error: string) => {
      await reply.code(400).send({ error, code: 'SLUICE_INVALID_ARGUMENT' })
      return undefined
    }
    const policy = q.slow ?? 'drop'
    if (policy !== 'drop' && policy !== 'skip') return bad(`slow must be drop or skip, got "${policy}"`)
    let partitions: number[] | undefined
    if (q.partition !== undefined) {
      const p = Number(q.partition)
      if (!Number.isInteger(p) || p < 0 || p >= info.partitions) {
        return bad(`partition must be 0 to ${info.partitions - 1} for topic "${name}", got "${q.partition}"`)
      }
      partitions = [p]
    }
    const lastId = (request.headers['last-event-id'] as string | undefined) ?? q.lastEventId
    let positions: Map<number, number> | undefined
    if (lastId !== undefined && lastId !== '') {
      positions = parsePositions(lastId)
      if (!positions)
        return bad(`Last-Event-ID must look like "0:15,1:3" (partition:next offset), got "${lastId}"`)
    }
    let from: OffsetSpec
    try {
      from = parseFrom(q.from)
    } catch (e) {
      return bad((e as Error).message)
    }
    return {
      info,
      policy,
      start: { from, ...(positions ? { positions } : {}), ...(partitions ? { partitions } : {}) },
    }
  }

  const run = async (s: Start, channel: Channel) => {
    stats.open++
    try {
      await subscribe(log, s.info, s.start, channel, {
        policy: s.policy,
        ...(options.highWaterBytes === undefined ? {} : { highWaterBytes: options.highWaterBytes }),
        ...(options.slowAfterMs === undefined ? {} : { slowAfterMs: options.slowAfterMs }),
      })
    } finally {
      stats.open--
      if ((channel as { dropped?: boolean }).dropped) stats.dropped++
      channel.close()
    }
  }

  app.get('/topics/:topic/stream', async (request: SubscribeRequest, reply) => {
    const s = await prepare(request, reply)
    if (!s) return reply
    // From here on the response is a stream this handler writes itself.
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.write('retry: 2000\n\n')
    const channel = new SseChannel(res)
    const keepAlive = setInterval(() => channel.comment('keep-alive'), 15_000)
    try {
      await run(s, channel)
    } finally {
      clearInterval(keepAlive)
    }
    return reply
  })

  app.get('/topics/:topic/ws', { websocket: true }, async (socket: WebSocket, request: SubscribeRequest) => {
    // The upgrade has happened: problems are reported as a message and a close code.
    const reply = {
      code: () => reply,
      send: async (body: unknown) => {
        socket.send(JSON.stringify({ type: 'error', data: body }))
        socket.close(1008, 'refused')
      },
    } as unknown as FastifyReply
    const s = await prepare(request, reply)
    if (!s) return
    await run(s, new WsChannel(socket))
  })
}

class SseChannel implements Channel {
  readonly #res: ServerResponse
  closed = false
  dropped = false

  constructor(res: ServerResponse) {
    this.#res = res
    res.on('close', () => {
      this.closed = true
    })
  }

  send(type: string, data: unknown, id?: string): void {
    if (this.closed) return
    if (type === 'error') this.dropped = (data as { code?: string }).code === 'SLUICE_SLOW_CONSUMER'
    this.#res.write(
      `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`,
    )
  }

  comment(text: string): void {
    if (!this.closed) this.#res.write(`: ${text}\n\n`)
  }

  buffered(): number {
    return this.#res.writableLength
  }

  drained(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#res.writableLength === 0 || this.closed) return resolve()
      const done = () => {
        clearTimeout(timer)
        this.#res.off('drain', done)
        this.#res.off('close', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#res.once('drain', done)
      this.#res.once('close', done)
    })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    // A dropped client must not keep its unread bytes in server memory.
    if (this.dropped) this.#res.destroy()
    else this.#res.end()
  }
}

class WsChannel implements Channel {
  readonly #socket: WebSocket
  closed = false
  dropped = false

  constructor(socket: WebSocket) {
    this.#socket = socket
    socket.on('close', () => {
      this.closed = true
    })
  }

  send(type: string, data: unknown, id?: string): void {
    if (this.closed) return
    if (type === 'error') this.dropped = (data as { code?: string }).code === 'SLUICE_SLOW_CONSUMER'
    this.#socket.send(JSON.stringify(id === undefined ? { type, data } : { type, id, data }))
  }

  buffered(): number {
    return this.#socket.bufferedAmount
  }

  async drained(ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.closed && this.#socket.bufferedAmount > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.dropped) this.#socket.terminate()
    else this.#socket.close(1000)
  }
}
