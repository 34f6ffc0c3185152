/**
 * Benchmark of the stream-processing engine (not a test): throughput of three workloads, each
 * run three ways on the same pre-generated events, plus end-to-end latency on the embedded log.
 *
 *   npm run bench:engine                        # table on stdout, progress on stderr
 *   npm run bench:engine -- --events 200000     # a quicker run
 *   npm run bench:engine -- --json              # machine-readable results on stdout
 *   npm run bench:engine -- --write-docs        # also (re)writes the engine section of docs/benchmarks.md
 *
 * Events are Nexmark-style bids `{ auction, bidder, price, at }` (`--keys` auctions, uniform;
 * event time `at` advances 1 ms per 10 events with up to 200 ms of disorder; the sources
 * declare `maxOutOfOrder: '1s'`, so nothing is late). They are generated once, before any
 * clock starts: each as a LogRecord whose key (the auction id) and value (the JSON bytes) are
 * views into one buffer — exactly what `log.read` hands the engine.
 *
 * Workloads (same function bodies in all three ways):
 * - stateless: `filter(price >= 50,000)` (about half pass) → `map` to euros → sink.
 * - tumbling:  count per auction in 10 s tumbling windows → sink.
 * - sliding:   average price per auction in 10 s windows sliding every 2 s (each bid is in
 *              5 windows) → sink.
 *
 * Ways:
 * (a) hand:   a plain JS loop doing the same work per record: UTF-8-decode the key,
 *             JSON.parse the value, read the event time, filter/map or update per-window Maps;
 *             per batch of `--batch` records advance the watermark (max event time − 1 s),
 *             close the windows it passed and build each output record as the engine's sink
 *             does (key bytes, JSON-encoded value, timestamp); outputs are counted and dropped.
 * (b) memory: the engine's Task (the same code the runners use) fed the same LogRecords in
 *             batches of `--batch`: process → tick → collect, outputs counted and dropped,
 *             state writes dropped (durability off: no backend writes, no log). "keyed" builds
 *             the window with `.keyed()` (the records are already keyed by auction: one task,
 *             no repartition); "keyBy" uses `.keyBy((b) => b.auction)`, which compiles to two
 *             tasks joined by a repartition topic, handed over in memory by the engine's
 *             exchange (runtime/exchange.ts) as the EmbeddedRunner does: the upstream task's
 *             records and watermark markers reach the downstream task in the same batch.
 * (c) log:    EmbeddedRunner on the embedded log with exactly-once commits (when the input
 *             drains, else every 100 ms or 8,192 outputs; `--durability`, default `sync`:
 *             every commit is fsynced). The events
 *             are appended to a one-partition topic first (not timed); the clock runs from
 *             runner.start() until the pipeline's committed offsets reach the end of every
 *             input (including the repartition topic) — so every output, including the windows
 *             the final watermark closes, is committed — and run() has returned. Each (c)
 *             run is a child process of its own over the log this process filled and closed
 *             (see runLogInChild).
 *
 * events/s per core = events ÷ process CPU time (process.cpuUsage(): user + system of all
 * threads — the JS thread, GC helpers and, in (c), LMDB's writer/flush threads). Each case is
 * run `--repeat` times (fewer once its runs have taken 5 s) and the median is
 * reported; every case first runs once on the first 150,000 events to warm up the JIT, and
 * that warm-up run also checks that (a), (b) and (c) produce exactly the same output records.
 * The timed runs check that the output counts match.
 *
 * Latency: a producer appends bids at a fixed rate (every ~1 ms timer tick it sends what the
 * rate owes, each value stamped with performance.now() at the send), the stateless pipeline
 * runs on the embedded log (same process: the producer, runner and consumer share the one JS
 * thread, as in an embedded application), and a consumer long-polls the output topic
 * (`log.fetch` with `waitMs`), taking `now − sent` per output record the moment the fetch
 * returns, i.e. when the output's commit is visible. The first second is warm-up.
 */

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { avg, count } from '../src/dsl/aggregations.ts'
import { Pipeline } from '../src/dsl/pipeline.ts'
import { type TopicDef, topic } from '../src/dsl/topic.ts'
import { sliding, tumbling } from '../src/dsl/windows.ts'
import type { Bytes, Durability, EmbeddedLog, LogRecord, ProducerRecord } from '../src/log/index.ts'
import { openEmbeddedLog } from '../src/log/index.ts'
import { Exchange } from '../src/runtime/exchange.ts'
import { TaskMetrics } from '../src/runtime/metrics/task-metrics.ts'
import { EmbeddedRunner } from '../src/runtime/runner.ts'
import { MemoryBackend } from '../src/runtime/state.ts'
import { Task } from '../src/runtime/task.ts'
import { compile, type Topology } from '../src/topology/compile.ts'
import { positiveInt, table, writeDoc, xorshift } from './common.ts'
import { type JoinResult, type JoinWorkload, joinBenchmarks, joinTable } from './joins.ts'
import { fsyncBaseline, lmdbBaseline, type Spread } from './latency-baseline.ts'
import { LatencyBreakdown } from './latency-breakdown.ts'
import { CpuProfiler } from './profile.ts'

const DOCS_HEADING = '## Engine (`npm run bench:engine`)'
/** Enough event time (15 s) that the warm-up closes full tumbling and sliding windows. */
const WARM_EVENTS = 150_000
/** Distinct bids the latency producer cycles through. */
const LATENCY_BIDS = 10_000
/** (a) and (b) stop repeating a case once its runs have taken this long. */
const REPEAT_BUDGET_S = 5
const EVENTS_PER_MS = 10
const MAX_DISORDER_MS = 200
const OUT_OF_ORDER = '1s'
const OUT_OF_ORDER_MS = 1000
const PRICE_MIN = 100
const PRICE_SPAN = 99_900
const PRICE_FILTER = 50_000
const TUMBLE_MS = 10_000
const SLIDE_SIZE_MS = 10_000
const SLIDE_EVERY_MS = 2_000
const T0 = Date.UTC(2025, 0, 1)

