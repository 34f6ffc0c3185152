/**
 * The HTTP server on the Kafka backend: ingest commits each request in a Kafka transaction
 * (read back read_committed), Idempotency-Key survives a server restart through the compacted
 * key topic, and an SSE subscriber resumes with Last-Event-ID with nothing lost or repeated.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Log } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import { type RunningServer, startServer } from '../../../src/server/server.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}${process.pid}`
const TOPIC = `http-orders-${run}`

let kafka: Log
let server: RunningServer

before(async () => {
  kafka = await openKafkaLog({ brokers })
  await kafka.createTopic(TOPIC, { partitions: 3 })
  server = await startServer({ port: 0, log: kafka, ingest: { instanceId: `test-${run}` } })
})

after(async () => {
  await server?.close()
  await kafka.deleteTopic(TOPIC).catch(() => {})
  await kafka.close()
})

async function post(body: string, headers: Record<string, string>) {
  const res = await fetch(`${server.url}/topics/${TOPIC}/events`, { method: 'POST', headers, body })
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed'),
    body: (await res.json()) as { records: { partition: number; offset: number }[] },
  }
}

async function readSse(url: string, headers: Record<string, string>, want: number) {
  const res = await fetch(url, { headers })
  const reader = res.body!.getReader()
  const out: { id: string; n: number }[] = []
  let buffer = ''
  const timer = setTimeout(() => void reader.cancel(), 30_000)
  while (out.length < want) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += Buffer.from(value).toString()
    let end = buffer.indexOf('\n\n')
    while (end !== -1 && out.length < want) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
      if (!block.includes('event: record')) continue
      const id = /^id: (.*)$/m.exec(block)![1]!
      const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as { value: { n: number } }
      out.push({ id, n: data.value.n })
    }
  }
  clearTimeout(timer)
  await reader.cancel().catch(() => {})
  return out
}

test('ingest on Kafka: one transaction per group of requests, idempotent across a restart, SSE resumes exactly', async () => {
  const lines = Array.from({ length: 30 }, (_, n) => JSON.stringify({ n, customer: `c${n % 7}` })).join('\n')
  const first = await post(lines, {
    'content-type': 'application/x-ndjson',
    'idempotency-key': 'batch-1',
  })
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.equal(first.body.records.length, 30)
  // Concurrent single events share commits.
  const singles = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      post(JSON.stringify({ n: 100 + i }), { 'content-type': 'application/json', 'sluice-key': `k${i}` }),
    ),
  )
  assert.deepEqual(new Set(singles.map((s) => s.status)), new Set([200]))

  await server.close()
  server = await startServer({ port: 0, log: kafka, ingest: { instanceId: `test-${run}` } })
  const retry = await post(lines, { 'content-type': 'application/x-ndjson', 'idempotency-key': 'batch-1' })
  assert.equal(retry.replayed, 'true')
  assert.deepEqual(retry.body, first.body)

  // 50 records in the topic: read 20, reconnect with the last id, read the other 30.
  const url = `${server.url}/topics/${TOPIC}/stream?from=earliest`
  const part1 = await readSse(url, {}, 20)
  const part2 = await readSse(
    `${server.url}/topics/${TOPIC}/stream`,
    { 'last-event-id': part1.at(-1)!.id },
    30,
  )
  const ns = [...part1, ...part2].map((r) => r.n).sort((a, b) => a - b)
  assert.deepEqual(ns, [
    ...Array.from({ length: 30 }, (_, n) => n),
    ...Array.from({ length: 20 }, (_, i) => 100 + i),
  ])
})
