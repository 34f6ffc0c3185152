/**
 * webhook(): against a real node:http server on loopback — signed batches, retries (503, 429
 * with Retry-After, connection refused), dead letters after the retries and for a 400.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { verifyWebhookSignature, webhook } from '../../../src/connectors/webhook/index.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Received {
  at: number
  headers: IncomingMessage['headers']
  body: string
}

type Handler = (req: Received, res: ServerResponse) => void

describe('webhook', () => {
  const dataDir = tempDir()
  let log: EmbeddedLog
  let server: Server
  let url: string
  let received: Received[] = []
  let handler: Handler = (_, res) => res.end()

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
    server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const r = { at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString() }
        received.push(r)
        handler(r, res)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await log.close()
  })

  async function produce(name: string, values: unknown[], partitions = 1) {
    if (!(await log.hasTopic(name))) await log.createTopic(name, { partitions })
    const producer = log.producer()
    await producer.send(
      name,
      values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(JSON.stringify(v)) })),
    )
    await producer.close()
  }

  async function running<R>(runner: ConnectorRunner, body: () => Promise<R>): Promise<R> {
    runner.start()
    try {
      return await body()
    } finally {
      await runner.stop()
    }
  }

  test('POSTs JSON batches per partition, signed and with an idempotency key', async () => {
    received = []
    handler = (_, res) => res.end()
    const values = Array.from({ length: 10 }, (_, i) => ({ i }))
    await produce('wh-signed', values, 2)
    const secret = 'shh'
    const c = connect('wh-signed', {
      from: topic('wh-signed'),
      to: webhook({ url, secret, headers: { authorization: 'Bearer t0k' }, batchSize: 3 }),
    })
    await running(new ConnectorRunner(log, [c]), () =>
      waitFor('every record', () => received.flatMap((r) => JSON.parse(r.body)).length >= 10),
    )
    const delivered = received.flatMap(
      (r) => JSON.parse(r.body) as { partition: number; offset: number; value: unknown; key: string }[],
    )
    assert.deepEqual(
      delivered.map((d) => d.value).sort((a, b) => (a as { i: number }).i - (b as { i: number }).i),
      values,
    )
    for (const r of received) {
      const batch = JSON.parse(r.body) as { topic: string; partition: number; offset: number }[]
      assert.ok(batch.length <= 3)
      assert.equal(new Set(batch.map((b) => b.partition)).size, 1, 'one partition per request')
      assert.equal(
        r.headers['idempotency-key'],
        `wh-signed:wh-signed:${batch[0]!.partition}:${batch[0]!.offset}-${batch.at(-1)!.offset}`,
      )
      assert.equal(r.headers['content-type'], 'application/json')
      assert.equal(r.headers.authorization, 'Bearer t0k')
      // What a receiver does, by hand: HMAC-SHA256 over "<t>.<raw body>".
      const signature = r.headers['sluice-signature'] as string
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!
      assert.equal(v1, createHmac('sha256', secret).update(`${t}.${r.body}`).digest('hex'))
      assert.ok(Math.abs(Number(t) - Date.now() / 1000) < 60)
      assert.ok(verifyWebhookSignature(secret, signature, r.body))
      assert.ok(
        !verifyWebhookSignature(secret, signature, r.body.replace('"i":', '"j":')),
        'a changed body fails',
      )
      assert.ok(!verifyWebhookSignature('other', signature, r.body), 'another secret fails')
    }
  })

  test('503, then 200: the batch is delivered after one retry, with the same idempotency key', async () => {
    received = []
    handler = (_, res) => {
      res.statusCode = received.length === 1 ? 503 : 200
      res.end()
    }
    await produce('wh-retry', [{ a: 1 }, { a: 2 }])
    const c = connect('wh-retry', {
      from: topic('wh-retry'),
      to: webhook({ url, backoff: { initialMs: 20 } }),
    })
    const runner = new ConnectorRunner(log, [c])
    await running(runner, async () => {
      await waitFor('the retry', () => received.length >= 2)
      await new Promise((r) => setTimeout(r, 400))
    })
    assert.equal(received.length, 2, 'one failed attempt and one delivery, nothing more')
    assert.equal(received[0]!.body, received[1]!.body)
    assert.equal(received[0]!.headers['idempotency-key'], received[1]!.headers['idempotency-key'])
    assert.deepEqual(
      (JSON.parse(received[1]!.body) as { value: unknown }[]).map((r) => r.value),
      [{ a: 1 }, { a: 2 }],
    )
    assert.deepEqual(await readTopic(log, 'wh-retry-dlq'), [])
    assert.equal(runner.status()[0]!.records, 2)
  })

  test('429 with Retry-After: the next attempt waits as long as the receiver asked', async () => {
    received = []
    handler = (_, res) => {
      if (received.length === 1) res.writeHead(429, { 'retry-after': '1' })
      res.end()
    }
    await produce('wh-429', [{ a: 1 }])
    const c = connect('wh-429', { from: topic('wh-429'), to: webhook({ url, backoff: { initialMs: 10 } }) })
    await running(new ConnectorRunner(log, [c]), () => waitFor('the retry', () => received.length >= 2))
    const waited = received[1]!.at - received[0]!.at
    assert.ok(waited >= 950, `retried after ${waited} ms, not after Retry-After: 1`)
  })

  test('always 500: after the retries the records go to the dead-letter topic with the error, and the sink goes on', async () => {
    received = []
    handler = (r, res) => {
      res.statusCode = r.body.includes('"later"') ? 200 : 500
      res.end('database is down')
    }
    await produce('wh-500', [{ a: 1 }, { a: 2 }])
    const c = connect('wh-500', {
      from: topic('wh-500'),
      to: webhook({ url, retries: 2, backoff: { initialMs: 10 } }),
    })
    const runner = new ConnectorRunner(log, [c])
    await running(runner, async () => {
      await waitFor('two dead letters', async () => (await readTopic(log, 'wh-500-dlq')).length >= 2)
      await produce('wh-500', ['later'])
      await waitFor('the next record', () => received.some((r) => r.body.includes('"later"')))
    })
    assert.equal(
      received.filter((r) => !r.body.includes('"later"')).length,
      3,
      'the first attempt and 2 retries',
    )
    const dead = await readTopic(log, 'wh-500-dlq')
    assert.deepEqual(
      dead.map((r) => JSON.parse(Buffer.from(r.value!).toString())),
      [{ a: 1 }, { a: 2 }],
    )
    assert.equal(
      dead[0]!.headers['sluice-error'],
      `POST ${url} failed 3 times; last: HTTP 500 Internal Server Error: database is down`,
    )
    assert.equal(dead[0]!.headers['sluice-source-topic'], 'wh-500')
    assert.equal(dead[1]!.headers['sluice-source-offset'], '1')
    assert.equal(Buffer.from(dead[0]!.key!).toString(), 'k0')
    assert.equal(runner.status()[0]!.deadLetters, 2)
  })

  test('400: not retried, dead-lettered at once', async () => {
    received = []
    handler = (_, res) => {
      res.statusCode = 400
      res.end('field "a" must be a string')
    }
    await produce('wh-400', [{ a: 1 }])
    const c = connect('wh-400', { from: topic('wh-400'), to: webhook({ url, backoff: { initialMs: 10 } }) })
    await running(new ConnectorRunner(log, [c]), async () => {
      await waitFor('the dead letter', async () => (await readTopic(log, 'wh-400-dlq')).length >= 1)
      await new Promise((r) => setTimeout(r, 200))
    })
    assert.equal(received.length, 1)
    const [dead] = await readTopic(log, 'wh-400-dlq')
    assert.equal(
      dead!.headers['sluice-error'],
      `POST ${url} refused (not retried): HTTP 400 Bad Request: field "a" must be a string`,
    )
  })

  test('a receiver that is not listening: retried, then dead-lettered naming the connection error', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    await produce('wh-refused', [{ a: 1 }])
    const c = connect('wh-refused', {
      from: topic('wh-refused'),
      to: webhook({ url: `http://127.0.0.1:${port}/`, retries: 1, backoff: { initialMs: 10 } }),
    })
    await running(new ConnectorRunner(log, [c]), () =>
      waitFor('the dead letter', async () => (await readTopic(log, 'wh-refused-dlq')).length >= 1),
    )
    const [dead] = await readTopic(log, 'wh-refused-dlq')
    assert.match(dead!.headers['sluice-error']!, /failed 2 times; last: fetch failed \(ECONNREFUSED\)/)
  })

  test('options that cannot work are refused up front', () => {
    assert.throws(() => webhook({ url: 'ftp://x' }), /url must start with http/)
    assert.throws(() => webhook({ url, batchSize: 0 }), /batchSize must be a positive integer/)
    assert.throws(() => webhook({ url, retries: -1 }), /retries must be 0 or more/)
  })
})
