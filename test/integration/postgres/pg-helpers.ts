/**
 * What the PostgreSQL tests share: a database of their own (created through the `test`
 * database, dropped when the file ends), an embedded log in a temp dir, and waiting.
 * The server: $SLUICE_TEST_PG (default postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from 'node:crypto'
import { after } from 'node:test'
import pg from 'pg'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

export const ADMIN_URL = process.env.SLUICE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestDatabase {
  readonly url: string
  readonly name: string
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>
}

/** A fresh database `sluice_test_<random>`, dropped (connections and all) after the file. */
export async function testDatabase(): Promise<TestDatabase> {
  const name = `sluice_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 })
  pool.on('error', () => {})
  after(async () => {
    await pool.end()
    const drop = new pg.Client({ connectionString: ADMIN_URL })
    await drop.connect()
    await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await drop.end()
  })
  return {
    url: url.toString(),
    name,
    query: async <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) =>
      (await pool.query<R>(sql, params)).rows,
  }
}

/** An embedded log in a temp dir, closed after the file. */
export async function testLog(): Promise<EmbeddedLog> {
  const log = await openEmbeddedLog({ dataDir: tempDir('sluice-pg-'), cleanupIntervalMs: 0 })
  after(() => log.close())
  return log
}

/** Appends JSON values to a topic; `partitionOf` picks each record's partition. */
export async function produce<T>(
  log: EmbeddedLog,
  topic: string,
  values: readonly T[],
  partitionOf: (value: T, i: number) => number,
): Promise<void> {
  const producer = log.producer()
  for (let i = 0; i < values.length; i += 20_000) {
    await producer.send(
      topic,
      values.slice(i, i + 20_000).map((v, j) => ({
        value: Buffer.from(JSON.stringify(v)),
        partition: partitionOf(v, i + j),
      })),
    )
  }
  await producer.close()
}

/** Polls `check` every 20 ms until it holds; fails naming `what` after `ms`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
