/**
 * HTTP ingest (src/server/ingest.ts, ingestor.ts) over real HTTP on loopback into an embedded
 * log: responses name where each event landed; bad input is refused whole with a JSON error
 * that names the line; Idempotency-Key survives retries, concurrency and a restart; a full
 * queue answers 429; tokens scope what a client may write.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type EmbeddedLog, openEmbeddedLog, topic } from 'sluice'
import { z } from 'zod'
import { type RunningServer, startServer } from '../../../src/server/server.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const Order = z.object({ id: z.string(), customer: z.string(), amount: z.number().positive() })
const orders = topic('orders', { schema: Order, key: (o) => o.customer })

interface Reply {
  status: number
  headers: Headers
  body: Record<string, unknown>
}

async function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  })
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> }
}

async function readAll(log: EmbeddedLog, name: string) {
  const d = await log.describeTopic(name)
  const out: { partition: number; key: string | null; value: unknown }[] = []
  for (const p of d.partitionDetails) {
    for (const r of await log.fetch({ topic: name, partition: p.partition }, p.startOffset)) {
      out.push({
        partition: r.partition,
        key: r.key === null ? null : Buffer.from(r.key).toString(),
        value: JSON.parse(Buffer.from(r.value!).toString()),
      })
    }
  }
  return out
}

const ndjson = (...lines: unknown[]) => ({
  body: lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'),
  headers: { 'content-type': 'application/x-ndjson' },
})

describe('POST /topics/:topic/events', () => {
  let log: EmbeddedLog
  let server: RunningServer
  let base: string

  before(async () => {
    log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('orders', { partitions: 3 })
    await log.createTopic('raw', { partitions: 1, maxRecordBytes: 1024 })
    server = await startServer({ port: 0, log, topics: [orders as never] })
    base = server.url
  })

  after(async () => {
    await server.close()
    await log.close()
  })

  test('one JSON event lands keyed by the topic declaration; the response names where', async () => {
    const r = await post(
      base,
      '/topics/orders/events',
      JSON.stringify({ id: 'o1', customer: 'ada', amount: 5 }),
    )
    assert.equal(r.status, 200, JSON.stringify(r.body))
    const records = r.body.records as { partition: number; offset: number }[]
    assert.equal(records.length, 1)
    const [stored] = await log.fetch(
      { topic: 'orders', partition: records[0]!.partition },
      records[0]!.offset,
      {
        maxRecords: 1,
      },
    )
    assert.equal(Buffer.from(stored!.key!).toString(), 'ada')
    assert.deepEqual(JSON.parse(Buffer.from(stored!.value!).toString()), {
      id: 'o1',
      customer: 'ada',
      amount: 5,
    })
  })

  test('an NDJSON batch appends every line; Sluice-Key and keyField set keys', async () => {
    const batch = ndjson(
      { n: 1, user: { id: 'u1' } },
      '',
      { n: 2, user: { id: 'u2' } },
      { n: 3, user: { id: 'u1' } },
    )
    const byField = await post(base, '/topics/raw/events?keyField=user.id', batch.body, batch.headers)
    assert.equal(byField.status, 200, JSON.stringify(byField.body))
    assert.deepEqual(
      (byField.body.records as { offset: number }[]).map((r) => r.offset),
      [0, 1, 2],
    )
    const byHeader = await post(base, '/topics/raw/events', JSON.stringify({ n: 4 }), { 'sluice-key': 'k4' })
    assert.equal(byHeader.status, 200)
    assert.deepEqual(
      (await readAll(log, 'raw')).map((r) => r.key),
      ['u1', 'u2', 'u1', 'k4'],
    )
  })

  test('a malformed line refuses the whole batch and names the line', async () => {
    const before = (await readAll(log, 'orders')).length
    const batch = ndjson({ id: 'o2', customer: 'bo', amount: 1 }, '{"id": "o3", "customer": ', {
      id: 'o4',
      customer: 'cy',
      amount: 2,
    })
    const r = await post(base, '/topics/orders/events', batch.body, batch.headers)
    assert.equal(r.status, 400)
    assert.match(String(r.body.error), /^line 2 is not valid JSON: .*nothing was appended/)
    assert.equal((await readAll(log, 'orders')).length, before)
  })

  test('a schema violation refuses the whole batch and names the line and the field', async () => {
    const before = (await readAll(log, 'orders')).length
    const batch = ndjson(
      { id: 'o5', customer: 'bo', amount: 1 },
      { id: 'o6', customer: 'cy', amount: 2 },
      { id: 'o7', customer: 'di', amount: -3 },
    )
    const r = await post(base, '/topics/orders/events', batch.body, batch.headers)
    assert.equal(r.status, 422)
    assert.match(String(r.body.error), /^line 3: schema validation failed: amount: .*nothing was appended/)
    assert.equal((await readAll(log, 'orders')).length, before)
  })

  test('unknown topics, content types, empty bodies and oversized bodies and records get 4xx JSON errors', async () => {
    const unknown = await post(base, '/topics/nope/events', '{}')
    assert.equal(unknown.status, 404)
    assert.match(String(unknown.body.error), /topic "nope" does not exist: create it first/)
    const text = await post(base, '/topics/raw/events', 'hello', { 'content-type': 'text/plain' })
    assert.equal(text.status, 415)
    assert.match(String(text.body.error), /application\/x-ndjson/)
    const empty = await post(base, '/topics/raw/events', '\n\n', { 'content-type': 'application/x-ndjson' })
    assert.equal(empty.status, 400)
    assert.match(String(empty.body.error), /holds no events/)
    const big = await post(base, '/topics/raw/events', JSON.stringify({ pad: 'x'.repeat(2000) }))
    assert.equal(big.status, 413)
    assert.match(String(big.body.error), /takes records up to 1024 bytes; nothing was appended/)
    const huge = await post(base, '/topics/raw/events', JSON.stringify({ pad: 'x'.repeat(17 * 1024 * 1024) }))
    assert.equal(huge.status, 413)
    assert.match(String(huge.body.error), /larger than 16777216 bytes/)
  })

  test('Idempotency-Key: a retry, concurrent or after a restart, appends nothing twice', async () => {
    await log.createTopic('payments', { partitions: 2 })
    const send = (key: string, n: number) =>
      post(base, '/topics/payments/events', JSON.stringify({ n }), {
        'idempotency-key': key,
        'sluice-key': `k${n}`,
      })
    const first = await send('pay-1', 1)
    assert.equal(first.status, 200)
    const retry = await send('pay-1', 1)
    assert.equal(retry.status, 200)
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.deepEqual(retry.body, first.body)
    // Concurrent duplicates: one append, the same answer for all.
    const concurrent = await Promise.all([send('pay-2', 2), send('pay-2', 2), send('pay-2', 2)])
    assert.deepEqual(new Set(concurrent.map((r) => JSON.stringify(r.body))).size, 1)
    // A new server on the same log remembers the keys.
    await server.close()
    server = await startServer({ port: 0, log, topics: [orders as never] })
    base = server.url
    const afterRestart = await send('pay-1', 1)
    assert.equal(afterRestart.headers.get('idempotent-replayed'), 'true')
    assert.deepEqual(afterRestart.body, first.body)
    const fresh = await send('pay-3', 3)
    assert.equal(fresh.headers.get('idempotent-replayed'), null)
    assert.deepEqual(
      (await readAll(log, 'payments')).map((r) => (r.value as { n: number }).n).sort(),
      [1, 2, 3],
    )
  })
})

test('a full ingest queue answers 429 with Retry-After, and only refused requests are missing', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  await log.createTopic('burst', { partitions: 2 })
  const server = await startServer({ port: 0, log, ingest: { maxQueuedBytes: 4_000 } })
  try {
    const line = JSON.stringify({ pad: 'y'.repeat(300) })
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post(server.url, '/topics/burst/events', `${line}\n${line}\n${line}`, {
          'content-type': 'application/x-ndjson',
          'sluice-key': String(i),
        }),
      ),
    )
    const ok = replies.filter((r) => r.status === 200)
    const refused = replies.filter((r) => r.status === 429)
    assert.equal(ok.length + refused.length, 60, JSON.stringify(replies.map((r) => r.status)))
    assert.ok(refused.length > 0, 'some requests were refused')
    assert.ok(ok.length > 0, 'some requests were taken')
    assert.equal(refused[0]!.headers.get('retry-after'), '1')
    assert.match(String(refused[0]!.body.error), /ingest is behind.*nothing of this request was appended/)
    assert.equal((await readAll(log, 'burst')).length, ok.length * 3)
  } finally {
    await server.close()
    await log.close()
  }
})

test('tokens: no token 401, wrong scope 403, right scope 200', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  await log.createTopic('clicks', { partitions: 1 })
  await log.createTopic('secret', { partitions: 1 })
  const server = await startServer({
    port: 0,
    log,
    tokens: [{ token: 'writer-token-1', name: 'web', write: ['click*'], read: [] }],
  })
  try {
    const body = JSON.stringify({ x: 1 })
    const none = await post(server.url, '/topics/clicks/events', body)
    assert.equal(none.status, 401)
    assert.match(String(none.body.error), /Authorization: Bearer/)
    const wrong = await post(server.url, '/topics/clicks/events', body, {
      authorization: 'Bearer nope-nope-nope',
    })
    assert.equal(wrong.status, 401)
    const scope = await post(server.url, '/topics/secret/events', body, {
      authorization: 'Bearer writer-token-1',
    })
    assert.equal(scope.status, 403)
    assert.match(String(scope.body.error), /token "web" may not write topic "secret"/)
    const ok = await post(server.url, '/topics/clicks/events', body, {
      authorization: 'Bearer writer-token-1',
    })
    assert.equal(ok.status, 200)
    const read = await fetch(`${server.url}/topics/clicks/stream`, {
      headers: { authorization: 'Bearer writer-token-1' },
    })
    assert.equal(read.status, 403)
    await read.body?.cancel()
    assert.equal((await readAll(log, 'clicks')).length, 1)
    assert.equal((await readAll(log, 'secret')).length, 0)
  } finally {
    await server.close()
    await log.close()
  }
})

test('CORS: configured origins get the headers (and preflights pass), others do not', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  await log.createTopic('views', { partitions: 1 })
  const server = await startServer({ port: 0, log, cors: ['https://app.example.com'] })
  try {
    const preflight = await fetch(`${server.url}/topics/views/events`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,idempotency-key',
      },
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com')
    const allowed = await post(server.url, '/topics/views/events', '{"page":"/"}', {
      origin: 'https://app.example.com',
    })
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com')
    const other = await post(server.url, '/topics/views/events', '{"page":"/"}', {
      origin: 'https://evil.example',
    })
    assert.equal(other.headers.get('access-control-allow-origin'), null)
    // Without an Idempotency-Key the server never touches the idempotency topic (a Kafka worker
    // may have no ACL for it).
    assert.equal(await log.hasTopic('__sluice_ingest_keys'), false)
  } finally {
    await server.close()
    await log.close()
  }
})
