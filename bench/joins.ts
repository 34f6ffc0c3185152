/**
 * Benchmark of joins (not a test), part of `npm run bench:engine` (run alone with
 * `npm run bench:joins`): a stream–table enrichment and a windowed stream–stream join, each
 * three ways on the same pre-generated events —
 *   (a) a hand-written loop doing the same work (decode, look up or pair, encode);
 *   (b) the engine's Task, fed in memory, durability off;
 *   (c) the engine on the embedded log (EmbeddedRunner, exactly-once commits), in a process of
 *       its own after an untimed warm-up run, as a pipeline process runs.
 * Reports events/s per core (process CPU time, all threads) and the ratio to (a).
 * Target (issue): (b) ≥ 33% of (a).
 *
 * Data (Nexmark-like, deterministic): auctions `{ id, seller, category, at }` and bids
 * `{ auction, bidder, price, at }`, 1 auction per 10 bids, interleaved in event time (an
 * auction is created before its bids; bids go to the 1,000 most recent auctions).
 * - enrich: bids keyed by auction joined with the auctions table (event-time versions):
 *   `{ auction, price, category }` per bid;
 * - join:   bids ⋈ auctions within 10 s on the auction id (windowed stream–stream join):
 *   `{ auction, price, seller }` per pair.
 *
 *   npm run bench:joins [-- --events 1000000] [--workloads enrich,join] [--no-log]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type EmbeddedLog,
  EmbeddedRunner,
  type LogRecord,
  openEmbeddedLog,
  type Pipeline,
  pipeline,
  type TopicDef,
  topic,
} from '../src/index.ts'
import { MemoryBackend } from '../src/runtime/state.ts'
import { Task } from '../src/runtime/task.ts'
import { compile } from '../src/topology/compile.ts'

export type JoinWorkload = 'enrich' | 'join'

interface Auction {
  id: number
  seller: number
  category: number
  at: number
}
interface Bid {
  auction: number
  bidder: number
  price: number
  at: number
}

const enc = new TextEncoder()
const dec = new TextDecoder()

/** Interleaved auctions and bids, in event time; `topic` tells them apart. */
export function generateJoinEvents(n: number): LogRecord[] {
  const out: LogRecord[] = []
  let seed = 42
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  let auctions = 0
  const offsets = { auctions: 0, bids: 0 }
  for (let i = 0; i < n; i++) {
    const at = 1_700_000_000_000 + i
    if (i % 11 === 0 || auctions === 0) {
      const a: Auction = {
        id: auctions++,
        seller: Math.floor(rand() * 5_000),
        category: Math.floor(rand() * 10),
        at,
      }
      out.push(record('auctions', offsets.auctions++, String(a.id), a, at))
    } else {
      const id = Math.max(0, auctions - 1 - Math.floor(rand() * Math.min(auctions, 1_000)))
      const b: Bid = {
        auction: id,
        bidder: Math.floor(rand() * 50_000),
        price: Math.floor(rand() * 100_000),
        at,
      }
      out.push(record('bids', offsets.bids++, String(id), b, at))
    }
  }
  // A last auction 10 s later moves the table's event time past every bid: nothing is left
  // waiting for it when the input ends.
  const last: Auction = { id: auctions, seller: 0, category: 0, at: 1_700_000_000_000 + n + 10_000 }
  out.push(record('auctions', offsets.auctions, String(last.id), last, last.at))
  return out
}

function record(t: string, offset: number, key: string, value: unknown, at: number): LogRecord {
  return {
    topic: t,
    partition: 0,
    offset,
    timestamp: at,
    key: enc.encode(key),
    value: enc.encode(JSON.stringify(value)),
    headers: {},
  }
}

// ---------------------------------------------------------------- (a) hand-written loops

function handEnrich(records: readonly LogRecord[]): number {
  const categories = new Map<string, number>()
  let outputs = 0
  for (const r of records) {
    const key = dec.decode(r.key!)
    if (r.topic === 'auctions') {
      categories.set(key, (JSON.parse(dec.decode(r.value!)) as Auction).category)
      continue
    }
    const bid = JSON.parse(dec.decode(r.value!)) as Bid
    const category = categories.get(key)
    if (category === undefined) continue
    enc.encode(JSON.stringify({ auction: bid.auction, price: bid.price, category }))
    outputs++
  }
  return outputs
}

