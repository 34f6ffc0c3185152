/**
 * The routes behind the dashboard (src/server/api-routes.ts, dashboard-routes.ts) over real
 * HTTP on loopback, against an embedded runner whose map throws on a poison record: topics,
 * dead letters with their decoded headers, replay (once per dead letter, to the partition it
 * came from, needing the right scopes), and serving the built app — or saying how to build it.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { compile, type EmbeddedLog, EmbeddedRunner, openEmbeddedLog, pipeline, topic } from 'sluice'
import { type RunningServer, startServer } from '../../../src/server/server.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Reading {
  sensor: string
  value: number | string
}

const ADMIN = 'admin-token-123'
const READER = 'reader-token-123'

describe('dashboard API', () => {
  let log: EmbeddedLog
  let runner: EmbeddedRunner
  let running: Promise<void>
  let server: RunningServer
  const distDir = tempDir()

  const get = async (path: string, token: string | null = ADMIN) => {
    const res = await fetch(`${server.url}${path}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const post = async (path: string, token = ADMIN) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  before(async () => {
    log = await openEmbeddedLog({ dataDir: tempDir() })
    const readings = topic<Reading>('da-readings', { key: (r) => r.sensor, partitions: 2 })
    const p = pipeline('da')
    p.from(readings)
      .map(
        (r) => {
          if (r.value === 'poison') throw new Error(`poison reading from ${r.sensor}`)
          return r
        },
        { name: 'check' },
      )
      .to(topic('da-out'))
    runner = new EmbeddedRunner(log, [p])
    await runner.start()
    running = runner.run()
    const producer = log.producer()
    await producer.send('da-readings', [
      {
        key: Buffer.from('s1'),
        value: Buffer.from(JSON.stringify({ sensor: 's1', value: 1 })),
        partition: 1,
      },
      {
        key: Buffer.from('s2'),
        value: Buffer.from(JSON.stringify({ sensor: 's2', value: 'poison' })),
        partition: 1,
      },
    ])
    // A record in the dead-letter topic that came from no source record.
    await producer.send('da-dlq', [{ key: null, value: Buffer.from('{}'), headers: { 'sluice-error': 'x' } }])
    await producer.close()
    const deadline = Date.now() + 10_000
    while ((await log.describeTopic('da-dlq')).partitionDetails[0]!.endOffset < 2) {
      if (Date.now() > deadline) throw new Error('no dead letter was written')
      await new Promise((r) => setTimeout(r, 10))
    }
    server = await startServer({
      port: 0,
      log,
      runner,
      topologies: [compile(p)],
      dashboardDir: distDir,
      tokens: [
        { token: ADMIN, read: ['*'], write: ['*'] },
        { token: READER, read: ['da-*'], name: 'reader' },
      ],
    })
  })

  after(async () => {
    await server?.close()
    runner.stop()
    await running
    await log.close()
  })

  test('session says whether a token is needed and valid, without a 401', async () => {
    assert.deepEqual((await get('/api/session', null)).body, { auth: true, token: 'none' })
    assert.deepEqual((await get('/api/session', 'wrong-token-1')).body, { auth: true, token: 'invalid' })
    assert.deepEqual((await get('/api/session')).body, { auth: true, token: 'valid' })
    assert.equal((await get('/api/pipelines', null)).status, 401)
  })

  test('pipelines come as graphs with stable step names', async () => {
    const { body } = await get('/api/pipelines', READER)
    const [g] = body.pipelines as Array<{ pipeline: string; nodes: Array<{ name: string; kind: string }> }>
    assert.equal(g!.pipeline, 'da')
    assert.deepEqual(
      g!.nodes.map((n) => `${n.kind}:${n.name}`),
      ['source:da-readings', 'map:check', 'sink:sink-0'],
    )
  })

  test('topics: the ones a token may read, with offsets', async () => {
    const all = (await get('/api/topics')).body.topics as Array<{ name: string }>
    for (const name of ['da-dlq', 'da-out', 'da-readings'])
      assert.ok(
        all.some((t) => t.name === name),
        name,
      )
    const readable = (await get('/api/topics', READER)).body.topics as Array<{
      name: string
      partitions: number
      records: number
      partitionDetails: Array<{ endOffset: number }>
    }>
    assert.deepEqual(
      readable.map((t) => t.name),
      ['da-dlq', 'da-out', 'da-readings'],
    )
    const source = readable.find((t) => t.name === 'da-readings')!
    assert.equal(source.partitions, 2)
    assert.deepEqual(
      source.partitionDetails.map((p) => p.endOffset),
      [0, 2],
    )
    assert.equal((await get('/api/topics/da-readings', READER)).body.records, 2)
    assert.equal((await get('/api/topics/__sluice_ingest_keys', READER)).status, 403)
    assert.equal((await get('/api/topics/no-such-topic')).status, 404)
  })

  test('dead letters: error, operator and origin decoded; replay re-sends once, to where it came from', async () => {
    const { body } = await get('/api/dead-letters/da-dlq?limit=10', READER)
    const records = body.records as Array<Record<string, unknown>>
    assert.equal(records.length, 2)
    const poison = records.find((r) => r.operator === 'check')!
    assert.equal(poison.error, 'step "check" failed: poison reading from s2')
    assert.equal(poison.pipeline, 'da')
    assert.deepEqual(poison.origin, { topic: 'da-readings', partition: 1, offset: 1 })
    assert.equal(poison.key, 's2')
    assert.deepEqual(JSON.parse(poison.value as string), { sensor: 's2', value: 'poison' })
    assert.match(poison.stack as string, /poison reading from s2/)
    assert.equal((await get('/api/dead-letters/da-dlq?limit=0')).status, 400)

    const path = `/api/dead-letters/da-dlq/${poison.partition}/${poison.offset}/replay`
    // Reading the dead letters is not enough: a replay writes to the source topic.
    const forbidden = await post(path, READER)
    assert.equal(forbidden.status, 403)
    assert.match(forbidden.body.error as string, /may not write topic "da-readings"/)

    const first = await post(path)
    assert.equal(first.status, 200, JSON.stringify(first.body))
    assert.deepEqual(first.body, {
      replayed: `da-dlq/${poison.partition}/${poison.offset}`,
      topic: 'da-readings',
      partition: 1,
      offset: 2,
      alreadyReplayed: false,
    })
    const [copy] = await log.fetch({ topic: 'da-readings', partition: 1 }, 2)
    assert.equal(Buffer.from(copy!.value!).toString(), JSON.stringify({ sensor: 's2', value: 'poison' }))
    assert.equal(Buffer.from(copy!.key!).toString(), 's2')
    assert.equal(copy!.headers['sluice-replay-of'], `da-dlq/${poison.partition}/${poison.offset}`)

    const again = await post(path)
    assert.equal(again.body.alreadyReplayed, true)
    assert.equal(again.body.offset, 2)
    assert.equal((await log.describeTopic('da-readings')).partitionDetails[1]!.endOffset, 3, 'appended once')

    const orphan = records.find((r) => r.origin === null)!
    const refused = await post(`/api/dead-letters/da-dlq/${orphan.partition}/${orphan.offset}/replay`)
    assert.equal(refused.status, 422)
    assert.match(refused.body.error as string, /names no source topic/)
    assert.equal((await post('/api/dead-letters/da-dlq/0/999/replay')).status, 404)
  })

  test('the dashboard: 503 saying how to build it, then its files with types and caching', async () => {
    const missing = await fetch(`${server.url}/`)
    assert.equal(missing.status, 503)
    assert.match(((await missing.json()) as { error: string }).error, /run "npm run build"/)
    const page = await fetch(`${server.url}/`, { headers: { accept: 'text/html' } })
    assert.equal(page.status, 503)
    assert.match(await page.text(), /not built/)

    mkdirSync(join(distDir, 'assets'), { recursive: true })
    writeFileSync(join(distDir, 'index.html'), '<!doctype html><title>Sluice</title>')
    writeFileSync(join(distDir, 'assets', 'index-abc.js'), 'console.log(1)')
    const index = await fetch(`${server.url}/`)
    assert.equal(index.status, 200)
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(index.headers.get('cache-control'), 'no-cache')
    assert.match(index.headers.get('content-security-policy')!, /default-src 'self'/)
    assert.equal(await index.text(), '<!doctype html><title>Sluice</title>')
    const js = await fetch(`${server.url}/assets/index-abc.js`)
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8')
    assert.match(js.headers.get('cache-control')!, /immutable/)
    assert.equal((await fetch(`${server.url}/assets/missing.js`)).status, 404)
    assert.equal((await fetch(`${server.url}/assets/..%2Findex.html`)).status, 404)
  })
})
