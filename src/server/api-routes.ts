/**
 * What the dashboard reads besides `/api/metrics`:
 *
 *   GET  /api/session                         200 { auth, token: none | valid | invalid } (never 401:
 *                                             the dashboard asks before it calls anything else)
 *   GET  /api/pipelines                       each pipeline's topology as a graph (topology/graph.ts)
 *   GET  /api/topics                          the topics this token may read: partitions, offsets,
 *                                             retention, bytes
 *   GET  /api/topics/:topic                   one of them
 *   GET  /api/dead-letters/:topic?limit=N     the newest N records of a dead-letter topic with what
 *                                             failed, where and why (its sluice-* headers)
 *   POST /api/dead-letters/:topic/:partition/:offset/replay
 *                                             re-sends a dead letter's original key and value to
 *                                             the topic it came from, once
 *
 * Auth: pipelines need any valid token (like /metrics); a topic's details and dead letters need
 * read on that topic; a replay needs read on the dead-letter topic and write on the source topic.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isSluiceError } from '../errors.ts'
import type { Log, LogRecord, TopicDescription } from '../log/types.ts'
import type { TopologyGraph } from '../topology/graph.ts'
import type { Access, Auth } from './auth.ts'
import { type Ingestor, Overloaded } from './ingestor.ts'

export interface ApiRoutesOptions {
  auth: Auth
  pipelines: readonly TopologyGraph[]
  /** Without a log the topic and dead-letter routes answer 404. */
  log?: { log: Log; ingestor: Ingestor }
}

/** Header a replayed record carries: `<dead-letter topic>/<partition>/<offset>` it came from. */
export const REPLAY_HEADER = 'sluice-replay-of'

const MAX_DEAD_LETTERS = 1_000
/** Value bytes shown per dead letter: enough to recognise a record, bounded for huge ones. */
const PREVIEW_BYTES = 4_096

export interface TopicSummary {
  name: string
  partitions: number
  /** Records stored now (end − start over the partitions; compaction gaps count as records). */
  records: number
  bytes: number
  retentionMs: number | null
  retentionBytes: number | null
  compact: boolean
  maxRecordBytes: number
  partitionDetails: Array<{ partition: number; startOffset: number; endOffset: number; bytes: number }>
}

export interface DeadLetterView {
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  valueBytes: number
  error: string
  stack: string
  operator: string
  pipeline: string
  origin: { topic: string; partition: number; offset: number } | null
}

interface Query {
  token?: string
  limit?: string
}

export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { auth, pipelines } = options
  const check = (request: FastifyRequest, access: Access) =>
    auth.check(request.headers.authorization, (request.query as Query).token, access)
  /** Sends the refusal and returns true when the request may not do `access`. */
  const refused = (request: FastifyRequest, reply: FastifyReply, access: Access): boolean => {
    const result = check(request, access)
    if (result.ok) return false
    void reply.code(result.status).send({ error: result.error, code: result.code })
    return true
  }

  app.get('/api/session', async (request) => {
    if (!auth.enabled) return { auth: false, token: 'none' }
    const result = check(request, { kind: 'metrics' })
    const presented =
      request.headers.authorization !== undefined || (request.query as Query).token !== undefined
    return { auth: true, token: result.ok ? 'valid' : presented ? 'invalid' : 'none' }
  })

  app.get('/api/pipelines', async (request, reply) => {
    if (refused(request, reply, { kind: 'metrics' })) return reply
    return { pipelines }
  })

  const needLog = (reply: FastifyReply) => {
    if (options.log) return options.log
    void reply
      .code(404)
      .send({ error: 'this server has no log to read topics from', code: 'SLUICE_NOT_FOUND' })
    return undefined
  }

  app.get('/api/topics', async (request, reply) => {
    if (refused(request, reply, { kind: 'metrics' })) return reply
    const parts = needLog(reply)
    if (!parts) return reply
    const names = (await parts.log.listTopics()).filter(
      (name) => check(request, { kind: 'read', topic: name }).ok,
    )
    const topics: TopicSummary[] = []
    for (const name of names.sort()) {
      const d = await describe(parts.log, name)
      if (d) topics.push(summary(d))
    }
    return { topics }
  })

  app.get<{ Params: { topic: string } }>('/api/topics/:topic', async (request, reply) => {
    const name = request.params.topic
    if (refused(request, reply, { kind: 'read', topic: name })) return reply
    const parts = needLog(reply)
    if (!parts) return reply
    const d = await describe(parts.log, name)
    if (!d) return unknownTopic(reply, name)
    return summary(d)
  })

  app.get<{ Params: { topic: string } }>('/api/dead-letters/:topic', async (request, reply) => {
    const name = request.params.topic
    if (refused(request, reply, { kind: 'read', topic: name })) return reply
    const parts = needLog(reply)
    if (!parts) return reply
    const limitText = (request.query as Query).limit
    const limit = limitText === undefined ? 100 : Number(limitText)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DEAD_LETTERS) {
      return reply.code(400).send({
        error: `limit must be a whole number from 1 to ${MAX_DEAD_LETTERS}, got "${limitText}"`,
        code: 'SLUICE_INVALID_ARGUMENT',
      })
    }
    const d = await describe(parts.log, name)
    if (!d) return unknownTopic(reply, name)
    const records: LogRecord[] = []
    for (const p of d.partitionDetails) {
      records.push(...(await lastRecords(parts.log, name, p.partition, p.startOffset, p.endOffset, limit)))
    }
    records.sort((a, b) => b.timestamp - a.timestamp || b.offset - a.offset)
    return { topic: name, records: records.slice(0, limit).map(deadLetterView) }
  })

  app.post<{ Params: { topic: string; partition: string; offset: string } }>(
    '/api/dead-letters/:topic/:partition/:offset/replay',
    async (request, reply) => {
      const { topic } = request.params
      const partition = Number(request.params.partition)
      const offset = Number(request.params.offset)
      if (refused(request, reply, { kind: 'read', topic })) return reply
      const parts = needLog(reply)
      if (!parts) return reply
      if (!Number.isInteger(partition) || partition < 0 || !Number.isInteger(offset) || offset < 0) {
        return reply.code(400).send({
          error: `partition and offset must be whole numbers, got "${request.params.partition}" and "${request.params.offset}"`,
          code: 'SLUICE_INVALID_ARGUMENT',
        })
      }
      const d = await describe(parts.log, topic)
      if (!d) return unknownTopic(reply, topic)
      const p = d.partitionDetails.find((x) => x.partition === partition)
      const record =
        p && offset >= p.startOffset && offset < p.endOffset
          ? (await parts.log.fetch({ topic, partition }, offset, { maxRecords: 1 }))[0]
          : undefined
      if (!record || record.offset !== offset) {
        return reply.code(404).send({
          error: `no record at ${topic}/${partition}/${offset} (retention or compaction may have removed it)`,
          code: 'SLUICE_NOT_FOUND',
        })
      }
      const view = deadLetterView(record)
      if (!view.origin) {
        return reply.code(422).send({
          error:
            `${topic}/${partition}/${offset} names no source topic (no sluice-source-topic header): ` +
            'it did not come from a source record, so there is nothing to re-send it to',
          code: 'SLUICE_NOT_REPLAYABLE',
        })
      }
      const target = view.origin.topic
      if (refused(request, reply, { kind: 'write', topic: target })) return reply
      const source = await describe(parts.log, target)
      if (!source) return unknownTopic(reply, target)
      const from = `${topic}/${partition}/${offset}`
      const replayed = {
        key: record.key,
        value: record.value,
        headers: { [REPLAY_HEADER]: from },
        // Back to the partition it was read from, so keyless records keep their order there.
        ...(view.origin.partition < source.partitionDetails.length
          ? { partition: view.origin.partition }
          : {}),
      }
      const bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0) + 64
      // Through the ingest commit loop with an idempotency key per dead letter: a second click
      // (or a retry after a lost response) answers where the first replay landed, and appends nothing.
      const key = `${target}\nsluice-replay:${from}`
      try {
        const earlier = await parts.ingestor.replay(key)
        const result = earlier ?? (await parts.ingestor.submit(target, [replayed], bytes, key))
        const landed = result.records?.[0]
        return {
          replayed: from,
          topic: target,
          partition: landed?.partition ?? null,
          offset: landed?.offset ?? null,
          alreadyReplayed: earlier !== undefined,
        }
      } catch (error) {
        if (error instanceof Overloaded) void reply.header('retry-after', '1')
        return reply.code(error instanceof Overloaded ? 429 : 503).send({
          error: `the replay was not appended (${(error as Error).message}); retry later`,
          code: error instanceof Overloaded ? 'SLUICE_OVERLOADED' : 'SLUICE_LOG_UNAVAILABLE',
        })
      }
    },
  )
}