const { values: args } = parseArgs({
  options: {
    events: { type: 'string' },
    keys: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '2000' },
    repeat: { type: 'string', default: '3' },
    workloads: { type: 'string', default: 'stateless,tumbling,sliding' },
    joins: { type: 'string', default: 'enrich,join' },
    modes: { type: 'string', default: 'a,b,c' },
    groupings: { type: 'string', default: 'keyed,keyBy' },
    durability: { type: 'string', default: 'sync' },
    'commit-ms': { type: 'string' },
    rates: { type: 'string', default: '10000,50000,100000' },
    'latency-seconds': { type: 'string', default: '5' },
    linger: { type: 'string', default: '0' },
    'baseline-seconds': { type: 'string', default: '2' },
    'no-latency': { type: 'boolean', default: false },
    'no-exchange': { type: 'boolean', default: false },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    marks: { type: 'boolean', default: false },
    breakdown: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'metrics-overhead': { type: 'boolean', default: false },
    instructions: { type: 'boolean', default: false },
    // Internal: the run under valgrind that --instructions starts.
    'callgrind-child': { type: 'boolean', default: false },
    // Internal: one (c) run, in a process of its own, over the log in --log-dir.
    'log-child': { type: 'string' },
    'log-dir': { type: 'string' },
    'log-run': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (args.help) {
  process.stdout.write(`npm run bench:engine -- [options]
  --events N           events per throughput case (default 1,000,000)
  --keys N             distinct auctions (default 1,000)
  --batch N            records per process/tick/collect in (a) and (b) (default 2,000, the runner's maxBatch)
  --repeat N           timed runs of each case, fewer once they take 5 s; the median is reported (default 3)
  --workloads LIST     stateless,tumbling,sliding (default all)
  --joins LIST         join workloads (bench/joins.ts): enrich (stream–table), join (stream–stream
                       within 10 s); default both, "none" skips them
  --metrics-overhead   only measure the cost of metrics on (b) and (c): runs with them on and off, alternating
  --instructions       with --metrics-overhead: count the CPU instructions of each (b) run instead of timing
                       it, under valgrind's callgrind (about 50x slower: use --events 100000), the same
                       whatever else the machine is doing
  --modes LIST         a (hand loop), b (engine in memory), c (engine on the log) (default a,b,c)
  --groupings LIST     keyed, keyBy: how the windowed pipelines group by auction (default both)
  --durability D       log durability for (c) and latency: sync or interval (default sync)
  --commit-ms N        the runner's commitIntervalMs in (c) and latency (default: the runner's, 100 ms)
  --no-exchange        (c): a keyBy goes through the repartition topic in the log, not the runner's
                       in-memory exchange (what worker threads and Kafka workers do)
  --rates LIST         latency runs, events/s (default 10000,50000,100000)
  --baseline-seconds S before each latency run, time a bare fdatasync loop and single LMDB commits for S
                       seconds each, about one a millisecond: the floor under the latency (default 2)
  --linger MS          the latency producer's lingerMs (default 0: each send is appended at the end of its event turn)
  --latency-seconds S  measured seconds per latency run, after 1 s of warm-up (default 5)
  --no-latency         skip the latency runs
  --dir PATH           where the log's data directories go (default: the OS temp dir)
  --json               print the results as JSON instead of the tables
  --write-docs         (re)write the engine section of docs/benchmarks.md
  --breakdown          split each latency run's samples into where the time went (linger, batch queued to
                       LMDB, read by the runner, its commit queued and visible, ...) and print it on stderr,
                       with GC pauses and event-loop delay
  --cpu-prof           profile each timed (c) run (its main JS thread) and write
                       engine-<workload>-<grouping>.cpuprofile; the hottest functions go to stderr
  --marks              print each timed span as "[mark] label start end" (process.hrtime, µs) on stderr,
                       to cut a --cpu-prof profile down to the timed spans
`)
  process.exit(0)
}

function list<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').filter((s) => s !== '')
  for (const s of items) {
    if (!allowed.includes(s as T)) {
      process.stderr.write(`--${name} takes ${allowed.join(', ')}; got ${s}\n`)
      process.exit(2)
    }
  }
  return items as T[]
}

type Workload = 'stateless' | 'tumbling' | 'sliding'
type Mode = 'a' | 'b' | 'c'
type Variant = 'keyed' | 'keyBy'

const events = positiveInt('events', args.events, 1_000_000)
const keys = positiveInt('keys', args.keys, 1000)
const batchSize = positiveInt('batch', args.batch, 2000)
const repeat = positiveInt('repeat', args.repeat, 3)
const workloads = list<Workload>('workloads', args.workloads, ['stateless', 'tumbling', 'sliding'])
const modes = list<Mode>('modes', args.modes, ['a', 'b', 'c'])
const groupings = list<Variant>('groupings', args.groupings, ['keyed', 'keyBy'])
const durability = list<Durability>('durability', args.durability, ['sync', 'interval'])[0] ?? 'sync'
const rates = args.rates.split(',').map((r) => positiveInt('rates', r, 10_000))
const commitMs = args['commit-ms'] === undefined ? undefined : positiveInt('commit-ms', args['commit-ms'], 5)
const runnerOptions = {
  ...(commitMs === undefined ? {} : { commitIntervalMs: commitMs }),
  ...(args['no-exchange'] ? { exchange: false } : {}),
}
const latencySeconds = positiveInt('latency-seconds', args['latency-seconds'], 5)
const lingerMs = args.linger === '0' ? 0 : positiveInt('linger', args.linger, 1)
const baselineSeconds = positiveInt('baseline-seconds', args['baseline-seconds'], 2)
const baseDir = resolve(args.dir ?? tmpdir())

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

// ---------------------------------------------------------------- events

interface Bid {
  auction: number
  bidder: number
  price: number
  at: number
}

/** Nexmark Q1's currency conversion. */
interface EuroBid {
  auction: number
  bidder: number
  price: number
  at: number
}

interface Events {
  records: LogRecord[]
  bids: Bid[]
}

/** Pre-encoded events: keys and values are views into one buffer, as `log.read` returns them. */
function generate(n: number, topicName: string): Events {
  const rand = xorshift()
  const bids: Bid[] = new Array(n)
  const keyTexts: string[] = new Array(n)
  const valueTexts: string[] = new Array(n)
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const bid: Bid = {
      auction: rand(keys),
      bidder: rand(100_000),
      price: PRICE_MIN + rand(PRICE_SPAN),
      at: T0 + Math.floor(i / EVENTS_PER_MS) - rand(MAX_DISORDER_MS),
    }
    bids[i] = bid
    keyTexts[i] = String(bid.auction)
    valueTexts[i] = JSON.stringify(bid)
    bytes += Buffer.byteLength(keyTexts[i]!) + Buffer.byteLength(valueTexts[i]!)
  }
  const buf = Buffer.allocUnsafe(bytes)
  const records: LogRecord[] = new Array(n)
  let pos = 0
  for (let i = 0; i < n; i++) {
    const k = buf.write(keyTexts[i]!, pos)
    const key = buf.subarray(pos, pos + k)
    pos += k
    const v = buf.write(valueTexts[i]!, pos)
    const value = buf.subarray(pos, pos + v)
    pos += v
    records[i] = {
      topic: topicName,
      partition: 0,
      offset: i,
      timestamp: bids[i]!.at,
      key,
      value,
      headers: {},
    }
  }
  return { records, bids }
}

// ---------------------------------------------------------------- the work, shared by all ways

const isExpensive = (b: Bid): boolean => b.price >= PRICE_FILTER
const toEuros = (b: Bid): EuroBid => ({
  auction: b.auction,
  bidder: b.bidder,
  price: Math.round(b.price * 0.908),
  at: b.at,
})

function buildPipeline(
  name: string,
  workload: Workload,
  variant: Variant,
  source: TopicDef<Bid>,
  out: TopicDef<unknown>,
): Pipeline {
  const p = new Pipeline(name)
  const bids = p.from(source, { watermark: { maxOutOfOrder: OUT_OF_ORDER } })
  if (workload === 'stateless') {
    bids.filter(isExpensive).map(toEuros).to(out)
    return p
  }
  const keyed = variant === 'keyed' ? bids.keyed() : bids.keyBy((b) => b.auction)
  if (workload === 'tumbling') {
    keyed
      .window(tumbling({ size: TUMBLE_MS }))
      .aggregate(count(), { name: 'bids-per-auction' })
      .to(out)
  } else {
    keyed
      .window(sliding({ size: SLIDE_SIZE_MS, every: SLIDE_EVERY_MS }))
      .aggregate(
        avg((b: Bid) => b.price),
        { name: 'avg-price' },
      )
      .to(out)
  }
  return p
}

const bidTopic = (name: string) => topic<Bid>(name, { timestamp: (b) => b.at, partitions: 1 })

interface RunResult {
  outputs: number
  /** `key|value` of each output (warm-up runs only, for the cross-check). */
  kept: string[] | null
}

const utf8 = new TextDecoder()
/** An output's key or value as text: the engine hands JSON outputs to the log as strings. */
const text = (b: Bytes) => (typeof b === 'string' ? b : utf8.decode(b))

// ---------------------------------------------------------------- (a) the hand-written loops

interface OutRecord {
  key: Uint8Array
  value: Uint8Array
  timestamp: number
}

/** What the engine's sink does per output: key bytes, JSON value bytes, a timestamp. */
function flushOutputs(out: OutRecord[], kept: string[] | null): number {
  const n = out.length
  if (kept) for (const r of out) kept.push(`${utf8.decode(r.key)}|${utf8.decode(r.value)}`)
  out.length = 0
  return n
}

