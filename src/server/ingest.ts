/**
 * `POST /topics/:topic/events`: events over HTTP into a topic.
 *
 *   Content-Type: application/json        one event
 *   Content-Type: application/x-ndjson    a batch, one event per line (also application/ndjson, application/jsonl)
 *
 * Key: the `Sluice-Key` header or `?key=` (every record of the request), else `?keyField=a.b`
 * (a field of each event), else the topic's declared `key` function, else none.
 * Responds 200 `{ topic, records: [{ partition, offset }] }` once every record is durably in
 * the log. A request is all-or-nothing: every record is validated before anything is appended,
 * and the records commit in one log transaction. `Idempotency-Key` makes a retry append
 * nothing and answer what the first request answered (`Idempotent-Replayed: true`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { encodeRecord, InvalidRecordError } from '../connectors/encode.ts'
import type { ProducerRecord } from '../log/types.ts'
import type { Auth } from './auth.ts'
import type { TopicCatalog } from './catalog.ts'
import { type Ingestor, Overloaded } from './ingestor.ts'

const NDJSON_TYPES = [
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
]
const MAX_IDEMPOTENCY_KEY = 255

export interface IngestRoutesOptions {
  catalog: TopicCatalog
  ingestor: Ingestor
  auth: Auth
  /** Largest request body (bytes). */
  maxBodyBytes: number
}

type IngestRequest = FastifyRequest<{
  Params: { topic: string }
  Querystring: { key?: string; keyField?: string; token?: string }
  Body: string
}>

export async function ingestRoutes(app: FastifyInstance, options: IngestRoutesOptions): Promise<void> {
  const { catalog, ingestor, auth } = options
  // Bodies are read as text here so that a malformed NDJSON batch can be reported by line.
  app.addContentTypeParser(['application/json', ...NDJSON_TYPES], { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  )

  app.post(
    '/topics/:topic/events',
    { bodyLimit: options.maxBodyBytes },
    async (request: IngestRequest, reply) => {
      const name = request.params.topic
      const denied = auth.check(request.headers.authorization, request.query.token, {
        kind: 'write',
        topic: name,
      })
      if (!denied.ok) return reply.code(denied.status).send({ error: denied.error, code: denied.code })
      const info = await catalog.get(name)
      if (!info) {
        return fail(
          reply,
          404,
          'SLUICE_UNKNOWN_TOPIC',
          `topic "${name}" does not exist: create it first (sluice topics create ${name} --partitions N)`,
        )
      }
      const idempotencyKey = header(request, 'idempotency-key')
      if (
        idempotencyKey !== undefined &&
        (idempotencyKey.length === 0 || idempotencyKey.length > MAX_IDEMPOTENCY_KEY)
      ) {
        return fail(
          reply,
          400,
          'SLUICE_INVALID_INPUT',
          `Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters`,
        )
      }
      const scopedKey = idempotencyKey === undefined ? undefined : `${name}\n${idempotencyKey}`
      if (scopedKey !== undefined) {
        let earlier: Awaited<ReturnType<Ingestor['replay']>>
        try {
          earlier = await ingestor.replay(scopedKey)
        } catch (error) {
          void reply.header('retry-after', '5')
          return fail(
            reply,
            503,
            'SLUICE_LOG_UNAVAILABLE',
            `the remembered Idempotency-Keys cannot be read (${(error as Error).message}); nothing was appended — retry later`,
          )
        }
        if (earlier !== undefined) {
          void reply.header('idempotent-replayed', 'true')
          return earlier
        }
      }
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
      const batch = NDJSON_TYPES.includes(type)
      if (!batch && type !== 'application/json') {
        return fail(
          reply,
          415,
          'SLUICE_UNSUPPORTED_MEDIA_TYPE',
          `Content-Type "${type}" is not taken: send application/json (one event) or application/x-ndjson (one event per line)`,
        )
      }
      const parsed = parseBody(request.body, batch)
      if ('error' in parsed) return fail(reply, 400, 'SLUICE_INVALID_INPUT', parsed.error)
      if (parsed.values.length === 0) {
        return fail(
          reply,
          400,
          'SLUICE_INVALID_INPUT',
          'the request holds no events: send one JSON event, or NDJSON lines',
        )
      }
      const fixedKey = header(request, 'sluice-key') ?? request.query.key
      const keyField = request.query.keyField
      const records: ProducerRecord[] = []
      let bytes = 0
      for (const [i, value] of parsed.values.entries()) {
        const where = batch ? `line ${parsed.lines[i]}: ` : ''
        let key: string | undefined = fixedKey
        if (key === undefined && keyField !== undefined) {
          const k = fieldAt(value, keyField)
          if (k === undefined || k === null || typeof k === 'object') {
            return fail(
              reply,
              422,
              'SLUICE_INVALID_INPUT',
              `${where}keyField "${keyField}" is missing or not a string/number in this event`,
            )
          }
          key = String(k)
        }
        let record: ProducerRecord
        try {
          record = encodeRecord(info.def, key === undefined ? { value } : { value, key })
        } catch (error) {
          if (error instanceof InvalidRecordError) {
            return fail(
              reply,
              422,
              'SLUICE_INVALID_INPUT',
              `${where}${error.message} (topic "${name}"); nothing was appended`,
            )
          }
          throw error
        }
        const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + 64
        if (size > info.maxRecordBytes) {
          return fail(
            reply,
            413,
            'SLUICE_RECORD_TOO_LARGE',
            `${where}the event is ${size} bytes; topic "${name}" takes records up to ${info.maxRecordBytes} bytes; nothing was appended`,
          )
        }
        bytes += size
        records.push(record)
      }
      try {
        return await ingestor.submit(name, records, bytes, scopedKey)
      } catch (error) {
        if (error instanceof Overloaded) {
          void reply.header('retry-after', '1')
          return fail(
            reply,
            429,
            'SLUICE_OVERLOADED',
            `${error.message}; nothing of this request was appended`,
          )
        }
        void reply.header('retry-after', '5')
        return fail(
          reply,
          503,
          'SLUICE_LOG_UNAVAILABLE',
          `the log did not take the events (${(error as Error).message}); nothing of this request was appended — retry later`,
        )
      }
    },
  )
}

function fail(reply: FastifyReply, status: number, code: string, error: string): FastifyReply {
  return reply.code(status).send({ error, code })
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** One JSON event, or NDJSON lines (blank lines are skipped; line numbers count from 1). */
function parseBody(
  body: unknown,
  batch: boolean,
): { values: unknown[]; lines: number[] } | { error: string } {
  if (typeof body !== 'string') return { error: 'send the events as a request body' }
  if (!batch) {
    try {
      return { values: body.trim() === '' ? [] : [JSON.parse(body)], lines: [1] }
    } catch (e) {
      return { error: `the body is not valid JSON: ${(e as Error).message}; nothing was appended` }
    }
  }
  const values: unknown[] = []
  const lines: number[] = []
  let line = 0
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    line++
    const text = body.slice(start, end).trim()
    start = end + 1
    if (text === '') continue
    try {
      values.push(JSON.parse(text))
      lines.push(line)
    } catch (e) {
      return { error: `line ${line} is not valid JSON: ${(e as Error).message}; nothing was appended` }
    }
  }
  return { values, lines }
}

function fieldAt(value: unknown, path: string): unknown {
  let at = value
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}
