/**
 * Nexmark on Sluice (not a test): generates the events, appends them to the embedded log (not
 * timed), then runs each query over all of them with exactly-once commits and reports
 * events/s, events/s per core (process CPU time) and peak memory. See docs/nexmark.md.
 *
 *   npm run bench:nexmark -- --query q5 --events 10000000
 *   npm run bench:nexmark -- --all --events 1000000 --write-docs
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type Durability, openEmbeddedLog } from '../../src/index.ts'
import { flagErrors, parseFlags } from '../common.ts'
import { CpuProfiler } from '../profile.ts'
import { generatorConfig } from './generator.ts'
import { runOnKafka } from './kafka.ts'
import { FORMATS, type Format } from './queries/common.ts'
import {
  machine,
  medianRun,
  profileTable,
  type QueryResult,
  resultTable,
  TARGETS,
  writeDocsSection,
} from './report.ts'
import { appendEvents, EVENTS_TOPIC, runQuery } from './run.ts'
import { QUERIES, type QuerySpec, querySpec } from './suite.ts'

const HELP = `npm run bench:nexmark -- (--query qN[,qM…] | --all) [options]

Runs Nexmark queries on Sluice: the events are generated (bench/nexmark/generator.ts) and
appended to a one-partition topic of the embedded log first (not timed); then each query's
pipeline consumes all of them with exactly-once commits, timed from start until its committed
offsets reach the end of every input (q10: and until its file connector has written and fsynced
every row into dt=…/hm=… directories beside the log). Reports events/s, events/s per core
(process CPU time, all threads) and the peak RSS and V8 heap seen during the run.

  --query LIST       queries to run, e.g. q5 or q0,q1,q2 (known: ${QUERIES.map((q) => q.id).join(', ')})
  --all              run every query
  --events N         events to generate (default 1,000,000; underscores and commas allowed)
  --backend B        embedded (default) or kafka: the events go to a topic of the broker, and each
                     query runs as one Kafka worker (GroupRunner) in this process, exactly-once
  --brokers LIST     with --backend kafka: the bootstrap brokers (default $KAFKA_BROKERS or
                     127.0.0.1:9092); start a local one with bash scripts/kafka.sh start
  --seed N           the generator's seed (default 42)
  --rate N           events per second of event time, the generator's firstEventRate (default
                     10,000, the reference's default: 1,000,000 events span 100 s)
  --codec LIST       how the events are encoded: json (default), binary (binaryCodec over
                     bench/nexmark/schema.ts; q0–q2 write binary outputs too), or json,binary
                     to run each query on both, one after the other, in this run
  --durability D     sync (default: every commit fsynced) or interval
  --repeat N         run each query N times (default 1), each in a new process over its own copy
                     of the events' log; the table shows the median run by CPU time and the
                     lowest and highest events/s per core (this machine's runs vary by ±10%)
  --dir PATH         where the log's data directory goes (default: the OS temp dir)
  --cpu-prof         profile each timed run (main JS thread): writes nexmark-<query>.cpuprofile
                     in the current directory and prints the functions with the most self time
  --write-docs       with --all: (re)write the Nexmark section of docs/benchmarks.md
  -h, --help         this text

Examples:
  npm run bench:nexmark -- --query q5 --events 10000000
  npm run bench:nexmark -- --all --events 1000000 --write-docs
  npm run bench:nexmark -- --query q4 --events 2000000 --cpu-prof
  npm run bench:nexmark -- --query q0,q1 --codec json,binary
  npm run bench:nexmark -- --query q0,q1,q2 --codec binary --repeat 5
  npm run bench:nexmark -- --query q0,q1,q2,q5 --events 1000000 --backend kafka
`

const flags = flagErrors('bench:nexmark')
const count = flags.count
// A declaration, so that TypeScript knows the code after a call to it does not run.
function fail(message: string): never {
  return flags.fail(message)
}

const args = parseFlags(
  {
    options: {
      query: { type: 'string' },
      all: { type: 'boolean', default: false },
      events: { type: 'string' },
      backend: { type: 'string', default: 'embedded' },
      brokers: { type: 'string' },
      seed: { type: 'string' },
      rate: { type: 'string' },
      durability: { type: 'string', default: 'sync' },
      repeat: { type: 'string' },
      codec: { type: 'string', default: 'json' },
      dir: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'write-docs': { type: 'boolean', default: false },
      // Internal: a child run over the log the parent filled.
      'log-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  },
  HELP,
  fail,
)
if (args.backend !== 'embedded' && args.backend !== 'kafka')
  fail(`--backend takes embedded or kafka, got "${args.backend}"`)
if (args.backend === 'kafka' && args['write-docs'])
  fail('--write-docs writes the embedded suite’s table: leave it out with --backend kafka')
const brokers = (args.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
if (args.all && args.query !== undefined) fail('give either --query or --all, not both')
if (!args.all && args.query === undefined) fail('say which queries to run: --query q5 (or a list), or --all')
if (args['write-docs'] && !args.all) fail('--write-docs writes the whole suite’s table: use it with --all')
if (args.durability !== 'sync' && args.durability !== 'interval') {
  fail(`--durability takes sync or interval, got "${args.durability}"`)
}
const specs: QuerySpec[] = args.all
  ? [...QUERIES]
  : args.query!.split(',').map((id) => {
      const spec = querySpec(id.trim())
      if (!spec) fail(`unknown query "${id}"; known: ${QUERIES.map((q) => q.id).join(', ')}`)
      return spec
    })
// A query's second run would find its consumer group already at the end of the input (the
// same pipeline name over the same log) and report a rate for no work.
const twice = specs.find((s, i) => specs.indexOf(s) !== i)
if (twice) fail(`${twice.id} is listed twice; run the benchmark again to repeat a query`)
const events = count('events', args.events, 1_000_000)
const config = generatorConfig({
  seed: count('seed', args.seed, 42, 0),
  firstEventRate: count('rate', args.rate, 10_000),
})
const durability = args.durability as Durability
const repeat = count('repeat', args.repeat, 1)
if (repeat > 1 && args.backend === 'kafka')
  fail('--repeat runs on the embedded backend: leave it out with --backend kafka')
if (repeat > 1 && args['cpu-prof']) fail('--cpu-prof profiles one run: leave --repeat out')
const formats = args.codec.split(',').map((f) => f.trim()) as Format[]
for (const f of formats)
  if (!FORMATS.includes(f)) fail(`--codec takes json, binary or json,binary, got "${args.codec}"`)
if (new Set(formats).size !== formats.length) fail(`--codec lists "${args.codec}": name each codec once`)
if (args.backend === 'kafka' && formats.some((f) => f !== 'json'))
  fail('--backend kafka runs on JSON events: leave --codec out')

const tty = process.stderr.isTTY === true
function progress(text: string, final = false): void {
  const line = `[bench:nexmark] ${text}`
  if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
  else if (final) process.stderr.write(`${line}\n`)
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!
  // A child run: one query over a log the parent filled (see runInChild).
  if (args['log-dir'] !== undefined) {
    process.stdout.write(`${JSON.stringify(await runQueries(args['log-dir']))}\n`)
    return
  }
  if (args.backend === 'kafka') {
    const results = await runOnKafka({ brokers, specs, config, events, progress })
    process.stdout.write(
      `Nexmark on Sluice over Kafka (${brokers.join(',')}), ${machine(loadAtStart)}\n\n${resultTable(results)}\n\n` +
        '- One GroupRunner worker in this process, exactly-once (Kafka transactions); events/s per core is\n' +
        "  this process's CPU time, not the broker's. The events were appended first (not timed).\n",
    )
    return
  }
  const dir = mkdtempSync(join(resolve(args.dir ?? tmpdir()), 'sluice-bench-nexmark-'))
  const results: QueryResult[] = []
  try {
    for (const format of formats) {
      const logDir = join(dir, `log-${format}`)
      const log = await openEmbeddedLog({ dataDir: logDir, durability, cleanupIntervalMs: 0 })
      try {
        const appended = await appendEvents(
          log,
          config,
          events,
          (done) => progress(`appending ${format} events (not timed): ${int(done)} of ${int(events)}`),
          format,
        )
        progress(
          `appended ${int(appended.events)} ${format} events, ${int(appended.bytes / 1_048_576)} MB, in ${appended.seconds.toFixed(1)} s`,
          true,
        )
      } finally {
        await log.close()
      }
      for (const spec of specs) {
        const label = formats.length > 1 ? `${spec.id} ${format}` : spec.id
        const runs: QueryResult[] = []
        for (let run = 1; run <= repeat; run++) {
          progress(`${label} (${spec.title}) running${repeat > 1 ? `, run ${run} of ${repeat}` : ''}`)
          runs.push(
            repeat > 1 ? runOnCopy(spec, logDir, format, join(dir, 'run')) : runInChild(spec, logDir, format),
          )
        }
        const result = medianRun(runs)
        results.push(result)
        progress(`${label} (${spec.title}): ${int(events / result.cpuSeconds)} events/s per core`, true)
        if (result.files) {
          const f = result.files
          progress(
            `${spec.id}: ${int(f.lines)} rows in ${int(f.files)} files in ${int(f.directories)} partition directories, ${int(f.bytes / 1_048_576)} MB`,
            true,
          )
        }
        if (result.profile) {
          process.stderr.write(
            `\n${label}: ${result.profile.file}, top functions by self time:\n${profileTable(result.profile.top)}\n\n`,
          )
        }
      }
      // The next codec's log is written on the memory and disk this one used.
      rmSync(logDir, { recursive: true, force: true })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const argv = process.argv.slice(2)
  const command = `npm run bench:nexmark${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  const where = machine(loadAtStart)
  process.stdout.write(`Nexmark on Sluice, ${where}\n\n${resultTable(results)}\n\n${notes()}\n`)
  if (args['write-docs']) {
    const body = `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${where}.\n\n${resultTable(results)}\n\n${notes()}`
    process.stderr.write(`[bench:nexmark] wrote ${writeDocsSection(body)}\n`)
  }
}

/**
 * One of several runs of a query: over a copy of the events' log, so that every run starts from
 * the same bytes on disk (a run over the log itself would find its consumer group at the end,
 * and its outputs would sit in the next run's file). The copy and what the run wrote beside it
 * (q10's files) are removed after it.
 */