function handStateless(records: readonly LogRecord[], keep: boolean): RunResult {
  const kept: string[] | null = keep ? [] : null
  const out: OutRecord[] = []
  let outputs = 0
  for (let i = 0; i < records.length; i += batchSize) {
    const end = Math.min(records.length, i + batchSize)
    for (let j = i; j < end; j++) {
      const r = records[j]!
      const key = utf8.decode(r.key!)
      const bid = JSON.parse(utf8.decode(r.value!)) as Bid
      const ts = bid.at
      if (!isExpensive(bid)) continue
      const euros = toEuros(bid)
      out.push({ key: Buffer.from(key), value: Buffer.from(JSON.stringify(euros)), timestamp: ts })
    }
    outputs += flushOutputs(out, kept)
  }
  return { outputs, kept }
}

/**
 * Fixed windows by hand: window start → (key → accumulator); starts kept sorted; on each
 * batch end the watermark moves to max event time − 1 s and windows with end ≤ watermark close.
 */
function handWindows<A>(
  records: readonly LogRecord[],
  keep: boolean,
  size: number,
  every: number,
  init: (bid: Bid) => A,
  add: (acc: A, bid: Bid) => void,
  result: (acc: A) => number,
): RunResult {
  const kept: string[] | null = keep ? [] : null
  const out: OutRecord[] = []
  const windows = new Map<number, Map<string, A>>()
  const starts: number[] = []
  let maxTs = Number.NEGATIVE_INFINITY
  let watermark = Number.NEGATIVE_INFINITY
  let outputs = 0
  let late = 0
  for (let i = 0; i < records.length; i += batchSize) {
    const end = Math.min(records.length, i + batchSize)
    for (let j = i; j < end; j++) {
      const r = records[j]!
      const key = utf8.decode(r.key!)
      const bid = JSON.parse(utf8.decode(r.value!)) as Bid
      const ts = bid.at
      if (ts > maxTs) maxTs = ts
      const last = ts - (((ts % every) + every) % every)
      let accepted = false
      for (let start = last - size + every; start <= last; start += every) {
        if (start + size <= watermark) continue
        accepted = true
        let byKey = windows.get(start)
        if (!byKey) {
          byKey = new Map()
          windows.set(start, byKey)
          let k = starts.length
          while (k > 0 && starts[k - 1]! > start) k--
          starts.splice(k, 0, start)
        }
        const acc = byKey.get(key)
        if (acc === undefined) byKey.set(key, init(bid))
        else add(acc, bid)
      }
      if (!accepted) late++
    }
    const wm = maxTs - OUT_OF_ORDER_MS
    if (wm > watermark) {
      watermark = wm
      while (starts.length > 0 && starts[0]! + size <= watermark) {
        const start = starts.shift()!
        const wEnd = start + size
        for (const [key, acc] of windows.get(start)!) {
          const value = { key, start, end: wEnd, value: result(acc) }
          out.push({ key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)), timestamp: wEnd - 1 })
        }
        windows.delete(start)
      }
    }
    outputs += flushOutputs(out, kept)
  }
  if (late > 0) throw new Error(`hand loop: ${late} late records (the generator should make none)`)
  return { outputs, kept }
}

function runHand(workload: Workload, records: readonly LogRecord[], keep: boolean): RunResult {
  if (workload === 'stateless') return handStateless(records, keep)
  if (workload === 'tumbling') {
    return handWindows<{ n: number }>(
      records,
      keep,
      TUMBLE_MS,
      TUMBLE_MS,
      () => ({ n: 1 }),
      (acc) => {
        acc.n++
      },
      (acc) => acc.n,
    )
  }
  return handWindows<{ n: number; sum: number }>(
    records,
    keep,
    SLIDE_SIZE_MS,
    SLIDE_EVERY_MS,
    (bid) => ({ n: 1, sum: bid.price }),
    (acc, bid) => {
      acc.n++
      acc.sum += bid.price
    },
    (acc) => acc.sum / acc.n,
  )
}

// ---------------------------------------------------------------- (b) the engine in memory

/** The tasks of one pipeline (partition 0 of each subtopology), fed in memory. */
class MemoryEngine {
  readonly #tasks: Task[]
  readonly #sinks: Set<string>
  /** The engine's in-memory exchange, as the EmbeddedRunner uses it for a keyBy. */
  readonly #exchange = new Exchange()
  readonly #source: string

  /** `metrics`: the tasks' metrics on (the default, as in the runners) or off. */
  constructor(pipeline: Pipeline, source: string, metrics = true) {
    const topology = compile(pipeline)
    // Never written: durability off. Stores keep their entries in their own caches.
    const backend = new MemoryBackend()
    this.#tasks = topology.subtopologies.map(
      (subtopology) =>
        new Task({
          topology,
          subtopology,
          partition: 0,
          backend,
          partitionsOf: () => 1,
          upstreamTasks: () => 1,
          now: Date.now,
          metrics,
          exchange: this.#exchange,
        }),
    )
    this.#sinks = new Set(topology.sinkTopics.map((t) => t.name))
    for (const r of topology.repartitionTopics) this.#exchange.fuse(r.topic, 1)
    this.#source = source
  }

  run(records: readonly LogRecord[], keep: boolean): RunResult {
    const kept: string[] | null = keep ? [] : null
    let outputs = 0
    const tasks = this.#tasks
    const inputs = tasks.map((t) => t.sourceTopics())
    for (let i = 0; i < records.length; i += batchSize) {
      const end = Math.min(records.length, i + batchSize)
      const now = Date.now()
      for (let t = 0; t < tasks.length; t++) {
        const task = tasks[t]!
        task.now = now
        for (const topic of inputs[t]!) {
          if (topic === this.#source) {
            for (let j = i; j < end; j++) task.process(topic, records[j]!)
          } else {
            const queue = this.#exchange.queues(topic)![0]!
            for (const r of queue) task.processExchanged(topic, r)
            queue.length = 0
          }
        }
        task.tick(now)
        const commit = task.collect()
        for (const [topic, list] of commit.outputs) {
          if (this.#sinks.has(topic)) {
            outputs += list.length
            if (kept) for (const r of list) kept.push(`${text(r.key!)}|${text(r.value!)}`)
            continue
          }
          throw new Error(`unexpected output to ${topic}: ${list.length} records`)
        }
        // commit.state: dropped (durability off). The commit "lands" at once, as a runner
        // reports it: the stores forget what it deleted, the latency histograms take its records.
        task.committed()
      }
    }
    return { outputs, kept }
  }
}

// ---------------------------------------------------------------- (c) the engine on the log

let pipelineSeq = 0

async function produce(log: EmbeddedLog, name: string, records: readonly LogRecord[]): Promise<void> {
  await log.createTopic(name, { partitions: 1 })
  const producer = log.producer()
  const inflight: Promise<unknown>[] = []
  const chunk = 10_000
  for (let i = 0; i < records.length; i += chunk) {
    const end = Math.min(records.length, i + chunk)
    const batch: ProducerRecord[] = new Array(end - i)
    for (let j = i; j < end; j++) {
      const r = records[j]!
      batch[j - i] = { key: r.key, value: r.value, timestamp: r.timestamp }
    }
    if (inflight.length >= 4) await inflight.shift()
    inflight.push(producer.send(name, batch))
  }
  await Promise.all(inflight)
  await producer.close()
}

/** True when the pipeline's committed offsets reach the end of all its inputs. */
async function caughtUp(log: EmbeddedLog, topology: Topology): Promise<boolean> {
  for (const sub of topology.subtopologies) {
    for (const s of sub.sources) {
      const committed = await log.committedOffsets(topology.pipeline, s.topic)
      for (const part of log.partitionsOf(s.topic)) {
        if ((committed.get(part.partition) ?? 0) < part.highWatermark) return false
      }
    }
  }
  return true
}