function handJoin(records: readonly LogRecord[], within: number): number {
  // Per key: waiting auctions and bids, dropped once the newest time is past them + within.
  const auctions = new Map<string, Auction[]>()
  const bids = new Map<string, Bid[]>()
  let outputs = 0
  let newest = 0
  let lastSweep = 0
  const emit = (a: Auction, b: Bid) => {
    enc.encode(JSON.stringify({ auction: a.id, price: b.price, seller: a.seller }))
    outputs++
  }
  for (const r of records) {
    const key = dec.decode(r.key!)
    const v = JSON.parse(dec.decode(r.value!)) as Auction & Bid
    newest = Math.max(newest, r.timestamp)
    if (r.topic === 'auctions') {
      for (const b of bids.get(key) ?? []) if (Math.abs(b.at - v.at) <= within) emit(v, b)
      const list = auctions.get(key) ?? []
      list.push(v)
      auctions.set(key, list)
    } else {
      for (const a of auctions.get(key) ?? []) if (Math.abs(a.at - v.at) <= within) emit(a, v)
      const list = bids.get(key) ?? []
      list.push(v)
      bids.set(key, list)
    }
    if (newest - lastSweep >= 1_000) {
      lastSweep = newest
      for (const m of [auctions, bids] as Array<Map<string, Array<{ at: number }>>>) {
        for (const [k, list] of m) {
          const keep = list.filter((x) => x.at + within >= newest)
          if (keep.length === 0) m.delete(k)
          else if (keep.length !== list.length) m.set(k, keep)
        }
      }
    }
  }
  return outputs
}

// ---------------------------------------------------------------- the pipelines

const WITHIN = 10_000

function buildJoinPipeline(
  name: string,
  workload: JoinWorkload,
  a: string,
  b: string,
  out: TopicDef<unknown>,
): Pipeline {
  const auctionsTopic = topic<Auction>(a, { timestamp: (x) => x.at, partitions: 1 })
  const bidsTopic = topic<Bid>(b, { timestamp: (x) => x.at, partitions: 1 })
  const p = pipeline(name)
  const watermark = { maxOutOfOrder: 1_000, idleAfter: '1h' } as const
  const bids = p.from(bidsTopic, { watermark })
  if (workload === 'enrich') {
    const table = p.table(auctionsTopic, { name: 'auctions', watermark })
    bids
      .join(table, (bid, auction) => ({ auction: bid.auction, price: bid.price, category: auction.category }))
      .to(out)
  } else {
    bids
      .join(
        p.from(auctionsTopic, { watermark }),
        (bid, auction) => ({ auction: bid.auction, price: bid.price, seller: auction.seller }),
        {
          name: 'bid-auction',
          within: WITHIN,
        },
      )
      .to(out)
  }
  return p
}

// ---------------------------------------------------------------- (b) the engine in memory

function runTask(workload: JoinWorkload, records: readonly LogRecord[]): number {
  const p = buildJoinPipeline(
    `mem-${workload}-${Math.random().toString(36).slice(2)}`,
    workload,
    'auctions',
    'bids',
    topic('out'),
  )
  const topology = compile(p)
  if (topology.subtopologies.length !== 1) throw new Error('expected one task')
  const task = new Task({
    topology,
    subtopology: topology.subtopologies[0]!,
    partition: 0,
    backend: new MemoryBackend(),
    partitionsOf: () => 1,
    upstreamTasks: () => 1,
    now: Date.now,
  })
  let outputs = 0
  for (let i = 0; i < records.length; i += 2_000) {
    const end = Math.min(records.length, i + 2_000)
    for (let j = i; j < end; j++) task.process(records[j]!.topic, records[j]!)
    task.tick(Date.now())
    const c = task.collect()
    for (const list of c.outputs.values()) outputs += list.length
    task.committed()
  }
  task.advanceWatermark(Number.MAX_SAFE_INTEGER)
  for (const list of task.collect().outputs.values()) outputs += list.length
  if (task.deadLetters > 0) throw new Error(`${workload}: ${task.deadLetters} dead letters`)
  return outputs
}

