/**
 * Event store throughput, embedded (LMDB) and PostgreSQL side by side.
 *
 *   node bench/events.ts [--appends N] [--postgres URL] [--only embedded,postgres] [--write-docs]
 *
 * Workloads, each on a fresh store:
 * - 1 writer, one event per append, each append to a new stream (expectedVersion noStream):
 *   an append's full latency, one after the other (p50 / p99 reported);
 * - 8 writers at once (on PostgreSQL, 8 connections), one event per append, each writer on
 *   its own stream with the expected version: how appends overlap (group commit);
 * - 1 writer, 10 events per append;
 * - reading the whole global order back, 1,000 events per page.
 * Each event is `{ type, data }` with about 100 bytes of JSON data.
 *
 * `--write-docs` (re)writes the "Event store" section of docs/benchmarks.md between its markers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { openEmbeddedEventStore } from '../src/eventstore/embedded/embedded-event-store.ts'
import { openPostgresEventStore } from '../src/eventstore/postgres/postgres-event-store.ts'
import type { EventStore } from '../src/eventstore/types.ts'
import { positiveInt } from './common.ts'

const { values } = parseArgs({
  options: {
    appends: { type: 'string' },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
    only: { type: 'string', default: 'embedded,postgres' },
    'write-docs': { type: 'boolean', default: false },
  },
})
const APPENDS = positiveInt('appends', values.appends, 2_000)
const WRITERS = 8
const stores = values.only.split(',')

interface Target {
  name: string
  open(connections?: number): Promise<EventStore>
  cleanup(): Promise<void>
}

function embeddedTarget(): Target {
  let dir = ''
  let store: EventStore | undefined
  return {
    name: 'embedded (LMDB, durability sync)',
    async open() {
      dir = mkdtempSync(join(tmpdir(), 'sluice-bench-events-'))
      store = await openEmbeddedEventStore({ dataDir: dir })
      return store
    },
    async cleanup() {
      await store?.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresTarget(url: string): Target {
  let n = 0
  const schemas: string[] = []
  return {
    name: 'PostgreSQL',
    async open(connections = 1) {
      if (schemas.length === 0) schemas.push(`bench_events_${process.pid}_${++n}`)
      return openPostgresEventStore({
        connection: { connectionString: url, max: connections },
        schema: schemas.at(-1)!,
        migrate: true,
      })
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      for (const s of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
      await client.end()
    },
  }
}

const data = (i: number) => ({ order: `order-${i}`, amount: i % 1000, currency: 'EUR', note: 'x'.repeat(40) })

interface Row {
  store: string
  workload: string
  appends: number
  events: number
  seconds: number
  p50?: number
  p99?: number
}

async function single(target: Target): Promise<Row> {
  const store = await target.open()
  try {
    const latencies: number[] = []
    const start = performance.now()
    for (let i = 0; i < APPENDS; i++) {
      const t = performance.now()
      await store.append(`single-${i}`, [{ type: 'OrderPlaced', data: data(i) }], {
        expectedVersion: 'noStream',
      })
      latencies.push(performance.now() - t)
    }
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    return {
      store: target.name,
      workload: '1 writer, 1 event per append',
      appends: APPENDS,
      events: APPENDS,
      seconds,
      p50: latencies[Math.floor(latencies.length * 0.5)]!,
      p99: latencies[Math.floor(latencies.length * 0.99)]!,
    }
  } finally {
    await store.close()
    await target.cleanup()
  }
}

async function concurrent(target: Target): Promise<Row> {
  const first = await target.open()
  // PostgreSQL: one store (one connection) per writer; the embedded store has one owner.
  const writers =
    first.kind === 'postgres'
      ? [first, ...(await Promise.all(Array.from({ length: WRITERS - 1 }, () => target.open(1))))]
      : Array.from({ length: WRITERS }, () => first)
  try {
    const per = Math.ceil(APPENDS / WRITERS)
    const start = performance.now()
    await Promise.all(
      writers.map(async (writer, w) => {
        let version = 0
        for (let i = 0; i < per; i++) {
          const r = await writer.append(`writer-${w}`, [{ type: 'OrderPlaced', data: data(i) }], {
            expectedVersion: version,
          })
          version = r.nextExpectedVersion
        }
      }),
    )
    const seconds = (performance.now() - start) / 1000
    return {
      store: target.name,
      workload: `${WRITERS} writers, 1 event per append`,
      appends: per * WRITERS,
      events: per * WRITERS,
      seconds,
    }
  } finally {
    await Promise.all([...new Set(writers)].map((w) => w.close()))
    await target.cleanup()
  }
}

async function batches(target: Target): Promise<{ append: Row; read: Row }> {
  const store = await target.open(2)
  try {
    const appends = Math.ceil(APPENDS / 4)
    let start = performance.now()
    for (let i = 0; i < appends; i++) {
      await store.append(
        `batch-${i % 50}`,
        Array.from({ length: 10 }, (_, k) => ({ type: 'OrderLine', data: data(i * 10 + k) })),
      )
    }
    const appendSeconds = (performance.now() - start) / 1000
    start = performance.now()
    let after = 0
    let read = 0
    for (;;) {
      const page = await store.readAll({ after, limit: 1_000 })
      read += page.events.length
      after = page.position
      if (page.events.length < 1_000) break
    }
    const readSeconds = (performance.now() - start) / 1000
    return {
      append: {
        store: target.name,
        workload: '1 writer, 10 events per append',
        appends,
        events: appends * 10,
        seconds: appendSeconds,
      },
      read: {
        store: target.name,
        workload: 'read the global order',
        appends: 0,
        events: read,
        seconds: readSeconds,
      },
    }
  } finally {
    await store.close()
    await target.cleanup()
  }
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const fmt1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })

function table(rows: Row[]): string {
  const out = [
    '| store | workload | appends | events | s | appends/s | events/s | p50 ms | p99 ms |',
    '| :---- | :------- | ------: | -----: | --: | --------: | -------: | -----: | -----: |',
  ]
  for (const r of rows) {
    out.push(
      `| ${r.store} | ${r.workload} | ${r.appends ? fmt.format(r.appends) : ''} | ${fmt.format(r.events)} | ` +
        `${fmt1.format(r.seconds)} | ${r.appends ? fmt.format(r.appends / r.seconds) : ''} | ` +
        `${fmt.format(r.events / r.seconds)} | ${r.p50 === undefined ? '' : fmt1.format(r.p50)} | ` +
        `${r.p99 === undefined ? '' : fmt1.format(r.p99)} |`,
    )
  }
  return `${out.join('\n')}\n`
}

const loadBefore = loadavg()[0]!
const rows: Row[] = []
for (const name of stores) {
  const target = name === 'embedded' ? embeddedTarget() : postgresTarget(values.postgres)
  process.stderr.write(`${target.name} ...\n`)
  rows.push(await single(target))
  rows.push(await concurrent(target))
  const { append, read } = await batches(target)
  rows.push(append, read)
}
const loadAfter = loadavg()[0]!
const result = table(rows)
process.stdout.write(result)

if (values['write-docs']) {
  let version = ''
  if (stores.includes('postgres')) {
    const client = new pg.Client({ connectionString: values.postgres })
    await client.connect()
    version = ((await client.query('SHOW server_version')).rows[0] as { server_version: string })
      .server_version
    await client.end()
  }
  const section = `<!-- events:start (written by node bench/events.ts --write-docs) -->
Measured ${new Date().toISOString().slice(0, 10)} with \`node bench/events.ts --appends ${APPENDS} --write-docs\` on ${
    (await import('node:os')).cpus().length
  } CPUs, Node ${process.version}${version ? `, PostgreSQL ${version} on the same machine (default settings: fsync on, synchronous_commit on)` : ''}; 1-minute load average ${loadBefore.toFixed(2)} at the start and ${loadAfter.toFixed(2)} at the end.

${result}
- Every append is acknowledged durable: the embedded store after LMDB's flush (\`durability: 'sync'\`), PostgreSQL after COMMIT.
- "1 writer" appends one after the other, so appends/s is 1 ÷ latency; "8 writers" overlap: the embedded store puts the appends queued meanwhile into one LMDB transaction (one flush), PostgreSQL commits them in parallel on 8 connections.
- Reading: \`readAll\` pages of 1,000 events from position 0 over the events the "10 events per append" run wrote (on PostgreSQL, each page is one statement below the transaction horizon).
- Emmett side by side: not measured — \`@event-driven-io/emmett-postgresql\` is not installed.
<!-- events:end -->`
  const path = new URL('../docs/benchmarks.md', import.meta.url)
  const doc = readFileSync(path, 'utf8')
  const start = doc.indexOf('<!-- events:start')
  const end = doc.indexOf('<!-- events:end -->')
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + section + doc.slice(end + '<!-- events:end -->'.length)
      : `${doc.trimEnd()}\n\n## Event store (\`node bench/events.ts\`)\n\n${section}\n`
  writeFileSync(path, next)
  process.stderr.write('wrote the event store section of docs/benchmarks.md\n')
}