async function runLog(
  log: EmbeddedLog,
  workload: Workload,
  variant: Variant,
  source: string,
  keep: boolean,
  metrics = true,
  profiler: CpuProfiler | null = null,
): Promise<RunResult & Span & { commits: number }> {
  const name = `engine-${workload}-${variant}-${++pipelineSeq}`
  const out = topic<unknown>(`${name}-out`, { partitions: 1 })
  const pipeline = buildPipeline(name, workload, variant, bidTopic(source), out)
  let commits = 0
  const span = await measure(async () => {
    const runner = new EmbeddedRunner(log, [pipeline], { ...runnerOptions, metrics })
    await profiler?.start()
    await runner.start()
    const done = runner.run()
    const topology = runner.topologies[0]!
    let failed: unknown = null
    done.catch((e) => {
      failed = e
    })
    // Cheap in-memory check first (records processed), then the committed offsets in LMDB.
    while (runner.status()[0]!.lag > 0 || !(await caughtUp(log, topology))) {
      if (failed) throw failed
      await new Promise((r) => setTimeout(r, 1))
    }
    runner.stop()
    await done
    const status = runner.status()[0]!
    if (status.deadLetters > 0) throw new Error(`${name}: ${status.deadLetters} dead letters`)
    if (status.lateRecords > 0) throw new Error(`${name}: ${status.lateRecords} late records`)
    commits = status.commits
  })
  if (profiler) {
    // After the span, so writing the profile is not timed.
    const file = `engine-${workload}-${variant}.cpuprofile`
    const top = await profiler.stop(file)
    process.stderr.write(`[bench:engine] ${file}, self time:\n`)
    for (const f of top)
      process.stderr.write(`  ${(100 * f.selfShare).toFixed(1).padStart(5)}% ${f.name} ${f.at}\n`)
  }
  const part = log.partitionsOf(out.name)[0]!
  const outputs = part.highWatermark
  let kept: string[] | null = null
  if (keep) {
    kept = []
    for (let offset = 0; offset < outputs; ) {
      const batch = log.read(part.tp, offset, { maxRecords: 10_000 })
      for (const r of batch) kept.push(`${utf8.decode(r.key!)}|${utf8.decode(r.value!)}`)
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return { outputs, kept, commits, ...span }
}

interface LogChildResult extends Span {
  outputs: number
  commits: number
  /** `key|value` of each output of the warm-up run, for the cross-check. */
  warmKept: string[]
}

/**
 * One (c) run in a process of its own, over the log this process filled and closed: a warm-up
 * run on the warm-up events, then the timed run. In this process the engine would run next to
 * the 1,000,000 pre-generated events and (a)'s and (b)'s garbage, with functions the hand loop
 * shaped for the JIT: measured, that cost (c) a third of its throughput (550,000 events/s per
 * core against 825,000 in a process that ran nothing else first), which a pipeline process
 * does not pay. bench:nexmark runs each query in its own process for the same reason.
 */
let logRuns = 0

function runLogInChild(logDir: string, workload: Workload, variant: Variant): LogChildResult {
  const argv = [
    '--expose-gc',
    import.meta.filename,
    '--log-child',
    `${workload}:${variant}`,
    '--log-dir',
    logDir,
    // Its pipelines' names: each run's own, so none resumes from another's committed offsets.
    '--log-run',
    String(++logRuns),
    '--durability',
    durability,
    ...(commitMs === undefined ? [] : ['--commit-ms', String(commitMs)]),
    ...(args['no-exchange'] ? ['--no-exchange'] : []),
    ...(args['cpu-prof'] ? ['--cpu-prof'] : []),
  ]
  const out = execFileSync(process.execPath, argv, {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(out) as LogChildResult
}

/** The child's side of runLogInChild: prints its LogChildResult as JSON on stdout. */
async function logChild(spec: string, logDir: string): Promise<void> {
  const [workload, variant] = spec.split(':') as [Workload, Variant]
  pipelineSeq = 1000 * Number(args['log-run'])
  const log = await openEmbeddedLog({ dataDir: logDir, durability, cleanupIntervalMs: 0 })
  try {
    const warm = await runLog(log, workload, variant, 'bids-warm', true)
    const profiler = args['cpu-prof'] ? new CpuProfiler() : null
    const run = await runLog(log, workload, variant, 'bids', false, true, profiler)
    profiler?.close()
    const result: LogChildResult = {
      outputs: run.outputs,
      commits: run.commits,
      seconds: run.seconds,
      cpuSeconds: run.cpuSeconds,
      warmKept: warm.kept!,
    }
    process.stdout.write(JSON.stringify(result))
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
  gc()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await fn()
  const t1 = process.hrtime.bigint()
  const cpu = process.cpuUsage(cpu0)
  if (args.marks) process.stderr.write(`[mark] ${progressLabel}${progressText} ${t0 / 1000n} ${t1 / 1000n}\n`)
  return { seconds: Number(t1 - t0) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6 }
}

interface CaseResult {
  workload: Workload
  /** How the engine pipeline groups by key (`-` for the hand loop and stateless). */
  variant: Variant | '-'
  mode: Mode
  events: number
  outputs: number
  /** Median run (by CPU time) of `runs`. */
  seconds: number
  cpuSeconds: number
  eventsPerSec: number
  eventsPerCpuSec: number
  /** Per-core throughput ÷ the hand loop's, same workload. */
  vsHand: number | null
  target: string
  met: boolean | null
  runs: number
  commits?: number
}

interface LatencyResult {
  rate: number
  achievedRate: number
  samples: number
  p50: number
  p99: number
  p999: number
  max: number
  /** p99 measured from each record's scheduled send time (includes producer lateness). */
  p99FromSchedule: number
  cpuCores: number
  /** Measured just before the run: a bare fdatasync loop, and single LMDB commits. */
  fsync: Spread
  lmdb: Spread
}

let progressLabel = ''
let progressText = ''
const tty = process.stderr.isTTY === true
function progress(text: string, final = false): void {
  progressText = text
  const line = `[bench:engine] ${progressLabel}${text}`
  if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
  else if (final) process.stderr.write(`${line}\n`)
}

function overBudget(spans: Span[]): boolean {
  return spans.reduce((s, x) => s + x.seconds, 0) >= REPEAT_BUDGET_S
}

function median<S extends Span>(spans: S[]): S {
  const sorted = [...spans].sort((a, b) => a.cpuSeconds - b.cpuSeconds)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

function sameOutputs(what: string, expected: string[], actual: string[]): void {
  const a = [...expected].sort()
  const b = [...actual].sort()
  if (a.length !== b.length) {
    throw new Error(`${what}: ${b.length} outputs, the hand loop made ${a.length}`)
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${what}: output differs from the hand loop: ${b[i]} vs ${a[i]}`)
  }
}

function target(workload: Workload, mode: Mode): { text: string; check: (r: CaseResult) => boolean } {
  const windowed = workload !== 'stateless'
  if (mode === 'b') {
    const share = windowed ? 0.33 : 0.5
    return { text: `≥ ${Math.round(share * 100)}% of (a)`, check: (r) => (r.vsHand ?? 0) >= share }
  }
  if (mode === 'c') {
    const floor = windowed ? 500_000 : 1_000_000
    return { text: `≥ ${int(floor)}/s`, check: (r) => r.eventsPerCpuSec >= floor }
  }
  return { text: '', check: () => true }
}

async function throughput(data: Events, warm: Events, logDir: string | null): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  const n = data.records.length
  for (const workload of workloads) {
    const variants: Variant[] = workload === 'stateless' ? ['keyed'] : groupings
    progressLabel = `${workload}: `
    // Warm-up, and the cross-check: every way makes exactly the hand loop's outputs.
    progress('warm-up')
    const reference = runHand(workload, warm.records, true)
    if (reference.kept!.length === 0) throw new Error(`${workload}: the warm-up makes no outputs to compare`)
    for (const variant of variants) {
      if (modes.includes('b')) {
        const engine = new MemoryEngine(
          buildPipeline('warm', workload, variant, bidTopic('bids'), out()),
          'bids',
        )
        sameOutputs(`(b) ${workload} ${variant}`, reference.kept!, engine.run(warm.records, true).kept!)
      }
    }
    let hand: CaseResult | null = null
    if (modes.includes('a')) {
      const spans: Span[] = []
      let outputs = 0
      for (let i = 0; i < repeat && !overBudget(spans); i++) {
        progress(`(a) hand loop ${i + 1}/${repeat}`)
        spans.push(
          await measure(() => {
            outputs = runHand(workload, data.records, false).outputs
          }),
        )
      }
      hand = caseResult(workload, '-', 'a', n, outputs, median(spans), spans.length, null)
      results.push(hand)
      progress(`(a) ${int(hand.eventsPerCpuSec)} events/s per core`, true)
    }
    for (const variant of variants) {
      const label = workload === 'stateless' ? '-' : variant
      if (modes.includes('b')) {
        const spans: Span[] = []
        let outputs = 0
        for (let i = 0; i < repeat && !overBudget(spans); i++) {
          progress(`(b) engine in memory ${label} ${i + 1}/${repeat}`)
          const engine = new MemoryEngine(
            buildPipeline(`mem-${workload}-${variant}`, workload, variant, bidTopic('bids'), out()),
            'bids',
          )
          spans.push(
            await measure(() => {
              outputs = engine.run(data.records, false).outputs
            }),
          )
        }
        const r = caseResult(workload, label, 'b', n, outputs, median(spans), spans.length, hand)
        results.push(r)
        progress(`(b) ${label}: ${int(r.eventsPerCpuSec)} events/s per core`, true)
      }
      if (logDir && modes.includes('c')) {
        const runs: LogChildResult[] = []
        for (let i = 0; i < repeat && !overBudget(runs); i++) {
          progress(`(c) engine on the log ${label} ${i + 1}/${repeat}`)
          const run = runLogInChild(logDir, workload, variant)
          // Its warm-up run's outputs: every way makes exactly the hand loop's.
          sameOutputs(`(c) ${workload} ${variant}`, reference.kept!, run.warmKept)
          runs.push(run)
        }
        const run = median(runs)
        const r = caseResult(workload, label, 'c', n, run.outputs, run, runs.length, hand)
        r.commits = run.commits
        results.push(r)
        progress(`(c) ${label}: ${int(r.eventsPerCpuSec)} events/s per core`, true)
      }
    }
    const counts = new Set(results.filter((r) => r.workload === workload).map((r) => r.outputs))
    if (counts.size > 1) throw new Error(`${workload}: the ways disagree on the output count: ${[...counts]}`)
  }
  return results
}

function out(): TopicDef<unknown> {
  return topic<unknown>('bench-out', { partitions: 1 })
}

function caseResult(
  workload: Workload,
  variant: Variant | '-',
  mode: Mode,
  n: number,
  outputs: number,
  span: Span,
  runs: number,
  hand: CaseResult | null,
): CaseResult {
  const r: CaseResult = {
    workload,
    variant,
    mode,
    events: n,
    outputs,
    seconds: span.seconds,
    cpuSeconds: span.cpuSeconds,
    eventsPerSec: n / span.seconds,
    eventsPerCpuSec: n / span.cpuSeconds,
    vsHand: null,
    target: '',
    met: null,
    runs,
  }
  if (hand && mode !== 'a') r.vsHand = r.eventsPerCpuSec / hand.eventsPerCpuSec
  const t = target(workload, mode)
  r.target = t.text
  if (mode !== 'a' && (mode === 'c' || hand)) r.met = t.check(r)
  return r
}

// ---------------------------------------------------------------- latency

async function latency(rate: number, bids: Bid[]): Promise<LatencyResult> {
  const dir = mkdtempSync(join(baseDir, 'sluice-bench-engine-lat-'))
  // The floor, measured on the same disk just before the run: a record is visible only after
  // at least one LMDB commit (in `sync`, with its fsync).
  progress('baseline: fdatasync loop')
  const fsync = await fsyncBaseline(dir, baselineSeconds)
  progress('baseline: single LMDB commits')
  const lmdb = await lmdbBaseline(dir, durability, baselineSeconds)
  progress(`${latencySeconds + 1} s`)
  const log = await openEmbeddedLog({ dataDir: join(dir, 'log'), durability, cleanupIntervalMs: 0 })
  try {
    interface Timed extends Bid {
      seq: number
      sent: number
      due: number
    }
    const source = topic<Timed>('lat-in', { timestamp: (b) => b.at, partitions: 1 })
    const sink = topic<unknown>('lat-out', { partitions: 1 })
    await log.createTopic(source.name, { partitions: 1 })
    const p = new Pipeline(`latency-${rate}`)
    p.from(source, { watermark: { maxOutOfOrder: OUT_OF_ORDER } })
      .filter(isExpensive)
      .map((b) => ({ ...toEuros(b), seq: b.seq, sent: b.sent, due: b.due }))
      .to(sink)
    const runner = new EmbeddedRunner(log, [p], runnerOptions)
    const breakdown = args.breakdown ? new LatencyBreakdown(source.name, sink.name) : null
    const seen: Array<{ seq: number; sent: number; seen: number }> = []
    await runner.start()
    if (breakdown) {
      breakdown.attach(log)
      breakdown.attachRunner(runner)
      breakdown.start()
    }
    const running = runner.run()
    let failed: unknown = null
    running.catch((e) => {
      failed = e
    })

    const warmMs = 1000
    const totalMs = warmMs + latencySeconds * 1000
    const t0 = performance.now()
    const measureFrom = t0 + warmMs
    const lat: number[] = []
    const latDue: number[] = []
    let expected = 0
    let received = 0
    let producing = true

    // Consumer: long-polls the output topic.
    const tp = { topic: sink.name, partition: 0 }
    const consumer = (async () => {
      let offset = 0
      while (producing || received < expected) {
        const records = await log.fetch(tp, offset, { waitMs: 20, maxRecords: 10_000 })
        if (records.length === 0) {
          if (!producing && performance.now() - t0 > totalMs + 10_000) break
          continue
        }
        const now = performance.now()
        for (const r of records) {
          const v = JSON.parse(utf8.decode(r.value!)) as { seq: number; sent: number; due: number }
          if (v.sent >= measureFrom) {
            lat.push(now - v.sent)
            latDue.push(now - v.due)
            if (breakdown) seen.push({ seq: v.seq, sent: v.sent, seen: now })
          }
        }
        received += records.length
        offset = records[records.length - 1]!.offset + 1
      }
    })()

    // Producer: every ~1 ms timer tick, send what the rate owes.
    const producer = log.producer({ lingerMs })
    const sends: Promise<unknown>[] = []
    let i = 0
    let measuredSent = 0
    let cpu0: NodeJS.CpuUsage | null = null
    let tMeasure = 0
    for (;;) {
      const now = performance.now()
      const elapsed = now - t0
      if (elapsed >= totalMs) break
      if (cpu0 === null && now >= measureFrom) {
        cpu0 = process.cpuUsage()
        tMeasure = now
      }
      const owed = Math.floor((elapsed / 1000) * rate)
      if (owed > i) {
        const batch: ProducerRecord[] = []
        const sent = performance.now()
        for (; i < owed; i++) {
          const b = bids[i % bids.length]!
          const at = Date.now()
          const value: Timed = { ...b, at, seq: i, sent, due: t0 + (i * 1000) / rate }
          if (isExpensive(b)) expected++
          if (sent >= measureFrom) measuredSent++
          batch.push({
            key: Buffer.from(String(b.auction)),
            value: Buffer.from(JSON.stringify(value)),
            timestamp: at,
          })
        }
        sends.push(producer.send(source.name, batch))
        if (sends.length > 64) await Promise.all(sends.splice(0, sends.length - 16))
      }
      if (failed) throw failed
      await new Promise((r) => setTimeout(r, 1))
    }
    const measuredMs = performance.now() - tMeasure
    const cpu = process.cpuUsage(cpu0 ?? undefined)
    producing = false
    await Promise.all(sends)
    await producer.close()
    await consumer
    runner.stop()
    await running
    if (received < expected) throw new Error(`latency ${rate}/s: received ${received} of ${expected} outputs`)
    if (breakdown) {
      breakdown.stop()
      process.stderr.write(`\n[bench:engine] ${int(rate)}/s ${breakdown.report(seen, measureFrom)}\n`)
    }
    const sorted = Float64Array.from(lat).sort()
    const sortedDue = Float64Array.from(latDue).sort()
    return {
      rate,
      achievedRate: measuredSent / (measuredMs / 1000),
      samples: sorted.length,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      p99FromSchedule: percentile(sortedDue, 0.99),
      cpuCores: (cpu.user + cpu.system) / 1000 / measuredMs,
      fsync,
      lmdb,
    }
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

// ---------------------------------------------------------------- reporting

interface Machine {
  cpus: number
  cpuModel: string
  node: string
  /** 1-minute load average at the start and at the end of the run. */
  load: [number, number]
  /** The commit measured, with "+ changes" when src/ differs from it. */
  revision: string
}

function revision(): string {
  try {
    const git = (...a: string[]) =>
      execFileSync('git', a, { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', 'src') ? ' + changes' : ''}`
  } catch {
    return 'unknown'
  }
}

function machine(): Machine {
  let cpuModel = 'unknown'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpuModel = m[1]!.trim()
  } catch {}
  return {
    cpus: availableParallelism(),
    cpuModel,
    node: process.version,
    load: [loadavg()[0]!, Number.NaN],
    revision: revision(),
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const dec = (n: number, digits = 1) => n.toFixed(digits)
const pct = (n: number) => `${Math.round(n * 100)}%`
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1))

const MODE_LABEL: Record<Mode, string> = {
  a: '(a) hand-written loop',
  b: '(b) engine, in memory',
  c: '(c) engine, embedded log, exactly-once',
}

function throughputTable(results: CaseResult[]): string {
  return table(
    [
      'workload',
      'way',
      'grouping',
      'events',
      'outputs',
      'wall s',
      'CPU s',
      'events/s',
      'events/s per core',
      'vs (a)',
      'target',
      'met',
    ],
    results.map((r) => [
      r.workload,
      MODE_LABEL[r.mode],
      r.variant === '-' ? '' : r.variant === 'keyed' ? '.keyed()' : '.keyBy()',
      int(r.events),
      int(r.outputs),
      dec(r.seconds, 2),
      dec(r.cpuSeconds, 2),
      int(r.eventsPerSec),
      int(r.eventsPerCpuSec),
      r.vsHand === null ? '' : pct(r.vsHand),
      r.target,
      r.met === null ? '' : r.met ? 'yes' : 'NO',
    ]),
    3,
  )
}

function latencyTable(results: LatencyResult[]): string {
  return table(
    [
      'rate events/s',
      'achieved',
      'samples',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'p99 from schedule',
      'CPU cores',
      'floor p99: LMDB commit',
      'fsync',
      'target',
    ],
    results.map((r) => [
      int(r.rate),
      int(r.achievedRate),
      int(r.samples),
      ms(r.p50),
      ms(r.p99),
      ms(r.p999),
      ms(r.max),
      ms(r.p99FromSchedule),
      dec(r.cpuCores, 2),
      ms(r.lmdb.p99),
      ms(r.fsync.p99),
      r.rate === 50_000 ? `p99 ≤ 10 ms: ${r.p99 <= 10 ? 'yes' : 'NO'}` : '',
    ]),
    0,
  )
}

/** The floor under each latency row, measured just before it on the same disk. */
function baselineTable(results: LatencyResult[]): string {
  return table(
    ['before the run at', 'what', 'samples', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
    results.flatMap((r) =>
      (
        [
          ['fdatasync of a 4 KiB write', r.fsync],
          [`one LMDB commit (4 KiB put → ${durability === 'sync' ? 'flushed' : 'committed'})`, r.lmdb],
        ] as const
      ).map(([what, x]) => [
        `${int(r.rate)}/s`,
        what,
        int(x.samples),
        ms(x.p50),
        ms(x.p99),
        ms(x.p999),
        ms(x.max),
      ]),
    ),
    2,
  )
}

function notes(): string {
  return `- Events: ${int(events)} Nexmark-style bids \`{ auction, bidder, price, at }\` over ${int(keys)} auctions,
  pre-encoded (key = auction id, value = JSON, ~60 B) before any clock starts. Event time
  advances 1 ms per ${EVENTS_PER_MS} events with up to ${MAX_DISORDER_MS} ms of disorder; sources declare
  \`maxOutOfOrder: '${OUT_OF_ORDER}'\`, so no record is late.
- Workloads: **stateless** = \`filter(price ≥ ${int(PRICE_FILTER)})\` (about half pass) → \`map\` to euros → sink;
  **tumbling** = count per auction, 10 s tumbling windows → sink; **sliding** = average price
  per auction, 10 s windows every 2 s (5 windows per bid) → sink. Windows close when the
  watermark (max event time − 1 s) passes their end; the run ends with the windows the final
  watermark closes.
- (a) is a plain loop doing the same work per record as the engine: UTF-8-decode the key,
  \`JSON.parse\` the value, the same filter/map functions, or per-window \`Map\`s of mutable
  accumulators; every ${int(batchSize)} records it moves the watermark, closes windows and builds each
  output as the engine's sink does (key bytes + \`JSON.stringify\`ed value). (b) is the engine's
  \`Task\` fed the same LogRecords, ${int(batchSize)} per process → tick → collect; outputs counted and
  dropped, state writes dropped (durability off). (c) is \`EmbeddedRunner\` on a one-partition
  topic of the embedded log (\`${durability}\` durability, ${commitMs ?? 100} ms commit interval; each commit is one
  LMDB transaction with outputs, state and offsets), timed from \`start()\` until the committed
  offsets reach the end of every input and the runner has stopped. Each (c) run is a process of
  its own over the log this one filled, as a pipeline process is: in this one it ran beside the
  pre-generated events and the garbage of (a) and (b), with functions the hand loop had shaped
  for the JIT, which cost it up to a third of its throughput.
- Until 2026-11-24 half of the stateless (c) runs were 15–20% slower than the others (0.90–0.95
  against 1.12–1.14 M events/s per core): V8 had "pretenured" the sink's per-output object, and
  every output's strings were then promoted to the old generation. Outputs now wait for the
  commit as columns (docs/ARCHITECTURE.md, "Outputs wait as columns").
- Grouping: \`.keyed()\` uses the records' keys (already the auction: one task, no
  repartition); \`.keyBy()\` re-keys by \`b.auction\`, which adds a repartition topic and a second
  task; in (b) and (c) its records are handed over in memory (the engine's exchange, as
  \`sluice run --threads 1\` does; worker threads and Kafka workers go through the repartition topic).
- events/s per core = events ÷ process CPU time (user + system, all threads: JS, GC and in (c)
  LMDB's writer/flush threads). Median of ${repeat} runs (fewer once a case's runs have taken
  ${REPEAT_BUDGET_S} s). Every case is warmed up on
  the first ${int(WARM_EVENTS)} events, where the outputs of (a), (b) and (c) are checked to be
  identical; the timed runs check the output counts agree.
- Latency: the stateless pipeline on the embedded log (\`${durability}\`); a producer appends at
  the given rate, every ~1 ms timer tick sending what the rate owes, each value stamped with
  \`performance.now()\` at the send; a consumer long-polls the output topic and takes now − stamp
  per output record when the fetch returns (the output's commit is visible). All in one process
  and one JS thread; these runs come first, before the throughput cases. ${latencySeconds} s measured after
  1 s of warm-up. "p99 from schedule" measures from when the rate said a record was due instead
  of when it was sent, so it also counts time the producer itself was held up (coordinated
  omission). CPU cores = process CPU time ÷ wall time over the measured seconds.
- The producer's linger is ${lingerMs} ms${lingerMs === 0 ? ": each send is appended at the end of its event turn. The producer's\n  default, 1 ms, is a timer, which Node fires 1–2 ms late on a quiet event loop: it adds that\n  to every record (`--linger 1`)" : ''}.
- The floor, measured just before each latency run on the same disk, ${baselineSeconds} s each, about once a
  millisecond: a 4 KiB write + \`fdatasync\` on the JS thread, and one lmdb-js write
  transaction (a 4 KiB put, opened as the log opens LMDB, timed until its commit ${durability === 'sync' ? 'is flushed' : 'lands'}). No
  output is visible sooner than one such commit.
- Where the latency goes (\`--breakdown\` splits every sample into segments and prints them):
  the runner reads an input batch as soon as it is queued to LMDB and queues its own commit
  right behind it, so nearly every output (over 99% in quiet runs) lands in the same LMDB
  transaction as its input, and lmdb-js reports a commit only once it is fsynced. A record's
  latency is one LMDB commit round trip — the queue, LMDB's writer thread, the commit, the
  \`fdatasync\`, the way back to the JS thread — plus well under a millisecond of processing
  and reading. The tail is neither the disk (the \`fdatasync\` rows) nor a bare LMDB commit
  (the floor): it is that round trip inside a busy process. The JS thread must pick up each
  commit's completion, and garbage-collection pauses stop it (a GC pause falls into 60–90% of
  the samples above the p99, 2–5 ms of it each); LMDB's writer thread and the JS thread also
  share the two CPUs with V8's GC helpers and whatever else the machine runs.
- Before 2026-11-24 (the same bench with the 1 ms linger) each record waited for two such round
  trips in a row — its append, then the runner's commit, which also waited for the previous
  commit's fsync — plus the linger timer: p50 2.3–3.6 ms and p99 11–23 ms at the same rates.
- Targets (from the issue): (b) ≥ 50% of (a) stateless and ≥ 33% windowed; (c) ≥ 1,000,000
  events/s per core stateless and ≥ 500,000 windowed; latency p99 ≤ 10 ms at 50,000 events/s.
  The \`.keyBy()\` rows are held to the same targets although (a) has no repartition step.
- Per-core figures come from CPU time and hold up on a busy machine; wall times and latency
  percentiles do not (other processes delay the JS thread and LMDB's threads). Compare the load
  average in the header.`
}

function render(results: CaseResult[], lat: LatencyResult[]): string {
  const parts = [throughputTable(results)]
  if (lat.length > 0) {
    parts.push(`End-to-end latency, append → output committed:\n\n${latencyTable(lat)}`)
    parts.push(
      `The floor: one durable write, timed about once a millisecond just before each run:\n\n${baselineTable(lat)}`,
    )
  }
  parts.push(notes())
  return parts.join('\n\n')
}

function describeMachine(m: Machine): string {
  return `${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, 1-minute load average ${dec(m.load[0], 2)} at the start and ${dec(m.load[1], 2)} at the end; code at ${m.revision}`
}

function docsSection(
  results: CaseResult[],
  lat: LatencyResult[],
  m: Machine,
  command: string,
  joins: JoinResult[],
): string {
  return `${DOCS_HEADING}

Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${describeMachine(m)}.

${render(results, lat)}
${joins.length > 0 ? `\nJoins (bench/joins.ts; \`npm run bench:joins\` runs them alone, with the data and the three ways described there):\n\n${joinTable(joins)}\n` : ''}`
}

function writeDocs(section: string): string {
  const file = resolve(import.meta.dirname, '..', 'docs', 'benchmarks.md')
  let text: string
  if (existsSync(file)) {
    text = readFileSync(file, 'utf8')
  } else {
    mkdirSync(dirname(file), { recursive: true })
    text = `# Benchmarks

Throughput of Sluice's components, measured on the machine named in each section. Every
section says how to reproduce it; numbers from other machines are only comparable as ratios
(for example log throughput against the raw disk baseline measured in the same run).
`
  }
  const start = text.indexOf(DOCS_HEADING)
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section}`
  } else {
    const nextHeading = text.slice(start + DOCS_HEADING.length).search(/^## /m)
    const end = nextHeading < 0 ? text.length : start + DOCS_HEADING.length + nextHeading
    text = `${text.slice(0, start)}${section}${end < text.length ? `\n${text.slice(end)}` : ''}`
  }
  writeDoc(file, text)
  return file
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const m = machine()
  const results: CaseResult[] = []
  const lat: LatencyResult[] = []
  // Latency first: its tail is what other load on the machine spoils most, and the heap is
  // still small. The throughput cases' events are generated afterwards: held during the
  // latency runs, even the 150,000 warm-up events (a heap of ~80 MB instead of ~15) made
  // V8's mark-compact pauses 8–21 ms instead of ~2, and the p99 at 50,000/s 13 ms, not 8–11.
  if (args['log-child']) {
    await logChild(args['log-child'], args['log-dir']!)
    return
  }
  if (args['metrics-overhead'] && args.instructions) {
    if (args['callgrind-child']) await instructionsChild(generate(events, 'bids').records)
    else await instructionsParent()
    return
  }
  if (!args['no-latency']) {
    const latencyBids = generate(LATENCY_BIDS, 'bids').bids
    for (const rate of rates) {
      progressLabel = `latency ${int(rate)}/s: `
      const r = await latency(rate, latencyBids)
      lat.push(r)
      progress(`p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, p99.9 ${ms(r.p999)} ms`, true)
    }
  }
  const warm = generate(Math.min(events, WARM_EVENTS), 'bids')
  progressLabel = ''
  progress(`generating ${int(events)} events`)
  const data = generate(events, 'bids')
  let log: EmbeddedLog | null = null
  let dir: string | null = null
  try {
    if (modes.includes('c')) {
      dir = mkdtempSync(join(baseDir, 'sluice-bench-engine-'))
      log = await openEmbeddedLog({ dataDir: join(dir, 'log'), durability, cleanupIntervalMs: 0 })
      progress(`appending ${int(events)} events to the log (not timed)`)
      await produce(log, 'bids', data.records)
      await produce(log, 'bids-warm', warm.records)
    }
    if (args['metrics-overhead']) {
      if (!log) throw new Error('--metrics-overhead needs mode c')
      await metricsOverhead(log, data.records)
      return
    }
    // (c) runs in processes of their own (runLogInChild), which open the log themselves.
    await log?.close()
    log = null
    results.push(...(await throughput(data, warm, dir === null ? null : join(dir, 'log'))))
  } finally {
    await log?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
  const joinWorkloads =
    args.joins === 'none' ? [] : list<JoinWorkload>('joins', args.joins, ['enrich', 'join'])
  const joins =
    joinWorkloads.length === 0
      ? []
      : await joinBenchmarks(events, joinWorkloads, modes.includes('c'), (t) => progress(`joins: ${t}`))
  progressLabel = ''
  m.load[1] = loadavg()[0]!
  const argv = process.argv.slice(2)
  const command = `npm run bench:engine${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ machine: m, date: new Date().toISOString(), command, durability, throughput: results, latency: lat, joins }, null, 2)}\n`,
    )
  } else {
    process.stdout.write(`Engine, ${describeMachine(m)}\n\n${render(results, lat)}\n`)
    if (joins.length > 0) process.stdout.write(`\nJoins:\n\n${joinTable(joins)}\n`)
  }
  if (args['write-docs']) {
    const file = writeDocs(docsSection(results, lat, m, command, joins))
    process.stderr.write(`[bench:engine] wrote ${file}\n`)
  }
}

/**
 * `--metrics-overhead`: the cost of the per-task metrics (latency histograms, busy time) on
 * (c), measured as CPU time with metrics on vs off, runs alternating so drift hits both.
 */
async function metricsOverhead(log: EmbeddedLog, records: readonly LogRecord[]): Promise<void> {
  const n = records.length
  // Noise on a shared machine only ever adds time: the fastest run of each way is the least
  // disturbed one; the medians are shown beside it.
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const best = (xs: number[]) => Math.min(...xs)
  const pct = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(1)}%`
  const rows: string[] = [
    '| workload | metrics off, events/s per core (best run) | metrics on (best run) | overhead (best runs) | overhead (medians) |',
    '| :--- | ---: | ---: | ---: | ---: |',
  ]
  // (b) first: the engine in memory, one thread, no I/O — the steadiest CPU times this
  // machine gives, so the figure that can show a few percent.
  const memoryRows: string[] = [
    '| workload | (b) metrics off, events/s per core (best run) | metrics on (best run) | overhead (best runs) | overhead (medians) |',
    '| :--- | ---: | ---: | ---: | ---: |',
  ]
  const runs = Math.max(7, repeat)
  for (const workload of workloads) {
    const off: number[] = []
    const on: number[] = []
    const variant: Variant = 'keyed'
    for (let i = 0; i < runs; i++) {
      progress(`metrics overhead (b): ${workload} run ${i + 1}/${runs}`)
      for (const metrics of i % 2 === 0 ? [false, true] : [true, false]) {
        const engine = new MemoryEngine(
          buildPipeline(`mem-${workload}-${metrics}`, workload, variant, bidTopic('bids'), out()),
          'bids',
          metrics,
        )
        const span = await measure(() => engine.run(records, false))
        ;(metrics ? on : off).push(span.cpuSeconds)
      }
    }
    memoryRows.push(
      `| ${workload} | ${int(n / best(off))} | ${int(n / best(on))} | ${pct(best(off), best(on))} | ${pct(median(off), median(on))} |`,
    )
  }
  for (const workload of workloads) {
    const off: number[] = []
    const on: number[] = []
    for (let i = 0; i < Math.max(3, repeat); i++) {
      progress(`metrics overhead: ${workload} run ${i + 1}`)
      off.push((await runLog(log, workload, 'keyed', 'bids', false, false)).cpuSeconds)
      on.push((await runLog(log, workload, 'keyed', 'bids', false, true)).cpuSeconds)
    }
    rows.push(
      `| ${workload} | ${int(n / best(off))} | ${int(n / best(on))} | ${pct(best(off), best(on))} | ${pct(median(off), median(on))} |`,
    )
  }
  // The same cost measured alone, far less noisy: what the metrics do per record (two
  // timestamps stored, then histograms filled when the commit lands), on this machine.
  const metrics = new TaskMetrics(true)
  const now = Date.now()
  const reps = 2_000_000
  const t0 = process.cpuUsage()
  for (let b = 0; b < reps / 2_000; b++) {
    for (let i = 0; i < 2_000; i++) metrics.observe(now - 5, now - 100 - i)
    metrics.collected()
    metrics.landed(now)
  }
  const t1 = process.cpuUsage(t0)
  const nsPerRecord = ((t1.user + t1.system) * 1_000) / reps
  process.stdout.write(
    `Metrics overhead on (b), ${int(n)} events, ${runs} runs each way, alternating:\n\n${memoryRows.join('\n')}\n\n` +
      `Metrics overhead on (c), ${int(n)} events, ${Math.max(3, repeat)} runs each way, alternating:\n\n${rows.join('\n')}\n\n` +
      `Alone: ${nsPerRecord.toFixed(1)} ns of CPU per record (${int(reps)} records through TaskMetrics).\n`,
  )
}

// ---------------------------------------------------------------- metrics cost in instructions

/** `callgrind_control` on this process: `-z` zeroes the counts, `-d label` dumps them to a file. */
function callgrind(...command: string[]): void {
  execFileSync('callgrind_control', [...command, String(process.pid)], { stdio: 'ignore' })
}

/**
 * Under callgrind: each (b) run with metrics off and on, alternating, between a zero and a
 * dump of the instruction counts, so each dump holds exactly one run (plus the constant cost
 * of starting callgrind_control). One untimed warm-up run of each way first, for the JIT.
 */
async function instructionsChild(records: readonly LogRecord[]): Promise<void> {
  const runs = Math.max(3, repeat)
  // The first of --groupings for the windowed workloads (keyed unless told).
  const variant: Variant = groupings[0]!
  for (const workload of workloads) {
    for (let i = -1; i < runs; i++) {
      for (const metrics of i % 2 === 0 ? [false, true] : [true, false]) {
        const engine = new MemoryEngine(
          buildPipeline(`mem-${workload}-${metrics}`, workload, variant, bidTopic('bids'), out()),
          'bids',
          metrics,
        )
        if (i >= 0) callgrind('-z')
        engine.run(records, false)
        if (i >= 0) callgrind('-d', `${workload}:${metrics ? 'on' : 'off'}:${i}`)
        progress(`metrics overhead (instructions): ${workload} ${metrics ? 'on' : 'off'} ${i + 1}/${runs}`)
      }
    }
  }
}

/** Runs the child under callgrind and turns its dumps into the table. */
async function instructionsParent(): Promise<void> {
  const dir = mkdtempSync(join(baseDir, 'sluice-bench-callgrind-'))
  try {
    const argv = process.argv.slice(2).filter((a) => a !== '--callgrind-child')
    progress(`running ${int(events)} events per run under valgrind --tool=callgrind (slow)`)
    execFileSync(
      'valgrind',
      [
        '--tool=callgrind',
        // V8 writes and rewrites machine code as it runs: callgrind must notice.
        '--smc-check=all-non-file',
        `--callgrind-out-file=${join(dir, 'cg.out')}`,
        process.execPath,
        ...process.execArgv,
        process.argv[1]!,
        ...argv,
        '--callgrind-child',
      ],
      { stdio: ['ignore', 'inherit', 'pipe'] },
    )
    const counts = new Map<string, { on: number[]; off: number[] }>()
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8')
      const label = /^desc: Trigger: dump (\S+)$/m.exec(text)?.[1]
      const total = /^summary: (\d+)$/m.exec(text)?.[1]
      if (!label || !total) continue
      const [workload, way] = label.split(':') as [string, 'on' | 'off']
      const c = counts.get(workload) ?? { on: [], off: [] }
      c[way].push(Number(total))
      counts.set(workload, c)
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const rows = [
      '| workload | instructions per event, metrics off (median) | metrics on (median) | overhead | runs each way | spread of the off runs |',
      '| :--- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for (const workload of workloads) {
      const c = counts.get(workload)
      if (!c || c.on.length === 0 || c.off.length === 0)
        throw new Error(`no callgrind dumps for ${workload} in ${dir}`)
      const off = median(c.off) / events
      const on = median(c.on) / events
      const spread = (Math.max(...c.off) / Math.min(...c.off) - 1) * 100
      rows.push(
        `| ${workload} | ${int(off)} | ${int(on)} | ${((on / off - 1) * 100).toFixed(1)}% | ${c.on.length} | ${spread.toFixed(1)}% |`,
      )
    }
    process.stdout.write(
      `Metrics overhead on (b) in CPU instructions (valgrind --tool=callgrind), ${int(events)} events per run:\n\n${rows.join('\n')}\n`,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
