/**
 * Benchmark of the threaded runner (not a test): one windowed workload (threads-pipeline.ts:
 * keyBy auction → repartition → 10 s tumbling count) run three ways on the same input:
 *
 *   in-thread   EmbeddedRunner: every task on the main thread
 *   1 worker    ThreadedRunner, threads: 1 (the main thread commits, one worker processes)
 *   N workers   ThreadedRunner, threads: N (default: the machine's cores)
 *
 *   npm run bench:threads                          # 1,000,000 bids, 3 runs of each way
 *   npm run bench:threads -- --events 200000 --repeat 1 --threads 4
 *
 * The bids (`--keys` auctions, event time 1 ms per bid, up to 200 ms of disorder) are appended
 * to a 4-partition topic of a fresh log first (not timed); a copy of that data directory is
 * used for each run. The clock runs from `start()` (worker threads starting and importing the
 * pipeline module included) until the pipeline's committed offsets reach the end of every
 * input, the repartition topic included (so every window the input closes is committed), and
 * `run()` has returned. CPU is process.cpuUsage(): all threads (JS, workers, GC, LMDB).
 * Every run must commit the same number of window results.
 */

import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type Durability,
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  ThreadedRunner,
} from '../src/index.ts'
import { compile } from '../src/topology/compile.ts'
import { xorshift } from './common.ts'
import { type Bid, perAuction } from './threads-pipeline.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '1000' },
    repeat: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(availableParallelism()) },
    durability: { type: 'string', default: 'sync' },
  },
})
const events = Number(args.events)
const keys = Number(args.keys)
const repeat = Number(args.repeat)
const threads = Number(args.threads)
const durability = args.durability as Durability
const MODULE = new URL('./threads-pipeline.ts', import.meta.url)
const say = (s: string) => process.stderr.write(`[bench:threads] ${s}\n`)

async function produce(log: EmbeddedLog): Promise<void> {
  await log.createTopic('bids', { partitions: 4 })
  const producer = log.producer()
  const rand = xorshift()
  for (let from = 0; from < events; from += 50_000) {
    const chunk = []
    for (let i = from; i < Math.min(events, from + 50_000); i++) {
      const bid: Bid = { auction: rand(keys), price: 100 + rand(99_900), at: i - rand(200) }
      chunk.push({ key: Buffer.from(String(bid.auction)), value: Buffer.from(JSON.stringify(bid)) })
    }
    await producer.send('bids', chunk)
  }
  await producer.close()
}

interface Result {
  wall: number
  /** Of which start(): topics, task plan, and for the threaded runner the workers starting. */
  start: number
  cpu: number
  outputs: number
}

async function once(source: string, way: 'in-thread' | number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-threads-'))
  cpSync(source, dir, { recursive: true })
  const log = await openEmbeddedLog({ dataDir: dir, durability, cleanupIntervalMs: 0 })
  try {
    const inputs = ['bids', ...compile(perAuction).repartitionTopics.map((r) => r.topic)]
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const runner =
      way === 'in-thread'
        ? new EmbeddedRunner(log, [perAuction])
        : new ThreadedRunner(log, [perAuction], { module: MODULE, threads: way })
    await runner.start()
    const start = (performance.now() - t0) / 1000
    const running = runner.run()
    const done = async () => {
      for (const topic of inputs) {
        const committed = await log.committedOffsets(perAuction.name, topic)
        for (const p of log.partitionsOf(topic))
          if ((committed.get(p.partition) ?? 0) < p.highWatermark) return false
      }
      return true
    }
    while (!(await done())) await new Promise((r) => setTimeout(r, 2))
    runner.stop()
    await running
    const wall = (performance.now() - t0) / 1000
    const c = process.cpuUsage(cpu0)
    const outputs = log.partitionsOf('bid-counts').reduce((n, p) => n + p.highWatermark, 0)
    return { wall, start, cpu: (c.user + c.system) / 1e6, outputs }
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const int = (n: number) => Math.round(n).toLocaleString('en-US')

const load0 = loadavg()[0]!
const source = mkdtempSync(join(tmpdir(), 'sluice-bench-threads-input-'))
try {
  say(`appending ${int(events)} bids (${int(keys)} auctions) to 4 partitions`)
  const log = await openEmbeddedLog({ dataDir: source, durability: 'interval', cleanupIntervalMs: 0 })
  await produce(log)
  await log.close()
  const ways: Array<'in-thread' | number> = ['in-thread', 1, ...(threads > 1 ? [threads] : [])]
  const rows: string[] = []
  let outputs: number | null = null
  // Ways interleaved, run by run, so a change in machine load hits each way alike.
  const results = new Map<'in-thread' | number, Result[]>(ways.map((w) => [w, []]))
  for (let r = 0; r < repeat; r++) {
    for (const way of ways) {
      const result = await once(source, way)
      say(
        `${way === 'in-thread' ? 'in-thread' : `${way} worker(s)`}: ${result.wall.toFixed(2)} s, ${int(result.outputs)} outputs`,
      )
      outputs ??= result.outputs
      if (result.outputs !== outputs)
        throw new Error(`${way}: ${result.outputs} outputs, expected ${outputs}`)
      results.get(way)!.push(result)
    }
  }
  for (const [way, runs] of results) {
    const wall = median(runs.map((r) => r.wall))
    const cpu = median(runs.map((r) => r.cpu))
    const start = median(runs.map((r) => r.start))
    const label =
      way === 'in-thread'
        ? 'EmbeddedRunner (in-thread)'
        : `ThreadedRunner, ${way} worker${way > 1 ? 's' : ''}`
    rows.push(
      `| ${label.padEnd(28)} | ${wall.toFixed(2).padStart(6)} | ${start.toFixed(2).padStart(7)} | ${cpu.toFixed(2).padStart(5)} | ${int(events / wall).padStart(9)} | ${int(events / (wall - start)).padStart(18)} | ${int(events / cpu).padStart(17)} |`,
    )
  }
  process.stdout.write(
    `Threads: ${int(events)} bids, keyBy → repartition → 10 s tumbling count, 4 partitions, ${durability} durability, ` +
      `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), 1-minute load ${load0.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end, median of ${repeat}\n\n` +
      '| way                          | wall s | start s | CPU s |  events/s | events/s after start | events/s per core |\n' +
      '|:-----------------------------|-------:|--------:|------:|----------:|---------------------:|------------------:|\n' +
      `${rows.join('\n')}\n`,
  )
} finally {
  rmSync(source, { recursive: true, force: true })
}
