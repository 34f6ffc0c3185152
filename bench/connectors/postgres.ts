/**
 * The PostgreSQL section of `npm run bench:connectors`: rows/s of the `postgres()` sink
 * draining an embedded-log topic into a table, against a raw `COPY … FROM STDIN` of the same
 * rows in the same run (target: the sink at ≥ 50% of COPY).
 *
 *   npm run bench:connectors -- --only postgres [--rows 500000] [--batch 1000,10000] [--pg URL]
 *
 * Before any clock starts, `--rows` records `{ id, card, amount, at, note }` (JSON, ~100 B)
 * are appended to a 4-partition topic of a fresh embedded log, and a fresh database
 * `sluice_bench_<random>` is created on the server (`--pg`, default $SLUICE_BENCH_PG or
 * postgres://postgres@127.0.0.1:5432/test; dropped at the end). Each way writes into its own
 * fresh table `(id bigint, card text, amount double precision, at timestamptz, note text)`:
 *
 * (a) COPY: the rows, kept in memory, formatted as COPY text and streamed with pg-copy-streams
 *     in ONE statement and one transaction: the floor of any client.
 * (b) the sink, insert: a ConnectorRunner reads the topic (decode JSON, map to columns) and
 *     the sink writes `--batch` records per transaction, each with its positions update; once
 *     per batch size in the comma-separated list (default 1,000, the sink's default, and 10,000).
 * (c) the sink, upsert: the same into a table with `PRIMARY KEY (id)`, `key: ['id']`.
 * (d) statements alone, no Sluice: 1,000-row transactions of multi-row VALUES, unnest of typed
 *     arrays, json_to_recordset (the sink's upserts) and COPY (the sink's inserts), over the
 *     first 100,000 rows: what PostgreSQL itself needs per 1,000-row transaction.
 *
 * Timed from the start of the way until every row is committed (for the sink: until the
 * runner has written all records). rows/s = rows ÷ wall seconds; PostgreSQL runs on the same
 * machine and its CPU is not in "CPU s" (this process only).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { postgres } from '../../src/connectors/postgres/index.ts'
import { ConnectorRunner } from '../../src/connectors/runner.ts'
import { topic } from '../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../src/log/index.ts'
import { positiveInt } from '../common.ts'
import type { SectionReport } from './section.ts'

interface Payment {
  id: number
  card: string
  amount: number
  at: string
  note: string
}

interface Way {
  name: string
  rows: number
  seconds: number
  cpu: number
}

const COLUMNS = '(id bigint, card text, amount double precision, at timestamptz, note text)'
const PARTITIONS = 4
const say = (s: string) => process.stderr.write(`[bench:connectors postgres] ${s}\n`)

function payment(i: number): Payment {
  return {
    id: i,
    card: `card-${i % 1_013}`,
    amount: ((i * 7_919) % 100_000) / 100,
    at: new Date(Date.UTC(2026, 0, 1) + i * 10).toISOString(),
    note: i % 3 === 0 ? 'needs review, "quoted"\tand tabbed' : 'ok',
  }
}

export async function benchPostgres(args: readonly string[]): Promise<SectionReport> {
  const { values } = parseArgs({
    args: [...args],
    strict: false,
    options: { rows: { type: 'string' }, batch: { type: 'string' }, pg: { type: 'string' } },
  })
  const rows = positiveInt('rows', values.rows as string | undefined, 500_000)
  const batches = ((values.batch as string | undefined) ?? '1000,10000')
    .split(',')
    .map((b) => positiveInt('batch', b, 1_000))
  const adminUrl =
    (values.pg as string | undefined) ??
    process.env.SLUICE_BENCH_PG ??
    'postgres://postgres@127.0.0.1:5432/test'
  const load0 = loadavg()[0]!

  const data = Array.from({ length: rows }, (_, i) => payment(i))
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-pg-'))
  const log = await openEmbeddedLog({ dataDir: dir, cleanupIntervalMs: 0 })
  const database = `sluice_bench_${randomBytes(4).toString('hex')}`
  await adminQuery(adminUrl, `CREATE DATABASE ${database}`)
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 })
  const ways: Way[] = []
  let shapes: Way[] = []
  try {
    say(`appending ${rows.toLocaleString('en')} records to the embedded log…`)
    await fill(log, data)
    await pool.query(`CREATE TABLE copied ${COLUMNS}`)
    const check = async (table: string, way: Way) => {
      const n = Number((await pool.query(`SELECT count(DISTINCT id) AS n FROM ${table}`)).rows[0].n)
      if (n !== rows) throw new Error(`${way.name} wrote ${n} distinct rows, not ${rows}`)
    }
    ways.push(await timed('(a) COPY FROM STDIN, one statement', rows, () => copyRows(pool, data)))
    await check('copied', ways.at(-1)!)
    for (const [i, batch] of batches.entries()) {
      const size = `${batch.toLocaleString('en')} rows per transaction`
      for (const [way, key] of [
        [`(b) Sluice sink, insert, ${size}`, []],
        [`(c) Sluice sink, upsert on id, ${size}`, ['id']],
      ] as const) {
        const table = `${key.length > 0 ? 'upserted' : 'inserted'}_${i}`
        const columns = key.length > 0 ? COLUMNS.replace('id bigint', 'id bigint PRIMARY KEY') : COLUMNS
        await pool.query(`CREATE TABLE ${table} ${columns}`)
        ways.push(await timed(way, rows, () => drain(log, url.toString(), table, rows, batch, [...key])))
        await check(table, ways.at(-1)!)
      }
    }
    shapes = await statementShapes(pool, data.slice(0, 100_000))
  } finally {
    await pool.end()
    await log.close()
    rmSync(dir, { recursive: true, force: true })
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  }

  const copy = ways[0]!
  const table = (list: Way[], base: Way, label: string) =>
    [
      `| ${label} | rows | wall s | CPU s | rows/s | vs ${base === copy ? '(a)' : 'VALUES'} |`,
      '| :--- | ---: | ---: | ---: | ---: | ---: |',
      ...list.map(
        (w) =>
          `| ${w.name} | ${w.rows.toLocaleString('en')} | ${w.seconds.toFixed(2)} | ${w.cpu.toFixed(2)} | ${Math.round(w.rows / w.seconds).toLocaleString('en')} | ${w === base ? '' : `${Math.round((base.seconds / w.seconds) * 100)}%`} |`,
      ),
    ].join('\n')
  const main = table(ways, copy, 'way')
  const shapesTable = table(shapes, shapes[0]!, 'statement alone (1,000-row transactions)')
  const verdict = `Sink insert against COPY (target ≥ 50%): ${ways
    .filter((w) => w.name.startsWith('(b)'))
    .map((w) => {
      const ratio = copy.seconds / w.seconds
      return `${w.name.slice(w.name.lastIndexOf(', ') + 2)}: ${Math.round(ratio * 100)}% (${ratio >= 0.5 ? 'met' : 'NOT met'})`
    })
    .join('; ')}.`
  process.stdout.write(`${main}\n\n${verdict}\n\n${shapesTable}\n`)
  const copyAlone = shapes.at(-1)!
  const rate = (w: Way) => w.rows / w.seconds
  const floor = Math.round((rate(copyAlone) / rate(copy)) * 100)
  const largest = ways.filter((w) => w.name.startsWith('(b)')).at(-1)!
  const cpuPerRecord = ((largest.cpu / largest.rows) * 1e6).toFixed(1)
  const pgVersion = await serverVersion(adminUrl)
  return {
    heading: 'Connectors: PostgreSQL sink (`npm run bench:connectors -- --only postgres`)',
    markdown: `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:connectors -- --only postgres ${args.join(' ')}\` on ${availableParallelism()} CPUs, Node ${process.version}, PostgreSQL ${pgVersion} on the same machine (default settings: fsync on, synchronous_commit on); 1-minute load average ${load0.toFixed(2)} at the start and ${loadavg()[0]!.toFixed(2)} at the end.

${main}

${verdict}

${shapesTable}

- Input: ${rows.toLocaleString('en')} records \`{ id, card, amount, at, note }\` (JSON, about 100 bytes) in a ${PARTITIONS}-partition topic of an embedded log (durability \`sync\`), appended before any clock starts.
- (a) formats the same rows (held in memory) as COPY text and streams them in one statement: one transaction, no positions, nothing read from a log.
- (b), (c): a ConnectorRunner reads the topic, decodes and maps each record, and the sink writes each batch in one transaction that also moves the batch's positions in \`sluice_sink_offsets\` (exactly-once). BEGIN, the positions update, the rows and COMMIT go to PostgreSQL in one round trip; inserts go as \`COPY … FROM STDIN\`, upserts as one \`INSERT … SELECT … FROM json_to_recordset($1) ON CONFLICT …\`. While a batch is written, the runner reads, decodes and maps the next one and builds its COPY text, and it commits the consumer group's offsets (lag figures only) once a second, not per batch.
- (d) is the statement alone, from this process, 1,000 rows per transaction (BEGIN, statement, COMMIT), on the first 100,000 rows, with no positions and no log. Its COPY line, ${floor}% of (a) in this run, is the floor for (b) at 1,000 rows per transaction: every commit waits for its own WAL flush, and a COPY of 1,000 rows costs PostgreSQL about twice as much per row as one long COPY (measured on this machine even with many such COPYs in one transaction). With larger transactions that cost is spread over more rows, and the sink is bound by this process instead (reading, decoding, mapping and formatting: ${cpuPerRecord} µs of CPU per record at the largest batch size here), which the read-ahead overlaps with PostgreSQL's work.
- Upserts gain less: PostgreSQL's \`INSERT … ON CONFLICT\` into a table with a primary key is most of their cost. COPY into a temporary table followed by \`INSERT … SELECT … ON CONFLICT\` measured no faster here, so upserts keep \`json_to_recordset\`, which costs this process about half the CPU of \`unnest\` and, unlike it, takes array, json and composite columns.
`,
  }
}

async function timed(name: string, rows: number, body: () => Promise<void>): Promise<Way> {
  say(`${name}…`)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await body()
  const seconds = (performance.now() - t0) / 1000
  const c = process.cpuUsage(cpu0)
  const way = { name, rows, seconds, cpu: (c.user + c.system) / 1e6 }
  say(`${name}: ${Math.round(rows / seconds).toLocaleString('en')} rows/s`)
  return way
}

async function fill(log: EmbeddedLog, data: readonly Payment[]): Promise<void> {
  await log.createTopic('payments', { partitions: PARTITIONS })
  const producer = log.producer()
  for (let i = 0; i < data.length; i += 20_000) {
    await producer.send(
      'payments',
      data.slice(i, i + 20_000).map((p, j) => ({
        value: Buffer.from(JSON.stringify(p)),
        partition: (i + j) % PARTITIONS,
      })),
    )
  }
  await producer.close()
}

/** COPY text format: tab-separated, `\N` for NULL, backslash escapes. */
function copyField(s: string): string {
  return s.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  )
}