async function describe(log: Log, name: string): Promise<TopicDescription | undefined> {
  try {
    return await log.describeTopic(name)
  } catch (error) {
    if (isSluiceError(error, 'SLUICE_UNKNOWN_TOPIC') || isSluiceError(error, 'SLUICE_INVALID_TOPIC_NAME')) {
      return undefined
    }
    throw error
  }
}

function unknownTopic(reply: FastifyReply, name: string): FastifyReply {
  return reply.code(404).send({ error: `topic "${name}" does not exist`, code: 'SLUICE_UNKNOWN_TOPIC' })
}

function summary(d: TopicDescription): TopicSummary {
  return {
    name: d.name,
    partitions: d.partitionDetails.length,
    records: d.partitionDetails.reduce((n, p) => n + (p.endOffset - p.startOffset), 0),
    bytes: d.partitionDetails.reduce((n, p) => n + p.bytes, 0),
    retentionMs: d.retentionMs,
    retentionBytes: d.retentionBytes,
    compact: d.compact,
    maxRecordBytes: d.maxRecordBytes,
    partitionDetails: d.partitionDetails.map((p) => ({
      partition: p.partition,
      startOffset: p.startOffset,
      endOffset: p.endOffset,
      bytes: p.bytes,
    })),
  }
}

/** The last `limit` records of a partition (fewer where offsets have gaps). */
async function lastRecords(
  log: Log,
  topic: string,
  partition: number,
  start: number,
  end: number,
  limit: number,
): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  let offset = Math.max(start, end - limit)
  while (offset < end) {
    const batch = await log.fetch({ topic, partition }, offset, { maxRecords: end - offset })
    if (batch.length === 0) break
    out.push(...batch.filter((r) => r.offset < end))
    offset = batch.at(-1)!.offset + 1
  }
  return out.slice(-limit)
}

function deadLetterView(r: LogRecord): DeadLetterView {
  const h = r.headers
  const originTopic = h['sluice-source-topic']
  const originPartition = Number(h['sluice-source-partition'])
  const originOffset = Number(h['sluice-source-offset'])
  const value = r.value === null ? null : Buffer.from(r.value.subarray(0, PREVIEW_BYTES)).toString()
  return {
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key).toString(),
    value,
    valueBytes: r.value?.length ?? 0,
    error: h['sluice-error'] ?? '',
    stack: h['sluice-error-stack'] ?? '',
    operator: h['sluice-operator'] ?? '',
    pipeline: h['sluice-pipeline'] ?? '',
    origin:
      originTopic !== undefined && Number.isInteger(originPartition) && Number.isInteger(originOffset)
        ? { topic: originTopic, partition: originPartition, offset: originOffset }
        : null,
  }
}
