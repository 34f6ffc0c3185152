/**
 * Event store throughput: Sluice's embedded (LMDB) and PostgreSQL stores, and Emmett's
 * PostgreSQL store (`@event-driven-io/emmett-postgresql`) side by side, in one run.
 *
 *   node bench/events.ts [--appends N] [--postgres URL] [--only embedded,postgres,emmett] [--write-docs]
 *
 * Workloads, each on a fresh store (a fresh schema for Sluice's PostgreSQL store, a fresh
 * database for Emmett), the same events and payloads on every store:
 * - 1 writer, one event per append, each append to a new stream, with the expected version
 *   (the stream must not exist) and without: an append's full latency (p50 / p99);
 * - 8 writers at once, one event per append, each on its own stream with the expected version:
 *   how appends overlap (8 connections on PostgreSQL; grouped into one commit on LMDB);
 * - 1 writer, 10 events per append over 50 streams, without and with the expected version;
 * - reading the whole global order back, 1,000 events per page;
 * - loading an aggregate of 1,050 events (10 streams, 50 loads each way): folded from every
 *   event, and from the snapshot Sluice's `aggregate().handle` wrote at version 1,000.
 * Each event is `{ type, data }` with about 100 bytes of JSON data.
 *
 * `--write-docs` (re)writes the "Event store" section of docs/benchmarks.md between its markers.
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { positiveInt, writeDoc } from './common.ts'
import { type BenchStore, eventData, type Target } from './events/bench-store.ts'
import { EMMETT, emmettTarget } from './events/emmett.ts'
import { embeddedTarget, postgresTarget, SLUICE_POSTGRES } from './events/sluice.ts'

const { values } = parseArgs({
  options: {
    appends: { type: 'string' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    only: { type: 'string', default: 'embedded,postgres,emmett' },
    'write-docs': { type: 'boolean', default: false },
  },
})
const APPENDS = positiveInt('appends', values.appends, 2_000)
const WRITERS = 8
const AGGREGATES = 10
const LOADS = 50
// 10 appends of 100 events and one of 50: the snapshot (every 1,000) lands at version 1,000.
const AGGREGATE_SIZES = [...Array.from({ length: 10 }, () => 100), 50]
const AGGREGATE_EVENTS = AGGREGATE_SIZES.reduce((a, b) => a + b, 0)
const SNAPSHOT_EVERY = 1_000
const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const fmt1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })
const stores = values.only.split(',')
for (const s of stores) {
  if (!['embedded', 'postgres', 'emmett'].includes(s)) {
    process.stderr.write(`--only takes embedded, postgres and emmett, comma-separated; got ${s}\n`)
    process.exit(2)
  }
}

interface Row {
  store: string
  workload: string
  /** Appends, or loads for the aggregate rows; 0 for the read row. */
  ops: number
  events: number
  seconds: number
  p50?: number
  p99?: number
  /** Instead of figures: why this store has none for the workload. */
  note?: string
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

/** Runs `work` on a fresh store of `target`, and drops that store whatever happens. */
async function fresh<T>(target: Target, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } finally {
    await target.cleanup()
  }
}

function single(target: Target, expected: boolean): Promise<Row> {
  return fresh(target, async () => {
    const store = await target.open()
    const latencies: number[] = []
    const start = performance.now()
    for (let i = 0; i < APPENDS; i++) {
      const t = performance.now()
      await store.append(
        `single-${i}`,
        [{ type: 'OrderPlaced', data: eventData(i) }],
        expected ? 'noStream' : undefined,
      )
      latencies.push(performance.now() - t)
    }
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    return {
      store: target.name,
      workload: `1 writer, 1 event per append, ${expected ? 'expected version (new stream)' : 'no expected version'}`,
      ops: APPENDS,
      events: APPENDS,
      seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
    }
  })
}

function concurrent(target: Target): Promise<Row> {
  return fresh(target, async () => {
    const writers = await target.writers(WRITERS)
    const per = Math.ceil(APPENDS / WRITERS)
    const start = performance.now()
    await Promise.all(
      writers.map(async (writer, w) => {
        let version: number | 'noStream' = 'noStream'
        for (let i = 0; i < per; i++) {
          version = await writer.append(`writer-${w}`, [{ type: 'OrderPlaced', data: eventData(i) }], version)
        }
      }),
    )
    return {
      store: target.name,
      workload: `${WRITERS} writers, 1 event per append, expected version`,
      ops: per * WRITERS,
      events: per * WRITERS,
      seconds: (performance.now() - start) / 1000,
    }
  })
}

