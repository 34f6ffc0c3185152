/**
 * Nexmark on Sluice and its peers, side by side (not a test): the same events, in one run,
 * engines interleaved per query so that the machine's background load falls on all of them
 * alike. See docs/nexmark.md, "Peers".
 *
 *   node bench/peers/main.ts --query q0,q1,q2,q5,q7,q8 --events 1000000 [--peers flink,kafka-streams,kafkats] [--write-docs]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Durability } from '../../src/index.ts'
import { flagErrors, parseFlags } from '../common.ts'
import { generateEvents, generatorConfig, maxDisorderMs } from '../nexmark/generator.ts'
import { machine } from '../nexmark/report.ts'
import { isPeerQuery, PEER_QUERIES, type PeerQuery } from './checksum.ts'
import { type Closing, type Expectation, Expected } from './expected.ts'
import { runFlink } from './flink.ts'
import { type EventsFile, writeEventsFile } from './generate.ts'
import { buildJava } from './java.ts'
import { BOOTSTRAP, type KafkaInput, loadKafkaInput, runKafkaStreams } from './kafka.ts'
import { KAFKATS_QUERIES, runKafkats } from './kafkats.ts'
import {
  type Checked,
  check,
  ENGINE_NAMES,
  runsTable,
  summaryTable,
  writeBenchmarksSection,
  writeNexmarkSection,
} from './report.ts'
import { type Engine, PEERS, type Peer, type RunResult } from './result.ts'
import { prepareSluiceLog, runSluice } from './sluice.ts'

const HELP = `node bench/peers/main.ts [options]

Nexmark on Sluice, Apache Flink, Kafka Streams and @kafkats/flow, over the same events in one
run. The events are generated once (bench/nexmark/generator.ts) into an NDJSON file (Flink
reads it), a topic of Sluice's embedded log and, for the Kafka peers, a Kafka topic (none of
this is timed); then, query by query, Sluice and each peer run in processes of their own.
Each peer's output count and checksum are checked against Sluice's reference implementation
for the same events; a peer that computes something else is reported as a MISMATCH.

  --query LIST       queries (default: ${PEER_QUERIES.join(',')})
  --events N         events to generate (default 1,000,000)
  --peers LIST       peers to run (default: ${PEERS.join(',')})
  --seed N           the generator's seed (default 42)
  --rate N           events per second of event time (default 10,000)
  --warmup N         first run each query, untimed and in the same process, over the first N
                     events (default 0: a cold process, as npm run bench:nexmark runs); the
                     JVMs' JIT compilers then work before the clock starts, not during it
  --commit-ms N      commit interval of every engine (default 100: Sluice's and Kafka Streams'
                     exactly-once default); Flink checkpoints every N ms
  --durability D     Sluice's log: sync (default) or interval
  --dir PATH         where the events file and Sluice's log go (default: the OS temp dir)
  --write-docs       write the tables into docs/benchmarks.md and docs/nexmark.md
  -h, --help         this text

Kafka Streams and @kafkats/flow need the broker: bash scripts/kafka.sh start (127.0.0.1:9092).
`

const flags = flagErrors('bench:peers')
const count = flags.count
// A declaration, so that TypeScript knows the code after a call to it does not run.
function fail(message: string): never {
  return flags.fail(message)
}

const args = parseFlags(
  {
    options: {
      query: { type: 'string' },
      events: { type: 'string' },
      peers: { type: 'string' },
      seed: { type: 'string' },
      rate: { type: 'string' },
      'commit-ms': { type: 'string' },
      warmup: { type: 'string' },
      durability: { type: 'string', default: 'sync' },
      dir: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  },
  HELP,
  fail,
)

const queries: PeerQuery[] = (args.query ?? PEER_QUERIES.join(',')).split(',').map((q) => {
  const id = q.trim()
  if (!isPeerQuery(id)) fail(`the peers run ${PEER_QUERIES.join(', ')}; got "${id}"`)
  return id
})
// A query's second Sluice run would find its consumer group already at the end of the log.
const twice = queries.find((q, i) => queries.indexOf(q) !== i)
if (twice) fail(`${twice} is listed twice; run the benchmark again to repeat a query`)
const peers: Peer[] = (args.peers ?? PEERS.join(',')).split(',').map((p) => {
  const id = p.trim() as Peer
  if (!PEERS.includes(id)) fail(`--peers takes ${PEERS.join(', ')}; got "${p}"`)
  return id
})
const events = count('events', args.events, 1_000_000)
const config = generatorConfig({
  seed: count('seed', args.seed, 42, 0),
  firstEventRate: count('rate', args.rate, 10_000),
})
const commitMs = count('commit-ms', args['commit-ms'], 100)
const warmup = count('warmup', args.warmup, 0, 0)
if (warmup >= events) fail(`--warmup (${warmup}) must be fewer than --events (${events})`)
if (args.durability !== 'sync' && args.durability !== 'interval') {
  fail(`--durability takes sync or interval, got "${args.durability}"`)
}
const durability = args.durability as Durability

/** How each engine's last windows close at the end of the input (bench/peers/expected.ts). */
const CLOSING: Record<Engine, Closing> = {
  sluice: 'watermark',
  flink: 'all',
  'kafka-streams': 'stream-time',
  kafkats: 'stream-time',
}

