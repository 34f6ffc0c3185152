/**
 * The HTTP ingest section of `npm run bench:connectors`: events/s into an embedded log through
 * `POST /topics/:t/events`, driven by autocannon in a separate process on loopback, against the
 * baseline of the same events appended in-process by a bare producer (no HTTP) in the same run.
 *
 * Two shapes: single events (one JSON event per request) and NDJSON batches (`--batch` events
 * per request). Durability `sync`: every group commit is fsynced before the responses go out.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { startServer } from '../../src/server/server.ts'

export interface HttpBenchOptions {
  /** Seconds per shape. */
  seconds: number
  connections: number
  batch: number
}

export interface HttpBenchRow {
  shape: string
  requestsPerSecond: number
  eventsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
}

const EVENT = JSON.stringify({
  id: 'order-000001',
  customer: 'customer-42',
  amount: 129.5,
  items: 3,
  at: '2026-11-24T10:00:00Z',
})

export async function benchHttp(
  options: HttpBenchOptions,
): Promise<{ rows: HttpBenchRow[]; baselineEventsPerSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-http-'))
  const log = await openEmbeddedLog({ dataDir: dir })
  try {
    await log.createTopic('orders', { partitions: 4 })
    const server = await startServer({ port: 0, log })
    const rows: HttpBenchRow[] = []
    try {
      const batchBody = Array.from({ length: options.batch }, () => EVENT).join('\n')
      for (const [shape, body, type, perRequest] of [
        ['single event per request', EVENT, 'application/json', 1],
        [`NDJSON, ${options.batch} events per request`, batchBody, 'application/x-ndjson', options.batch],
      ] as const) {
        process.stderr.write(`http: ${shape}, ${options.connections} connections, ${options.seconds} s…\n`)
        const result = await autocannon([
          '--json',
          '--connections',
          String(options.connections),
          '--duration',
          String(options.seconds),
          '--method',
          'POST',
          '--headers',
          `content-type=${type}`,
          '--body',
          body,
          `${server.url}/topics/orders/events`,
        ])
        const ok = result.requests.total - result.non2xx - result.errors
        const rps = ok / (result.duration || options.seconds)
        rows.push({
          shape,
          requestsPerSecond: rps,
          eventsPerSecond: rps * perRequest,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.non2xx + result.errors,
        })
      }
    } finally {
      await server.close()
    }
    // Baseline: the same events through a bare producer, in-process, kept full like the
    // connections keep the server full.
    process.stderr.write('http: baseline, in-process producer…\n')
    const producer = log.producer()
    const value = Buffer.from(EVENT)
    const chunk = Array.from({ length: options.batch }, () => ({ value }))
    let sent = 0
    const until = Date.now() + options.seconds * 1000
    const started = performance.now()
    const lanes = Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        await producer.send('orders', chunk)
        sent += chunk.length
      }
    })
    await Promise.all(lanes)
    const baselineEventsPerSecond = sent / ((performance.now() - started) / 1000)
    await producer.close()
    return { rows, baselineEventsPerSecond }
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface AutocannonResult {
  requests: { total: number }
  non2xx: number
  errors: number
  duration: number
  latency: { p50: number; p99: number }
}

/** Runs autocannon's CLI in its own process, so the load generator does not share the server's thread. */
function autocannon(args: string[]): Promise<AutocannonResult> {
  const bin = fileURLToPath(new URL('../../node_modules/autocannon/autocannon.js', import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`))
      try {
        resolve(JSON.parse(out) as AutocannonResult)
      } catch (e) {
        reject(new Error(`autocannon printed no JSON: ${(e as Error).message}\n${err}`))
      }
    })
  })
}
