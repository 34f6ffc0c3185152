/**
 * The HTTP server's queryable state endpoints (src/server/server.ts), over real HTTP on
 * loopback, against an embedded runner; and `sluice run --port 0` end to end.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { type EmbeddedLog, EmbeddedRunner, openEmbeddedLog, pipeline, sum, topic } from 'sluice'
import { startServer } from '../../../src/server/server.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Spend {
  card: string
  amount: number
}

describe('queryable state over HTTP', () => {
  let log: EmbeddedLog
  let runner: EmbeddedRunner
  let running: Promise<void>
  let url: string
  let close: () => Promise<void>

  before(async () => {
    log = await openEmbeddedLog({ dataDir: tempDir() })
    const spends = topic<Spend>('srv-spends', { key: (s) => s.card, partitions: 2 })
    const p = pipeline('srv')
    p.from(spends)
      .keyed()
      .aggregate(
        sum((s: Spend) => s.amount),
        { name: 'total' },
      )
    runner = new EmbeddedRunner(log, [p])
    await runner.start()
    running = runner.run()
    const producer = log.producer()
    await producer.send(
      'srv-spends',
      ['c1', 'c2', 'c3', 'c1'].map((card, i) => ({
        key: Buffer.from(card),
        value: Buffer.from(JSON.stringify({ card, amount: (i + 1) * 10 })),
      })),
    )
    await producer.close()
    const deadline = Date.now() + 10_000
    while (runner.store('total').get('c1') !== 50) {
      if (Date.now() > deadline) throw new Error('the runner did not process the spends')
      await new Promise((r) => setTimeout(r, 10))
    }
    const server = await startServer({ port: 0, runner })
    url = server.url
    close = () => server.app.close()
  })

  after(async () => {
    await close?.()
    runner.stop()
    await running
    await log.close()
  })

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`)
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }

  test('GET /stores/:step/:key answers a value, 404 with a reason for a missing key', async () => {
    assert.deepEqual(await get('/stores/total/c1'), { status: 200, body: { key: 'c1', value: 50 } })
    const missing = await get('/stores/total/nobody')
    assert.equal(missing.status, 404)
    assert.match(String(missing.body.error), /no value for key "nobody" in srv\.total/)
  })

  test('GET /stores/:step ranges over keys: from, to, limit', async () => {
    const all = await get('/stores/total')
    assert.equal(all.status, 200)
    assert.deepEqual(all.body.entries, [
      { key: 'c1', value: 50 },
      { key: 'c2', value: 20 },
      { key: 'c3', value: 30 },
    ])
    assert.deepEqual((await get('/stores/total?from=c2&to=c3')).body.entries, [{ key: 'c2', value: 20 }])
    assert.deepEqual((await get('/stores/total?limit=1')).body.entries, [{ key: 'c1', value: 50 }])
  })

  test('bad requests get JSON errors that name the problem', async () => {
    const unknown = await get('/stores/nope/c1')
    assert.equal(unknown.status, 404)
    assert.match(String(unknown.body.error), /no running pipeline has a step "nope"/)
    const badLimit = await get('/stores/total?limit=-3')
    assert.equal(badLimit.status, 400)
    assert.match(String(badLimit.body.error), /limit must be a whole number/)
    const route = await get('/nothing-here')
    assert.equal(route.status, 404)
    assert.match(String(route.body.error), /no route GET \/nothing-here: see GET \/health/)
    assert.deepEqual((await get('/stores')).body, { pipelines: { srv: ['total'] } })
    assert.equal((await get('/health')).body.status, 'ok')
  })
})

for (const threads of ['1', '2']) {
  test(`sluice run --port 0 --threads ${threads} serves the state of the pipelines it runs`, async () => {
    const dataDir = tempDir()
    const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))
    const fixture = fileURLToPath(new URL('../fixtures/spend-total.ts', import.meta.url))
    const log = await openEmbeddedLog({ dataDir })
    await log.createTopic('spends', { partitions: 2 })
    const producer = log.producer()
    await producer.send(
      'spends',
      ['a', 'b', 'a'].map((card) => ({
        key: Buffer.from(card),
        value: Buffer.from(JSON.stringify({ card, amount: 5 })),
      })),
    )
    await producer.close()
    await log.close()
    const child = spawn(
      process.execPath,
      [cli, 'run', fixture, '--data-dir', dataDir, '--threads', threads, '--port', '0'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    try {
      const deadline = Date.now() + 15_000
      let base = ''
      while (!base) {
        base = /serving (http:\/\/[^\s]+) /.exec(stderr)?.[1] ?? ''
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`no server address printed:\n${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      let body: { value?: unknown } = {}
      while (body.value !== 10) {
        body = (await (await fetch(`${base}/stores/total/a`)).json()) as { value?: unknown }
        if (Date.now() > deadline)
          throw new Error(`card a never reached 10: ${JSON.stringify(body)}\n${stderr}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.deepEqual(body, { key: 'a', value: 10 })
    } finally {
      child.kill('SIGTERM')
      assert.equal(await exited, 0, `sluice run stops cleanly with its server\n${stderr}`)
    }
  })
}