function copyText(rows: readonly Payment[]): string {
  let text = ''
  for (const p of rows) text += `${p.id}\t${copyField(p.card)}\t${p.amount}\t${p.at}\t${copyField(p.note)}\n`
  return text
}

async function copyRows(pool: pg.Pool, data: readonly Payment[]): Promise<void> {
  const client = await pool.connect()
  try {
    async function* chunks() {
      for (let i = 0; i < data.length; i += 10_000) yield copyText(data.slice(i, i + 10_000))
    }
    await pipeline(Readable.from(chunks()), client.query(copyFrom('COPY copied FROM STDIN')))
  } finally {
    client.release()
  }
}

/** Runs the sink until it has written `rows` records. */
async function drain(
  log: EmbeddedLog,
  url: string,
  table: string,
  rows: number,
  batchSize: number,
  key: string[],
): Promise<void> {
  const runner = new ConnectorRunner(log, [
    {
      kind: 'sink',
      name: `bench-${table}`,
      topic: topic<Payment>('payments'),
      sink: postgres<Payment>({ url, table, batchSize, key }),
    },
  ])
  runner.start()
  try {
    for (;;) {
      const s = runner.status()[0]!
      if (s.records >= rows) break
      if (s.state === 'stopped' || s.errors > 0) throw new Error(`the sink failed: ${s.lastError}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  } finally {
    await runner.stop()
  }
}

/** (d): the statements the sink chose between, 1,000 rows per transaction, no positions, no log. */
async function statementShapes(pool: pg.Pool, data: readonly Payment[]): Promise<Way[]> {
  const client = await pool.connect()
  const names = ['id', 'card', 'amount', 'at', 'note'] as const
  const query =
    (build: (batch: readonly Payment[]) => [string, unknown[]]) => async (batch: readonly Payment[]) => {
      const [sql, params] = build(batch)
      await client.query(sql, params)
    }
  const shapes: [string, (batch: readonly Payment[]) => Promise<void>][] = [
    [
      'multi-row VALUES ($1, …), 5,000 parameters',
      query((batch) => {
        const params: unknown[] = []
        const tuples = batch.map((p) => {
          const b = params.length
          params.push(p.id, p.card, p.amount, p.at, p.note)
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`
        })
        return [`INSERT INTO shapes (id, card, amount, at, note) VALUES ${tuples.join(', ')}`, params]
      }),
    ],
    [
      'unnest($1::bigint[], …), 5 array parameters',
      query((batch) => [
        `INSERT INTO shapes (id, card, amount, at, note)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::timestamptz[], $5::text[])`,
        names.map((n) => batch.map((p) => p[n])),
      ]),
    ],
    [
      "json_to_recordset($1::json), 1 parameter (the sink's upserts)",
      query((batch) => [
        `INSERT INTO shapes (id, card, amount, at, note) SELECT id, card, amount, at, note
         FROM json_to_recordset($1::json) AS x(id bigint, card text, amount float8, at timestamptz, note text)`,
        [JSON.stringify(batch)],
      ]),
    ],
    [
      "COPY FROM STDIN (the sink's inserts)",
      (batch) => pipeline(Readable.from([copyText(batch)]), client.query(copyFrom('COPY shapes FROM STDIN'))),
    ],
  ]
  const out: Way[] = []
  try {
    for (const [name, write] of shapes) {
      await client.query(`DROP TABLE IF EXISTS shapes; CREATE TABLE shapes ${COLUMNS}`)
      out.push(
        await timed(`${name}`, data.length, async () => {
          for (let i = 0; i < data.length; i += 1_000) {
            await client.query('BEGIN')
            await write(data.slice(i, i + 1_000))
            await client.query('COMMIT')
          }
        }),
      )
    }
  } finally {
    client.release()
  }
  return out
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query('SHOW server_version')).rows[0].server_version as string
  } finally {
    await client.end()
  }
}