// ---------------------------------------------------------------- (c) the engine on the log

/** Appends the records to `<name>-auctions` and `<name>-bids` (one partition each). */
async function fill(log: EmbeddedLog, name: string, records: readonly LogRecord[]): Promise<void> {
  await log.createTopic(`${name}-auctions`, { partitions: 1 })
  await log.createTopic(`${name}-bids`, { partitions: 1 })
  const producer = log.producer()
  for (const t of ['auctions', 'bids']) {
    const list = records
      .filter((r) => r.topic === t)
      .map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }))
    for (let i = 0; i < list.length; i += 50_000)
      await producer.send(`${name}-${t}`, list.slice(i, i + 50_000))
  }
  await producer.close()
}

/** Runs the pipeline over `<name>-…` until both inputs are committed; its output count and span. */
async function runOnLog(log: EmbeddedLog, workload: JoinWorkload, name: string): Promise<LogChildResult> {
  const out = topic<unknown>(`${name}-out`, { partitions: 1 })
  const p = buildJoinPipeline(name, workload, `${name}-auctions`, `${name}-bids`, out)
  const span = await measure(async () => {
    const runner = new EmbeddedRunner(log, [p])
    await runner.start()
    const running = runner.run()
    const inputs = [`${name}-auctions`, `${name}-bids`]
    for (;;) {
      let done = true
      for (const t of inputs) {
        const committed = await log.committedOffsets(name, t)
        if ((committed.get(0) ?? 0) < log.partitionsOf(t)[0]!.highWatermark) done = false
      }
      if (done) break
      await new Promise((r) => setTimeout(r, 2))
    }
    runner.stop()
    await running
  })
  return { outputs: log.partitionsOf(out.name)[0]!.highWatermark, ...span }
}

interface LogChildResult extends Span {
  outputs: number
}

/**
 * (c) in a process of its own over a log this one fills (a warm-up set of topics, then the
 * timed one), as bench:engine and bench:nexmark run it: in this process the engine would run
 * beside the pre-generated events and (a)'s and (b)'s garbage, which a pipeline process does
 * not carry. The child runs the warm-up pipeline first, untimed, then the timed one.
 */
async function runLog(
  workload: JoinWorkload,
  records: readonly LogRecord[],
  warm: readonly LogRecord[],
): Promise<LogChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-joins-'))
  try {
    const log = await openEmbeddedLog({ dataDir: dir })
    try {
      await fill(log, `warm-${workload}`, warm)
      await fill(log, `log-${workload}`, records)
    } finally {
      await log.close()
    }
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', import.meta.filename, '--log-child', workload, '--log-dir', dir],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
    )
    return JSON.parse(out) as LogChildResult
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The child's side of runLog: prints the timed run's LogChildResult as JSON on stdout. */
async function logChild(workload: JoinWorkload, dir: string): Promise<void> {
  const log = await openEmbeddedLog({ dataDir: dir })
  try {
    await runOnLog(log, workload, `warm-${workload}`)
    process.stdout.write(JSON.stringify(await runOnLog(log, workload, `log-${workload}`)))
  } finally {
    await log.close()
  }
}

// ---------------------------------------------------------------- measuring

interface Span {
  seconds: number
  cpuSeconds: number
}

