/**
 * The PostgreSQL sink writes plain inserts with COPY where it can and with json_to_recordset
 * otherwise (docs/connectors/postgres.md, "How a batch is written"). The two must not differ
 * in what lands in the table: the same records, through the same mapping, go into two tables of
 * the same definition — one the sink COPYs into, one it cannot (row-level security is on, so the
 * sink uses INSERT) — and the rows, and the records refused with their reasons, must be equal.
 * A statement trigger records which statement wrote each table, so the test knows COPY was used.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { postgres } from '../../../src/connectors/postgres/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { produce, testDatabase, testLog, until } from './pg-helpers.ts'

const db = await testDatabase()
const log = await testLog()
const runners: ConnectorRunner[] = []
after(() => Promise.all(runners.map((r) => r.stop())))

type Input = Record<string, unknown>

const strings = [
  'plain',
  'tab\there',
  'line\nbreak',
  'cr\rhere',
  'back\\slash',
  '"quoted"',
  'ünïcødé',
  'emoji 😀',
  '',
  '\\N',
  'a,b',
  '{x}',
  null,
]
const jsons: unknown[] = [
  { a: 1, b: [true, null] },
  [1, 'two'],
  'a string',
  5,
  null,
  { 'quo"te': 'back\\slash\ttab' },
]
const tags: unknown[] = [
  ['a', 'b c', 'quo"te', 'back\\slash', 'comma,', '{brace}', 'NULL', null, ''],
  [],
  '{x,"y z"}',
  null,
]
const floats = [1.5, -0, 0.1 + 0.2, 1e21, 'NaN', 'Infinity', '-Infinity', null]

/** Records that COPY takes: every kind of value a scalar, json or array column gets. */
function copyable(i: number): Input {
  return {
    id: i,
    t: strings[i % strings.length],
    v: `v${i}`,
    i: i * 3 - 50,
    b: String(2 ** 40 + i),
    n: [1.23456, -0.005, 12345678.9, 0][i % 4],
    f: floats[i % floats.length],
    ok: [true, false, null][i % 3],
    ts: new Date(Date.UTC(2026, 0, 1) + i * 1_234_567).toISOString(),
    d: `2026-03-${String((i % 28) + 1).padStart(2, '0')}`,
    j: jsons[i % jsons.length],
    js: jsons[(i + 1) % jsons.length],
    tags: tags[i % tags.length],
    nums: [[1, 2, 3], [], [null, 4]][i % 3],
    raw: ['00ff0a', '', '5c5c'][i % 3],
    mood: i % 2 ? 'happy' : 'sad',
    u: `123e4567-e89b-12d3-a456-4266141740${String(i % 100).padStart(2, '0')}`,
  }
}

// Batch 1 (the first 50 records): COPY-able rows, and two shapes that must go as JSON (a domain
// and a composite column; an object in a text column and a two-dimensional array).
const first: Input[] = [
  ...Array.from({ length: 46 }, (_, i) => copyable(i)),
  { id: 46, dom: 5, pair: { x: 1, y: 'a' } },
  { id: 47, dom: 7, pair: null },
  {
    id: 48,
    t: { a: 1 },
    nums: [
      [1, 2],
      [3, 4],
    ],
  },
  { id: 49, t: [1, 'x'], nums: [] },
]
// Batch 2: records PostgreSQL refuses (a COPY of them fails; both tables must refuse the same).
const second: Input[] = [
  copyable(50),
  { id: 51, i: 'abc' },
  { id: 52, v: 'lone \ud800 surrogate' },
  { id: 53, t: 'nul \0 byte' },
  { id: 54, v: 'far too long for varchar(10)' },
  { id: 55, dom: -1 },
  copyable(56),
  { id: 57, t: 'its toJSON throws' },
]