function say(text: string): void {
  process.stderr.write(`[bench:peers] ${text}\n`)
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')

/** Each peer: can it run this query, and the run. Set up once per benchmark (files, topics). */
interface PeerRunner {
  runs(query: PeerQuery): boolean
  run(query: PeerQuery): RunResult
}

function flinkRunner(file: EventsFile, warmupFile: EventsFile | undefined): PeerRunner {
  const options = {
    checkpointMs: commitMs,
    disorderMs: maxDisorderMs(config),
    ...(warmupFile ? { warmupFile: warmupFile.path } : {}),
  }
  return { runs: () => true, run: (query) => runFlink(query, file.path, events, options) }
}

function kafkatsRunner(input: KafkaInput): PeerRunner {
  return {
    runs: (query) => KAFKATS_QUERIES.includes(query),
    run: (query) => runKafkats(query, input, events, commitMs),
  }
}

function kafkaStreamsRunner(input: KafkaInput): PeerRunner {
  return { runs: () => true, run: (query) => runKafkaStreams(query, input, events, commitMs) }
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!
  const dir = mkdtempSync(join(resolve(args.dir ?? tmpdir()), 'sluice-bench-peers-'))
  const runs: Checked[] = []
  const failures: string[] = []
  try {
    say(
      `generating ${int(events)} events (seed ${config.seed}, ${int(config.firstEventRate)}/s of event time)`,
    )
    const file = await writeEventsFile(join(dir, 'events.ndjson'), config, events)
    say(`events file: ${int(file.bytes / 1_048_576)} MB; appending them to Sluice's embedded log (not timed)`)
    const logDir = await prepareSluiceLog(dir, 'sluice-log', config, events, durability)
    // The warm-up events are the first `warmup` of the same generator: the same events again.
    const warmupFile =
      warmup > 0 ? await writeEventsFile(join(dir, 'warmup.ndjson'), config, warmup) : undefined
    const warmupLogDir =
      warmup > 0 ? await prepareSluiceLog(dir, 'sluice-warmup-log', config, warmup, durability) : undefined
    say('computing the expected results with the reference implementations')
    const expected = expectations(file)
    buildJava(say)
    const runners = new Map<Peer, PeerRunner>()
    let kafka: KafkaInput | undefined
    if (peers.includes('kafka-streams') || peers.includes('kafkats')) {
      say(`loading the events into a Kafka topic on ${BOOTSTRAP} (not timed)`)
      kafka = loadKafkaInput(file.path, warmupFile?.path)
    }
    for (const peer of peers) {
      if (peer === 'flink') runners.set(peer, flinkRunner(file, warmupFile))
      else if (peer === 'kafka-streams') runners.set(peer, kafkaStreamsRunner(kafka!))
      else runners.set(peer, kafkatsRunner(kafka!))
    }
    try {
      for (const query of queries) {
        const sluice = check(
          runSluice(logDir, query, config, events, durability, warmupLogDir),
          expected(query, 'sluice'),
        )
        report(sluice)
        runs.push(sluice)
        for (const [peer, runner] of runners) {
          if (!runner.runs(query)) continue
          // A peer that fails is reported and left out of the table; the others go on.
          let result: RunResult
          try {
            result = runner.run(query)
          } catch (error) {
            say(`${query} ${ENGINE_NAMES[peer]} FAILED: ${(error as Error).message}`)
            failures.push(`${ENGINE_NAMES[peer]} ${query}`)
            continue
          }
          const run = check(result, expected(query, peer))
          report(run, sluice)
          runs.push(run)
        }
      }
    } finally {
      kafka?.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const engines: Engine[] = ['sluice', ...peers]
  const where = `${machine(loadAtStart)}; ${javaVersion()}`
  const argv = process.argv.slice(2)
  const command = `npm run bench:peers${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  const body = `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${where}.\n\n${summaryTable(runs, engines)}\n\n${runsTable(runs)}\n\n${notes(runs)}`
  process.stdout.write(`\nNexmark peers, ${where}\n\n${summaryTable(runs, engines)}\n\n${runsTable(runs)}\n`)
  const mismatches = runs.filter((r) => !r.ok)
  if (args['write-docs']) {
    say(`wrote ${writeBenchmarksSection(body)}`)
    say(`wrote ${writeNexmarkSection(body)}`)
  }
  if (failures.length > 0) {
    say(`FAILED (not in the tables): ${failures.join(', ')}`)
    process.exitCode = 1
  }
  if (mismatches.length > 0) {
    say(
      `MISMATCH: ${mismatches.map((r) => `${ENGINE_NAMES[r.engine]} ${r.query}`).join(', ')} computed something else than the reference: not comparable`,
    )
    process.exitCode = 1
  }
}

/** The reference's expected rows for every engine's closing rule (the events are generated again, then dropped). */
function expectations(file: EventsFile): (query: PeerQuery, engine: Engine) => Expectation {
  const reference = new Expected(generateEvents(events, config), config, file)
  const table = new Map<string, Expectation>()
  for (const query of queries) {
    for (const engine of ['sluice', ...peers] as Engine[]) {
      table.set(`${query} ${engine}`, reference.for(query, CLOSING[engine]))
    }
  }
  return (query, engine) => table.get(`${query} ${engine}`)!
}

function report(run: Checked, sluice?: RunResult): void {
  const perCore = run.events / (run.cpuMs / 1000)
  const vs = sluice
    ? `, Sluice ÷ ${ENGINE_NAMES[run.engine]} ${(sluice.events / sluice.cpuMs / (run.events / run.cpuMs)).toFixed(2)}×`
    : ''
  const ok = run.ok
    ? 'results ok'
    : `MISMATCH: ${int(run.outputs)} rows (checksum ${run.checksum}), the reference has ${int(run.expected.outputs)} (checksum ${run.expected.checksum}) for the windows it closes`
  say(
    `${run.query} ${ENGINE_NAMES[run.engine]}: ${int(perCore)} events/s per core, ${(run.wallMs / 1000).toFixed(2)} s wall, ${ok}${vs}`,
  )
}

/** What the tables measured, for the docs (versions from the runs themselves). */
function notes(runs: readonly Checked[]): string {
  const version = (engine: Engine, key: string) => {
    const v = runs.find((r) => r.engine === engine)?.extra[key]
    return typeof v === 'string' ? ` ${v}` : ''
  }
  return `- Events: ${int(events)} from bench/nexmark/generator.ts, seed ${config.seed}, ${int(config.firstEventRate)} events per second of
  event time, written once as NDJSON (the JSON Sluice's events topic holds). Sluice reads them from a
  one-partition topic of its embedded log, Flink from the file, Kafka Streams and @kafkats/flow from
  a one-partition Kafka topic (record timestamp = event time); all loaded before any clock starts.
- ${
    warmup > 0
      ? `Warm-up: each engine first ran the same query, untimed and in the same process, over the
  first ${int(warmup)} events (a log, file or topic of their own), so the JIT compilers (V8's, the
  JVM's) had compiled the hot code before the clock started.`
      : `No warm-up: every engine starts cold in a process of its own, JIT compilation (V8's, the
  JVM's) included in its CPU time.`
  }
- Sluice: \`EmbeddedRunner\`, one JS thread, exactly-once commits (${durability} durability, commit every
  ${commitMs} ms or 8,192 outputs), timed until the committed offsets reach the end of every input.
- Flink${version('flink', 'flinkVersion')}: DataStream API in a local MiniCluster (started before the clock), parallelism 1,
  one slot, object reuse, checkpoints every ${commitMs} ms (exactly-once, heap state backend,
  snapshots to local files); timed from job submission until the job finished. The sink encodes
  each row as JSON, counts it and drops it: Flink writes no output anywhere.
- Kafka Streams${version('kafka-streams', 'kafkaStreamsVersion')}: one stream thread, exactly_once_v2, commit.interval.ms ${commitMs},
  RocksDB stores, windows emitted on close; timed from \`start()\` (group join included) until the
  committed offsets reach the end of the input and of every repartition topic. Its broker's CPU
  time over the run is in "broker CPU s", not in its per-core figure.
- @kafkats/flow${version('kafkats', 'kafkatsFlowVersion')}: q0–q2 (it cannot emit a window once, when it closes); exactly_once,
  commitIntervalMs ${commitMs}; timed until every input record went through its topology and the output
  topic stopped growing (its committed offset jumps back and forth: bench/peers/kafkats.ts).
- Checked: each engine's row count and checksum equal those of Sluice's reference
  implementation (bench/nexmark/reference/) for the windows that engine closes at the end of the
  input: all of them for Flink (a bounded file), those the last watermark or stream time passed
  for the others (bench/peers/expected.ts). Hence the different output counts of q5, q7 and q8.
- events/s per core = events ÷ the engine process's CPU time (user + system, all threads).
  "Sluice ÷ X" > 1: Sluice does more per core. Peak heap and RSS: sampled every 50 ms.
- The machine is shared: the engines run interleaved, query by query, so background load falls on
  all of them; per-core figures are steadier than wall times.
- How each engine is set up, how the results are checked, cold against warm, and where Sluice's
  time goes where it is behind: docs/nexmark.md, "Peers".`
}

/** The JVM the peers ran on, as `java -version` names it. */
function javaVersion(): string {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' })
  return (out.stderr ?? '').split('\n')[0]?.trim() || 'Java: unknown'
}

await main()