async function measure(fn: () => unknown): Promise<Span> {
  ;(globalThis as { gc?: () => void }).gc?.()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await fn()
  const t1 = process.hrtime.bigint()
  const cpu = process.cpuUsage(cpu0)
  return { seconds: Number(t1 - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

export interface JoinResult {
  workload: JoinWorkload
  way: 'a' | 'b' | 'c'
  events: number
  outputs: number
  seconds: number
  cpuSeconds: number
  perCore: number
  ratio: number | null
}

function row(
  workload: JoinWorkload,
  way: 'b' | 'c',
  events: number,
  outputs: number,
  span: Span,
  handPerCore: number,
): JoinResult {
  const perCore = events / span.cpuSeconds
  return { workload, way, events, outputs, ...span, perCore, ratio: perCore / handPerCore }
}

/** Runs the join workloads; `log` false skips (c). */
export async function joinBenchmarks(
  events: number,
  workloads: readonly JoinWorkload[],
  log: boolean,
  progress: (text: string) => void = () => {},
): Promise<JoinResult[]> {
  const records = generateJoinEvents(events)
  const warm = generateJoinEvents(Math.min(events, 100_000))
  const results: JoinResult[] = []
  for (const workload of workloads) {
    const hand = (rs: readonly LogRecord[]) => (workload === 'enrich' ? handEnrich(rs) : handJoin(rs, WITHIN))
    // Warm-up, and the three ways must agree on the output count.
    const expected = hand(warm)
    const mem = runTask(workload, warm)
    if (mem !== expected) throw new Error(`${workload}: (b) made ${mem} outputs, the hand loop ${expected}`)
    progress(`${workload}: (a) hand-written loop`)
    let outputs = 0
    const a = await measure(() => {
      outputs = hand(records)
    })
    const aPerCore = events / a.cpuSeconds
    results.push({ workload, way: 'a', events, outputs, ...a, perCore: aPerCore, ratio: null })
    progress(`${workload}: (b) engine in memory`)
    let bOutputs = 0
    const b = await measure(() => {
      bOutputs = runTask(workload, records)
    })
    if (bOutputs !== outputs) throw new Error(`${workload}: (b) made ${bOutputs} outputs, (a) ${outputs}`)
    results.push(row(workload, 'b', events, bOutputs, b, aPerCore))
    if (log) {
      progress(`${workload}: (c) engine on the embedded log`)
      const c = await runLog(workload, records, warm)
      if (c.outputs !== outputs) throw new Error(`${workload}: (c) made ${c.outputs} outputs, (a) ${outputs}`)
      results.push(row(workload, 'c', events, c.outputs, c, aPerCore))
    }
  }
  return results
}

export function joinTable(results: readonly JoinResult[]): string {
  const ways = {
    a: '(a) hand-written loop',
    b: '(b) engine, in memory',
    c: '(c) engine, embedded log, exactly-once',
  }
  const n = (x: number) => Math.round(x).toLocaleString('en')
  const lines = [
    '| workload | way | events | outputs | wall s | CPU s | events/s per core | vs (a) | target | met |',
    '| :-- | :-- | --: | --: | --: | --: | --: | --: | --: | --: |',
  ]
  for (const r of results) {
    const target = r.way === 'b' ? '≥ 33% of (a)' : ''
    const met = r.way === 'b' ? (r.ratio! >= 0.33 ? 'yes' : 'NO') : ''
    lines.push(
      `| ${r.workload} | ${ways[r.way]} | ${n(r.events)} | ${n(r.outputs)} | ${r.seconds.toFixed(2)} | ${r.cpuSeconds.toFixed(2)} | ${n(r.perCore)} | ${r.ratio === null ? '' : `${Math.round(r.ratio * 100)}%`} | ${target} | ${met} |`,
    )
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------- main (npm run bench:joins)

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      workloads: { type: 'string', default: 'enrich,join' },
      'no-log': { type: 'boolean', default: false },
      // Internal: one (c) run, in a process of its own, over the log in --log-dir.
      'log-child': { type: 'string' },
      'log-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(
      'Usage: npm run bench:joins [-- --events N] [--workloads enrich,join] [--no-log]\n\n' +
        'Stream–table enrichment and a windowed stream–stream join: a hand-written loop, the engine\n' +
        'in memory and the engine on the embedded log, on the same events. Example:\n' +
        '  npm run bench:joins -- --events 200000 --workloads enrich\n',
    )
    process.exit(0)
  }
  if (values['log-child']) {
    await logChild(values['log-child'] as JoinWorkload, values['log-dir']!)
    process.exit(0)
  }
  const events = Number(values.events)
  const workloads = values.workloads.split(',') as JoinWorkload[]
  for (const w of workloads) {
    if (w !== 'enrich' && w !== 'join') {
      process.stderr.write(`bench:joins: unknown workload "${w}" (known: enrich, join)\n`)
      process.exit(2)
    }
  }
  const results = await joinBenchmarks(events, workloads, !values['no-log'], (t) =>
    process.stderr.write(`${t}\n`),
  )
  process.stdout.write(`${joinTable(results)}\n`)
}