function runOnCopy(spec: QuerySpec, logDir: string, format: Format, copyDir: string): QueryResult {
  cpSync(logDir, copyDir, { recursive: true })
  try {
    return runInChild(spec, copyDir, format)
  } finally {
    rmSync(copyDir, { recursive: true, force: true })
    rmSync(filesDir(copyDir, spec, format), { recursive: true, force: true })
  }
}

/** Where q10's files go: beside the log, one directory per query and codec. */
function filesDir(logDir: string, spec: QuerySpec, format: Format): string {
  return join(dirname(logDir), `files-${spec.id}-${format}`)
}

/**
 * Each query runs in a process of its own over the log the parent filled (and closed): its
 * peak memory is its own, and no query runs on code the JIT shaped for another.
 */
function runInChild(spec: QuerySpec, logDir: string, format: Format): QueryResult {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      import.meta.filename,
      '--query',
      spec.id,
      '--log-dir',
      logDir,
      '--events',
      String(events),
      '--seed',
      String(config.seed),
      '--rate',
      String(config.firstEventRate),
      '--durability',
      durability,
      '--codec',
      format,
      ...(args['cpu-prof'] ? ['--cpu-prof'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
  if (child.status !== 0) {
    throw new Error(`${spec.id}: the run failed (exit ${child.status ?? child.signal}); its error is above`)
  }
  return (JSON.parse(child.stdout) as QueryResult[])[0]!
}

/** The queries, in this process, over the events already in the log at `logDir`. */
async function runQueries(logDir: string): Promise<QueryResult[]> {
  const log = await openEmbeddedLog({ dataDir: logDir, durability, cleanupIntervalMs: 0 })
  const profiler = args['cpu-prof'] ? new CpuProfiler() : null
  const results: QueryResult[] = []
  try {
    const appended = log.partitionsOf(EVENTS_TOPIC)[0]!.highWatermark
    if (appended !== events) throw new Error(`the log holds ${appended} events, not ${events}`)
    for (const spec of specs) {
      const format = formats[0]!
      const file = `nexmark-${spec.id}${format === 'json' ? '' : `-${format}`}.cpuprofile`
      let profile: QueryResult['profile']
      const measured = await runQuery(log, spec, config, {
        // Beside the log, on the same disk (--dir), one per codec (the run checks the lines it
        // finds there against its rows: a directory shared with the other codec's run held both);
        // the parent removes them all.
        format,
        ...(spec.files ? { filesDir: filesDir(logDir, spec, format) } : {}),
        ...(profiler ? { beforeStart: () => profiler.start() } : {}),
        ...(profiler
          ? {
              afterStop: async () => {
                profile = { file, top: await profiler.stop(file) }
              },
            }
          : {}),
      })
      results.push({
        query: spec.id,
        title: spec.title,
        codec: format,
        events,
        ...measured,
        ...(profile ? { profile } : {}),
      })
    }
  } finally {
    profiler?.close()
    await log.close()
  }
  return results
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')

function notes(): string {
  const targets = Object.entries(TARGETS)
    .map(([q, t]) => `${q} ≥ ${t.toLocaleString('en-US')}`)
    .join(', ')
  return `- Events: ${events.toLocaleString('en-US')} from bench/nexmark/generator.ts (nexmark/nexmark's generator and
  defaults: 1 : 3 : 46 persons, auctions and bids, JSON with the reference's \`extra\` padding —
  bids about 250 bytes${
    formats.includes('binary')
      ? `; codec binary: \`binaryCodec\` over bench/nexmark/schema.ts, 199 bytes an event against
  JSON's 274, and q0–q2 write binary outputs`
      : ''
  }), seed ${config.seed}, ${config.firstEventRate.toLocaleString('en-US')} events per second of event time; one topic,
  one partition, appended before the clock starts. Queries and how each is written: docs/nexmark.md.
- Each query runs in a process of its own, started once the events are in the log: one pipeline
  on \`EmbeddedRunner\` (one JS thread) with exactly-once commits
  (\`${durability}\` durability: each commit is one LMDB transaction with outputs, state and offsets),
  timed from \`start()\` until the committed offsets reach the end of every input (repartition
  topics included). Outputs = records committed to the output topic; windows and auctions still
  open when the input ends are not emitted.${
    specs.some((s) => s.files)
      ? `
- q10 writes files: its connector (\`ndjsonFileSink\` partitioned by \`dt=…/hm=…\`, at-least-once,
  each batch fdatasynced) runs in the same process and thread beside the pipeline, reading the
  output topic as it is committed; its clock stops once the connector has written every output
  row (the files are then counted: one line per row, none twice).`
      : ''
  }
${
  repeat > 1
    ? `- Each query ran ${repeat} times, each in a process of its own over a fresh copy of the log; a row is
  the median run by CPU time, and "lowest–highest run" the spread of events/s per core over all ${repeat}.
`
    : ''
}- events/s per core = events ÷ process CPU time (user + system, all threads: JS, GC and LMDB's
  writer). Peak RSS and heap: the highest \`process.memoryUsage()\` seen every 50 ms during the
  run (the RSS includes Node's baseline and the pages of the log's memory map the run touched:
  reading the input alone maps its size).
- Targets (issue 10, embedded, exactly-once, events/s per core): ${targets}.
- The machine is shared with other work: per-core figures (CPU time) are comparable across runs,
  wall times less so. Where the time goes (CPU profiles of q0, q4, q5, q9): docs/nexmark.md.`
}

await main()