test('COPY and json_to_recordset write the same rows and refuse the same records', async () => {
  await db.query(`CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE DOMAIN positive_int AS int CHECK (VALUE > 0);
    CREATE TYPE pair AS (x int, y text);
    CREATE TABLE copy_a (id int PRIMARY KEY, t text, v varchar(10), i int, b bigint, n numeric(10, 2),
      f float8, ok boolean, ts timestamptz, d date, j jsonb, js json, tags text[], nums int[],
      raw bytea, mood mood, u uuid, dom positive_int, pair pair, def text DEFAULT 'dflt');
    CREATE TABLE copy_b (LIKE copy_a INCLUDING ALL);
    ALTER TABLE copy_b ENABLE ROW LEVEL SECURITY;
    CREATE TABLE statements_log (tbl text, statement text);
    CREATE FUNCTION log_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      INSERT INTO statements_log VALUES (TG_TABLE_NAME, split_part(ltrim(current_query()), ' ', 1));
      RETURN NULL; END $$;
    CREATE TRIGGER log_a AFTER INSERT ON copy_a FOR EACH STATEMENT EXECUTE FUNCTION log_statement();
    CREATE TRIGGER log_b AFTER INSERT ON copy_b FOR EACH STATEMENT EXECUTE FUNCTION log_statement();`)
  await log.createTopic('parity', { partitions: 1 })
  await produce(log, 'parity', [...first, ...second], () => 0)

  // Values JSON cannot carry through the log are made here: a Date, a bigint, bytes, NaN.
  const columns = (v: Input): Record<string, unknown> => {
    const row: Record<string, unknown> = { ...v }
    if (typeof v.ts === 'string' && Number(v.id) % 2 === 0) row.ts = new Date(v.ts)
    if (typeof v.b === 'string' && Number(v.id) % 3 === 0) row.b = BigInt(v.b)
    if (typeof v.raw === 'string') row.raw = Buffer.from(v.raw, 'hex')
    if (typeof v.f === 'string') row.f = Number(v.f)
    if (v.id === 57) {
      row.t = {
        toJSON: () => {
          throw new Error('this value has no JSON form')
        },
      }
    }
    return row
  }
  for (const table of ['copy_a', 'copy_b']) {
    const runner = new ConnectorRunner(log, [
      {
        kind: 'sink',
        name: `parity-${table}`,
        topic: topic<Input>('parity'),
        sink: postgres<Input>({
          url: db.url,
          table,
          columns,
          batchSize: first.length,
          deadLetterTable: 'parity_dead_letters',
        }),
      },
    ])
    runners.push(runner)
    runner.start()
    await until(async () => {
      const at = await db
        .query<{ n: string }>('SELECT next_offset AS n FROM sluice_sink_offsets WHERE connector = $1', [
          `parity-${table}`,
        ])
        .catch(() => []) // the sink creates the table when it opens
      return Number(at[0]?.n) === first.length + second.length
    }, `parity-${table} to write the topic`)
    await runner.stop()
    assert.equal(runner.status()[0]!.errors, 0, runner.status()[0]!.lastError)
  }

  const rows = (table: string) =>
    db.query<{ id: number; row: Record<string, unknown> }>(
      `SELECT id, to_jsonb(x) - 'id' AS row FROM ${table} x ORDER BY id`,
    )
  const a = await rows('copy_a')
  assert.deepEqual(a, await rows('copy_b'))
  const refused = (table: string) =>
    db.query<{ offset: string; error: string }>(
      `SELECT "offset", replace(error, '${table}', 'T') AS error FROM parity_dead_letters
        WHERE connector = $1 ORDER BY "offset"`,
      [`parity-${table}`],
    )
  const letters = await refused('copy_a')
  assert.deepEqual(letters, await refused('copy_b'))
  assert.deepEqual(
    letters.map((l) => Number(l.offset)),
    [51, 52, 53, 54, 55, 57],
  )

  // Both equal, and right: the values came through as they were sent.
  assert.deepEqual(
    a.map((r) => r.id),
    [...first, ...second].map((v) => v.id).filter((id) => ![51, 52, 53, 54, 55, 57].includes(id as number)),
  )
  const exact = await db.query<{
    id: number
    t: string | null
    tags: string[] | null
    raw: Buffer
    jt: string
  }>(`SELECT id, t, tags, raw, jsonb_typeof(j) AS jt FROM copy_a WHERE id < 46 ORDER BY id`)
  for (const row of exact) {
    const sent = copyable(row.id)
    assert.equal(row.t, sent.t, `text of record ${row.id}`)
    assert.deepEqual(row.tags, typeof sent.tags === 'string' ? ['x', 'y z'] : sent.tags, `tags of ${row.id}`)
    assert.equal(row.raw.toString('hex'), sent.raw)
    assert.equal(row.jt, sent.j === null ? null : Array.isArray(sent.j) ? 'array' : typeof sent.j)
  }
  const odd = await db.query(
    'SELECT id, t, nums, dom, pair::text, def FROM copy_a WHERE id >= 46 AND id < 50',
  )
  assert.deepEqual(odd, [
    { id: 46, t: null, nums: null, dom: 5, pair: '(1,a)', def: 'dflt' },
    { id: 47, t: null, nums: null, dom: 7, pair: null, def: 'dflt' },
    {
      id: 48,
      t: '{"a":1}',
      nums: [
        [1, 2],
        [3, 4],
      ],
      dom: null,
      pair: null,
      def: 'dflt',
    },
    { id: 49, t: '[1,"x"]', nums: [], dom: null, pair: null, def: 'dflt' },
  ])

  // Which statements wrote: COPY for copy_a's plain rows, INSERT only for copy_b.
  const statements = async (tbl: string) =>
    new Set(
      (
        await db.query<{ statement: string }>('SELECT statement FROM statements_log WHERE tbl = $1', [tbl])
      ).map((r) => r.statement.toUpperCase()),
    )
  assert.ok((await statements('copy_a')).has('COPY'), 'copy_a was written with COPY')
  assert.deepEqual(await statements('copy_b'), new Set(['INSERT']))
})
