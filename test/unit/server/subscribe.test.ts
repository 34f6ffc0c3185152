/**
 * Live subscriptions (src/server/subscription.ts, subscribe-routes.ts) over real HTTP and
 * WebSocket on loopback: positions, resuming with Last-Event-ID without loss or repeats, and a
 * client that stops reading being dropped before it can grow server memory.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type EmbeddedLog, openEmbeddedLog } from 'sluice'
import { WebSocket } from 'ws'
import { type RunningServer, startServer } from '../../../src/server/server.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface SseEvent {
  id?: string
  event: string
  data: Record<string, unknown>
}

/** Reads SSE events from a fetch response until `until` says stop; then cancels the stream. */
async function readEvents(
  res: Response,
  until: (events: SseEvent[]) => boolean,
  timeoutMs = 10_000,
): Promise<SseEvent[]> {
  const events: SseEvent[] = []
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs)
  try {
    while (!until(events)) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
        const e: Partial<SseEvent> = {}
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) e.id = line.slice(4)
          else if (line.startsWith('event: ')) e.event = line.slice(7)
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6))
        }
        if (e.event) events.push(e as SseEvent)
      }
    }
  } finally {
    clearTimeout(deadline)
    await reader.cancel().catch(() => {})
  }
  return events
}

const records = (events: SseEvent[]) => events.filter((e) => e.event === 'record')

describe('GET /topics/:topic/stream and /ws', () => {
  let log: EmbeddedLog
  let server: RunningServer

  const produce = async (topic: string, values: number[]) => {
    const producer = log.producer()
    await producer.send(
      topic,
      values.map((n) => ({ key: Buffer.from(`k${n % 3}`), value: Buffer.from(JSON.stringify({ n })) })),
    )
    await producer.close()
  }

  before(async () => {
    log = await openEmbeddedLog({ dataDir: tempDir() })
    await log.createTopic('ticks', { partitions: 2 })
    await produce('ticks', [1, 2, 3, 4, 5, 6])
    server = await startServer({ port: 0, log })
  })

  after(async () => {
    await server.close()
    await log.close()
  })

  test('from=earliest sends every record with its position; Last-Event-ID resumes after the last seen', async () => {
    const first = await readEvents(
      await fetch(`${server.url}/topics/ticks/stream?from=earliest`),
      (e) => records(e).length >= 4,
    )
    assert.equal(first[0]!.event, 'ready')
    const seen = records(first).slice(0, 4)
    for (const e of seen) assert.match(e.id!, /^0:\d+,1:\d+$/)
    await produce('ticks', [7, 8])
    const resumed = await readEvents(
      await fetch(`${server.url}/topics/ticks/stream`, { headers: { 'last-event-id': seen.at(-1)!.id! } }),
      (e) => records(e).length >= 4,
    )
    const all = [...seen, ...records(resumed)]
      .map((e) => (e.data.value as { n: number }).n)
      .sort((a, b) => a - b)
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7, 8], 'nothing lost, nothing repeated across the reconnect')
  })

  test('from=latest sends only what arrives after the subscription', async () => {
    const res = await fetch(`${server.url}/topics/ticks/stream?from=latest&partition=1`)
    const reading = readEvents(res, (e) => records(e).length >= 1)
    await new Promise((r) => setTimeout(r, 200))
    await produce('ticks', [100, 101, 102])
    const got = records(await reading)
    assert.ok(got.length >= 1)
    for (const e of got) {
      assert.equal(e.data.partition, 1)
      assert.ok((e.data.value as { n: number }).n >= 100)
    }
  })

  test('from=<time> starts at the first record at or after that time', async () => {
    const before = Date.now()
    await new Promise((r) => setTimeout(r, 5))
    await produce('ticks', [200])
    const got = records(
      await readEvents(
        await fetch(`${server.url}/topics/ticks/stream?from=${new Date(before).toISOString()}`),
        (e) => records(e).length >= 1,
      ),
    )
    assert.deepEqual(
      got.map((e) => (e.data.value as { n: number }).n),
      [200],
    )
  })

  test('the WebSocket endpoint sends the same events as JSON messages', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/topics/ticks/ws?from=earliest`)
    const messages: { type: string; id?: string; data: { value?: { n: number } } }[] = []
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        messages.push(JSON.parse(String(m)))
        if (messages.filter((x) => x.type === 'record').length >= 12) resolve()
      })
      ws.on('error', reject)
      setTimeout(() => reject(new Error(`only ${messages.length} messages`)), 10_000)
    })
    ws.close()
    assert.equal(messages[0]!.type, 'ready')
    const ns = messages.filter((m) => m.type === 'record').map((m) => m.data.value!.n)
    assert.deepEqual(new Set(ns).size, ns.length, 'no record twice')
    assert.ok(ns.includes(1) && ns.includes(8))
  })

  test('bad parameters and unknown topics get 4xx JSON errors', async () => {
    const cases: [string, number, RegExp][] = [
      ['/topics/nope/stream', 404, /topic "nope" does not exist/],
      ['/topics/ticks/stream?from=yesterday', 400, /from must be earliest, latest/],
      ['/topics/ticks/stream?partition=9', 400, /partition must be 0 to 1/],
      ['/topics/ticks/stream?slow=wait', 400, /slow must be drop or skip/],
    ]
    for (const [path, status, message] of cases) {
      const res = await fetch(`${server.url}${path}`)
      assert.equal(res.status, status, path)
      assert.match(String(((await res.json()) as { error: string }).error), message)
    }
    const res = await fetch(`${server.url}/topics/ticks/stream`, { headers: { 'last-event-id': 'garbage' } })
    assert.equal(res.status, 400)
    await res.body?.cancel()
  })
})

test('a client that stops reading is dropped; server memory stays bounded', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  await log.createTopic('firehose', { partitions: 1 })
  const server = await startServer({
    port: 0,
    log,
    subscriptions: { highWaterBytes: 256 * 1024, slowAfterMs: 500 },
  })
  const { port } = new URL(server.url)
  // A raw socket that sends the request and then never reads a byte.
  const socket = connect(Number(port), '127.0.0.1')
  socket.write('GET /topics/firehose/stream?from=earliest HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  socket.pause()
  try {
    const heapBefore = process.memoryUsage().heapUsed
    const producer = log.producer()
    const value = Buffer.from(JSON.stringify({ pad: 'z'.repeat(1000) }))
    // ~60 MB of records: far more than socket buffers and the high-water mark hold.
    for (let i = 0; i < 60; i++)
      await producer.send(
        'firehose',
        Array.from({ length: 1000 }, () => ({ value })),
      )
    await producer.close()
    const deadline = Date.now() + 20_000
    while (server.subscriptions.dropped === 0) {
      if (Date.now() > deadline) throw new Error(`not dropped: ${JSON.stringify(server.subscriptions)}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(server.subscriptions.open, 0)
    const grown = process.memoryUsage().heapUsed - heapBefore
    assert.ok(grown < 40 * 1024 * 1024, `heap grew ${Math.round(grown / 1e6)} MB`)
  } finally {
    socket.destroy()
    await server.close()
    await log.close()
  }
})
