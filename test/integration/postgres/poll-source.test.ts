/**
 * The PostgreSQL poll source against the real server, into the embedded log: rows inserted in
 * PostgreSQL arrive in the topic exactly once and in id order, across a stop in the middle of
 * a backlog and a restart; `lag` holds the position before a row that is too young; a query
 * can be read instead of a table.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import type { SourceConnector } from '../../../src/connectors/connect.ts'
import { type PostgresPollOptions, postgresPoll } from '../../../src/connectors/postgres/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { readValues } from '../../helpers/connector-log.ts'
import { testDatabase, testLog, until } from './pg-helpers.ts'

interface Payment {
  id: number
  card: string
  amount: number
}

const db = await testDatabase()
const log = await testLog()
const runners: ConnectorRunner[] = []
after(() => Promise.all(runners.map((r) => r.stop())))

function start<T>(name: string, topicName: string, options: PostgresPollOptions<T>): ConnectorRunner {
  const connector: SourceConnector<T> = {
    kind: 'source',
    name,
    source: postgresPoll<T>({ url: db.url, ...options }),
    topic: topic<T>(topicName),
  }
  const runner = new ConnectorRunner(log, [connector])
  runners.push(runner)
  runner.start()
  return runner
}

/** Records in a topic so far (0 before it exists). */
async function count(name: string): Promise<number> {
  if (!(await log.hasTopic(name))) return 0
  return (await log.describeTopic(name)).partitionDetails.reduce((n, p) => n + p.endOffset, 0)
}

const toPayment = (row: Record<string, unknown>): Payment => ({
  id: Number(row.id),
  card: row.card as string,
  amount: row.amount as number,
})

async function insert(from: number, to: number): Promise<void> {
  await db.query(
    `INSERT INTO payments (card, amount)
     SELECT 'card-' || (i % 13), i * 3 FROM generate_series($1::int, $2::int) AS i`,
    [from, to - 1],
  )
}

const expected = (n: number): Payment[] =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, card: `card-${(i + 1) % 13}`, amount: (i + 1) * 3 }))

describe('postgres poll source', () => {
  test('rows arrive in the topic exactly once, in id order, across a stop mid-backlog and a restart', async () => {
    await db.query(`CREATE TABLE payments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      card text NOT NULL, amount int NOT NULL)`)
    await insert(1, 20_001)
    const options = { table: 'payments', batchSize: 50, interval: 20, map: toPayment } as const
    const first = start('payments-in', 'pg-payments', options)
    await until(async () => (await count('pg-payments')) >= 500, 'some rows to arrive')
    await first.stop()
    const atStop = await count('pg-payments')
    assert.ok(atStop < 20_000, `stopped mid-backlog (${atStop} of 20,000 read)`)

    await insert(20_001, 21_001)
    const second = start('payments-in', 'pg-payments', options)
    await until(async () => (await count('pg-payments')) >= 21_000, 'all rows to arrive')
    // Rows inserted while it runs arrive too.
    await insert(21_001, 21_101)
    await until(async () => (await count('pg-payments')) >= 21_100, 'the late rows to arrive')
    await new Promise((r) => setTimeout(r, 200)) // a few more polls: nothing more may come
    await second.stop()
    assert.deepEqual(await readValues(log, 'pg-payments'), expected(21_100))
    assert.equal(first.status()[0]!.errors + second.status()[0]!.errors, 0)
  })

  test('lag: a read stops before the first row that is too young, and goes on once it is old enough', async () => {
    await db.query(`CREATE TABLE lagged (id int PRIMARY KEY, created_at timestamptz NOT NULL)`)
    // Row 2 claims to be an hour in the future: rows 3 and 4, though old, must wait behind it.
    await db.query(`INSERT INTO lagged VALUES (1, now() - interval '1 minute'), (2, now() + interval '1 hour'),
      (3, now() - interval '1 minute'), (4, now() - interval '1 minute')`)
    const runner = start<{ id: number }>('lagged-in', 'pg-lagged', {
      table: 'lagged',
      interval: 20,
      lag: { timeColumn: 'created_at', by: '2s' },
      map: (row) => ({ id: row.id as number }),
    })
    await until(async () => (await readValues(log, 'pg-lagged')).length >= 1, 'row 1')
    await new Promise((r) => setTimeout(r, 300))
    assert.deepEqual(await readValues(log, 'pg-lagged'), [{ id: 1 }])
    await db.query(`UPDATE lagged SET created_at = now() - interval '1 minute' WHERE id = 2`)
    await until(async () => (await readValues(log, 'pg-lagged')).length >= 4, 'rows 2 to 4')
    await runner.stop()
    assert.deepEqual(await readValues(log, 'pg-lagged'), [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }])
  })

  test('a query instead of a table, starting after a given value; a checkpoint of another column is refused', async () => {
    await db.query('CREATE TABLE cards (card text PRIMARY KEY, owner text)')
    await db.query(`INSERT INTO cards SELECT 'card-' || i, 'owner ' || i FROM generate_series(0, 12) AS i`)
    const runner = start<{ id: number; owner: string }>('joined-in', 'pg-joined', {
      query: 'SELECT p.id, c.owner FROM payments p JOIN cards c USING (card);',
      after: 21_000,
      interval: 20,
      map: (row) => ({ id: Number(row.id), owner: row.owner as string }),
    })
    await until(async () => (await readValues(log, 'pg-joined')).length >= 100, 'the joined rows')
    await runner.stop()
    assert.deepEqual(
      await readValues(log, 'pg-joined'),
      Array.from({ length: 100 }, (_, i) => ({ id: 21_001 + i, owner: `owner ${(21_001 + i) % 13}` })),
    )

    const other = start('joined-in', 'pg-joined', {
      query: 'SELECT * FROM payments',
      column: 'amount',
      interval: 20,
    })
    await until(() => other.status()[0]!.errors > 0, 'the source to fail')
    await other.stop()
    assert.match(
      other.status()[0]!.lastError!,
      /checkpoint is a position in column id, not amount.*give the connector a new name/,
    )
    assert.equal((await readValues(log, 'pg-joined')).length, 100)
  })
})