async function appendBatches(store: BenchStore, expected: boolean): Promise<number> {
  const appends = Math.ceil(APPENDS / 4)
  const versions = new Map<string, number>()
  for (let i = 0; i < appends; i++) {
    const stream = `batch-${i % 50}`
    const events = Array.from({ length: 10 }, (_, k) => ({ type: 'OrderLine', data: eventData(i * 10 + k) }))
    const next = await store.append(
      stream,
      events,
      expected ? (versions.get(stream) ?? 'noStream') : undefined,
    )
    versions.set(stream, next)
  }
  return appends
}

const batchRow = (target: Target, expected: boolean, appends: number, seconds: number): Row => ({
  store: target.name,
  workload: `1 writer, 10 events per append, ${expected ? 'expected version' : 'no expected version'}`,
  ops: appends,
  events: appends * 10,
  seconds,
})

/**
 * Waits until every appended event is readable. Both PostgreSQL stores read the global order
 * only below the cluster's transaction horizon, so a transaction open elsewhere on the server
 * (another test, a psql session) hides the newest events for a while; timing a read then
 * would time a short read.
 */
async function visible(target: Target, store: BenchStore, events: number): Promise<void> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const read = await store.readAll(1_000)
    if (read === events) return
    if (Date.now() > deadline) {
      throw new Error(
        `${target.name}: only ${read} of ${events} appended events became readable in 60 s; a transaction left open on the server holds the horizon back (see pg_stat_activity)`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** 10-event appends without the expected version, then the global order read back. */
function batchesAndRead(target: Target): Promise<Row[]> {
  return fresh(target, async () => {
    const store = await target.open(2)
    let start = performance.now()
    const appends = await appendBatches(store, false)
    const appendSeconds = (performance.now() - start) / 1000
    await visible(target, store, appends * 10)
    start = performance.now()
    const read = await store.readAll(1_000)
    const readSeconds = (performance.now() - start) / 1000
    if (read !== appends * 10)
      throw new Error(`${target.name}: read ${read} events back, appended ${appends * 10}`)
    return [
      batchRow(target, false, appends, appendSeconds),
      { store: target.name, workload: 'read the global order', ops: 0, events: read, seconds: readSeconds },
    ]
  })
}

function batchesExpected(target: Target): Promise<Row> {
  return fresh(target, async () => {
    const store = await target.open(2)
    const start = performance.now()
    const appends = await appendBatches(store, true)
    return batchRow(target, true, appends, (performance.now() - start) / 1000)
  })
}

const loadWorkload = (fromSnapshot: boolean) =>
  fromSnapshot
    ? `aggregate load, ${fmt.format(AGGREGATE_EVENTS)} events, from the snapshot at ${fmt.format(SNAPSHOT_EVERY)}`
    : `aggregate load, ${fmt.format(AGGREGATE_EVENTS)} events, no snapshot`

function loads(target: Target): Promise<Row[]> {
  return fresh(target, async () => {
    const store = await target.open(2)
    for (let a = 0; a < AGGREGATES; a++)
      await store.writeAggregate(`cart-${a}`, AGGREGATE_SIZES, SNAPSHOT_EVERY)
    const rows: Row[] = []
    for (const fromSnapshot of [false, true]) {
      if (fromSnapshot && !store.snapshots) {
        rows.push({
          store: target.name,
          workload: loadWorkload(true),
          ops: 0,
          events: 0,
          seconds: 0,
          note: 'no built-in snapshots',
        })
        continue
      }
      const latencies: number[] = []
      let replayed = 0
      const start = performance.now()
      for (let i = 0; i < LOADS * AGGREGATES; i++) {
        const t = performance.now()
        const loaded = await store.load(`cart-${i % AGGREGATES}`, fromSnapshot)
        latencies.push(performance.now() - t)
        replayed += loaded.replayed
        // A load that folded the wrong events would make a fast figure meaningless.
        const wanted = fromSnapshot ? AGGREGATE_EVENTS - SNAPSHOT_EVERY : AGGREGATE_EVENTS
        if (
          loaded.state.count !== AGGREGATE_EVENTS ||
          loaded.version !== AGGREGATE_EVENTS ||
          loaded.replayed !== wanted
        ) {
          throw new Error(
            `${target.name}: a load gave ${loaded.state.count} events at version ${loaded.version} with ${loaded.replayed} replayed; expected ${AGGREGATE_EVENTS} with ${wanted} replayed`,
          )
        }
      }
      const seconds = (performance.now() - start) / 1000
      latencies.sort((a, b) => a - b)
      rows.push({
        store: target.name,
        workload: loadWorkload(fromSnapshot),
        ops: LOADS * AGGREGATES,
        events: replayed,
        seconds,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
      })
    }
    return rows
  })
}

/**
 * Every workload, each a function of a target. They run workload by workload, each on every
 * store in turn, so a change in the machine's background load during the run falls on all
 * stores alike rather than on whichever ran last.
 */
const workloads: ((target: Target) => Promise<Row[]>)[] = [
  async (t) => [await single(t, true)],
  async (t) => [await single(t, false)],
  async (t) => [await concurrent(t)],
  batchesAndRead,
  async (t) => [await batchesExpected(t)],
  loads,
]

const rate = (r: Row) => (r.ops ? r.ops : r.events) / r.seconds

/** Sluice PostgreSQL's throughput over Emmett's on the same workload (> 1: Sluice is faster). */
function ratioOf(rows: Row[], r: Row): number | undefined {
  if (r.store !== EMMETT || r.note) return undefined
  const pg = rows.find((o) => o.store === SLUICE_POSTGRES && o.workload === r.workload)
  return pg ? rate(pg) / rate(r) : undefined
}

function ratio(rows: Row[], r: Row): string {
  const x = ratioOf(rows, r)
  return x === undefined ? '' : `${x.toFixed(2)}×`
}

function emmettVersion(): string {
  try {
    const url = new URL('../node_modules/@event-driven-io/emmett-postgresql/package.json', import.meta.url)
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
  } catch {
    return '(version unknown)'
  }
}

/** What this run's Sluice PostgreSQL / Emmett figures say, and where the time goes. */
function comparison(rows: Row[]): string {
  const x = (n: number | undefined) => (n === undefined ? '?' : `${n.toFixed(2)}×`)
  const of = (workload: string) => {
    const r = rows.find((o) => o.store === EMMETT && o.workload === workload)
    return r && ratioOf(rows, r)
  }
  const appends = rows
    .filter((r) => r.store === EMMETT && r.ops > 0 && !r.workload.startsWith('aggregate'))
    .map((r) => ratioOf(rows, r))
    .filter((n) => n !== undefined)
  const loadsPg = rows.filter((r) => r.store === SLUICE_POSTGRES && r.workload.startsWith('aggregate'))
  const fromSnapshot = loadsPg.length === 2 ? rate(loadsPg[1]!) / rate(loadsPg[0]!) : undefined
  return [
    `On this run Sluice PostgreSQL appended at ${x(Math.min(...appends))} to ${x(Math.max(...appends))} Emmett's rate depending on the workload, read the global order at ${x(of('read the global order'))} and loaded a ${fmt.format(AGGREGATE_EVENTS)}-event aggregate without a snapshot at ${x(of(loadWorkload(false)))}; from its snapshot it loads ${x(fromSnapshot)} faster than without, which Emmett leaves to application code.`,
    'Both stores wait for a WAL flush at every commit on a 2-core machine shared with other jobs, so ratios near 1 are within the noise (the same 1-writer workload came out at 0.46× and 1.69× in two trial runs of different sizes): read them as "the same order of magnitude", not as a ranking.',
    "The work per append differs: Sluice's is one statement (one round trip), but inside it `es_append` looks the event ids up (so a retried append is answered, not doubled), checks the stream version, and draws its transaction id and positions under a short advisory lock (one per store schema) in an exception block (a subtransaction), which is what lets a reader checkpoint on a bare position; Emmett's is three round trips (BEGIN, `emt_append_to_stream`, COMMIT) with no id lookup and no global lock, and its readers order by (transaction id, position) instead.",
  ].join(' ')
}

function table(rows: Row[]): string {
  const out = [
    '| store | workload | appends (loads) | events | s | appends/s (loads/s) | events/s | p50 ms | p99 ms | Sluice PostgreSQL ÷ Emmett |',
    '| :---- | :------- | --------------: | -----: | --: | ------------------: | -------: | -----: | -----: | -------------------------: |',
  ]
  for (const r of rows) {
    if (r.note) {
      out.push(`| ${r.store} | ${r.workload} | — | — | — | — | — | — | — | ${r.note} |`)
      continue
    }
    out.push(
      `| ${r.store} | ${r.workload} | ${r.ops ? fmt.format(r.ops) : ''} | ${fmt.format(r.events)} | ` +
        `${fmt1.format(r.seconds)} | ${r.ops ? fmt.format(r.ops / r.seconds) : ''} | ` +
        `${fmt.format(r.events / r.seconds)} | ${r.p50 === undefined ? '' : fmt1.format(r.p50)} | ` +
        `${r.p99 === undefined ? '' : fmt1.format(r.p99)} | ${ratio(rows, r)} |`,
    )
  }
  return `${out.join('\n')}\n`
}

const loadBefore = loadavg()[0]!
const targets = stores.map((name) =>
  name === 'embedded'
    ? embeddedTarget()
    : name === 'postgres'
      ? postgresTarget(values.postgres)
      : emmettTarget(values.postgres),
)
const byStore = new Map<Target, Row[]>(targets.map((t) => [t, []]))
let emmettSkipped: string | undefined
for (const [w, workload] of workloads.entries()) {
  process.stderr.write(`workload ${w + 1} of ${workloads.length} ...\n`)
  for (const target of targets) {
    if (target.name === EMMETT && emmettSkipped !== undefined) continue
    try {
      byStore.get(target)!.push(...(await workload(target)))
    } catch (error) {
      // Emmett is someone else's package: an API change there must not cost Sluice's figures.
      if (target.name !== EMMETT) throw error
      emmettSkipped = `${(error as Error).message} (check bench/events/emmett.ts against the installed @event-driven-io/emmett-postgresql ${emmettVersion()})`
      byStore.set(target, [])
      process.stderr.write(`Emmett failed; its rows are skipped and the run goes on: ${emmettSkipped}\n`)
    }
  }
}
const rows = [...byStore.values()].flat()
const loadAfter = loadavg()[0]!
const result = table(rows)
process.stdout.write(result)

if (values['write-docs']) {
  let version = ''
  if (stores.includes('postgres') || stores.includes('emmett')) {
    const client = new pg.Client({ connectionString: values.postgres })
    await client.connect()
    version = ((await client.query('SHOW server_version')).rows[0] as { server_version: string })
      .server_version
    await client.end()
  }
  const emmettRan = stores.includes('emmett') && emmettSkipped === undefined
  const notes = [
    "- Every append is acknowledged durable: the embedded store after LMDB's flush (`durability: 'sync'`), both PostgreSQL stores after COMMIT.",
    `- "1 writer" appends one after the other, so appends/s is 1 ÷ latency; "${WRITERS} writers" overlap: the embedded store puts the appends queued meanwhile into one LMDB transaction (one flush); Sluice PostgreSQL commits them on ${WRITERS} connections (${WRITERS} stores of one connection each), Emmett on one store with a pool of ${WRITERS}.`,
    "- Expected version: \"new stream\" is `'noStream'` on Sluice and `expectedStreamVersion: 0n` on Emmett (0.42 sends its `STREAM_DOES_NOT_EXIST` as no check at all; with 0n the insert of the stream row fails on an existing stream). The 10-event appends go to 50 streams in turn, each with the version its stream's previous append returned.",
    '- Reading: pages of 1,000 events from the start over the events the "10 events per append, no expected version" run wrote (Sluice: `readAll`; Emmett: `readMessagesBatch`), timed once every event is readable below the transaction horizon.',
    `- Aggregate load: ${AGGREGATES} streams of ${fmt.format(AGGREGATE_EVENTS)} events (appends of ${AGGREGATE_SIZES[0]} with the expected version), each loaded ${LOADS} times each way; Sluice through \`aggregate().load\`, its snapshot written by \`aggregate().handle\` at version ${fmt.format(SNAPSHOT_EVERY)} (a snapshot load folds the last ${AGGREGATE_EVENTS - SNAPSHOT_EVERY} events); Emmett through \`aggregateStream\`. Emmett has no built-in snapshots, hence no figure. Every load's state and version are checked.`,
    '- "Sluice PostgreSQL ÷ Emmett": Sluice PostgreSQL\'s appends/s (loads/s; events/s for the read) over Emmett\'s on the same workload; above 1, Sluice is faster.',
  ]
  if (!stores.includes('emmett')) notes.push('- Emmett: not measured in this run (`--only` left it out).')
  if (emmettSkipped !== undefined) notes.push(`- Emmett's rows are missing: ${emmettSkipped}`)
  const section = `<!-- events:start (written by node bench/events.ts --write-docs) -->
Measured ${new Date().toISOString().slice(0, 10)} with \`node bench/events.ts --appends ${APPENDS} --write-docs\` on ${
    cpus().length
  } CPUs, Node ${process.version}${version ? `, PostgreSQL ${version} on the same machine (default settings: fsync on, synchronous_commit on)` : ''}${
    emmettRan ? `, \`@event-driven-io/emmett-postgresql\` ${emmettVersion()}` : ''
  }; 1-minute load average ${loadBefore.toFixed(2)} at the start and ${loadAfter.toFixed(2)} at the end. The workloads ran one after the other, each on every store in turn.

${result}
${notes.join('\n')}
${emmettRan && stores.includes('postgres') ? `\n${comparison(rows)}\n` : ''}<!-- events:end -->`
  const path = new URL('../docs/benchmarks.md', import.meta.url)
  const doc = readFileSync(path, 'utf8')
  const start = doc.indexOf('<!-- events:start')
  const end = doc.indexOf('<!-- events:end -->')
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + section + doc.slice(end + '<!-- events:end -->'.length)
      : `${doc.trimEnd()}\n\n## Event store (\`node bench/events.ts\`)\n\n${section}\n`
  writeDoc(path, next)
  process.stderr.write('wrote the event store section of docs/benchmarks.md\n')
}
