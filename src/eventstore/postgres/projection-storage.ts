/**
 * Projection documents (`es_projections`) and positions (`es_checkpoints`, name
 * `projection:<name>`) on PostgreSQL. A batch is one transaction: lock the position row, check
 * it, let `apply` write (documents and, through `tx.sql`, tables of its own), move the
 * position, commit.
 */
import type pg from 'pg'
import {
  checkDocument,
  type ProjectionStorage,
  type ProjectionTx,
  StalePositionError,
} from '../projections.ts'

const positionKey = (name: string) => `projection:${name}`

export class PostgresProjectionStorage implements ProjectionStorage {
  readonly #pool: pg.Pool
  readonly #s: string

  /** `s`: the quoted schema. */
  constructor(pool: pg.Pool, s: string) {
    this.#pool = pool
    this.#s = s
  }

  async position(name: string): Promise<number> {
    const { rows } = await this.#pool.query<{ position: string }>(
      `SELECT position FROM ${this.#s}.es_checkpoints WHERE name = $1`,
      [positionKey(name)],
    )
    return rows.length === 0 ? 0 : Number(rows[0]!.position)
  }

  async commit(
    name: string,
    from: number,
    to: number,
    work: (tx: ProjectionTx) => void | Promise<void>,
  ): Promise<void> {
    await this.#inTransaction(async (client) => {
      // The row exists before it is locked, so two first batches also serialise on it.
      await client.query(
        `INSERT INTO ${this.#s}.es_checkpoints (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`,
        [positionKey(name)],
      )
      const { rows } = await client.query<{ position: string }>(
        `SELECT position FROM ${this.#s}.es_checkpoints WHERE name = $1 FOR UPDATE`,
        [positionKey(name)],
      )
      const at = Number(rows[0]!.position)
      if (at !== from) throw new StalePositionError(name, from, at)
      await work(this.#tx(name, client))
      await client.query(
        `UPDATE ${this.#s}.es_checkpoints SET position = $2, updated_at = now() WHERE name = $1`,
        [positionKey(name), to],
      )
    })
  }

  async reset(name: string, work?: (tx: ProjectionTx) => void | Promise<void>): Promise<void> {
    await this.#inTransaction(async (client) => {
      if (work) await work(this.#tx(name, client))
      await client.query(`DELETE FROM ${this.#s}.es_projections WHERE projection = $1`, [name])
      await client.query(`DELETE FROM ${this.#s}.es_checkpoints WHERE name = $1`, [positionKey(name)])
    })
  }

  async get<T = unknown>(name: string, key: string): Promise<T | undefined> {
    return getDocument<T>(this.#pool, this.#s, name, key)
  }

  async entries(name: string): Promise<Map<string, unknown>> {
    const { rows } = await this.#pool.query<{ key: string; value: unknown }>(
      `SELECT key, value FROM ${this.#s}.es_projections WHERE projection = $1 ORDER BY key`,
      [name],
    )
    return new Map(rows.map((r) => [r.key, r.value]))
  }

  #tx(name: string, client: pg.ClientBase): ProjectionTx {
    return {
      get: (key) => getDocument(client, this.#s, name, key),
      put: async (key, value) => {
        const json = checkDocument(name, key, value)
        await client.query(
          `INSERT INTO ${this.#s}.es_projections (projection, key, value) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (projection, key) DO UPDATE SET value = excluded.value`,
          [name, key, json],
        )
      },
      delete: async (key) => {
        await client.query(`DELETE FROM ${this.#s}.es_projections WHERE projection = $1 AND key = $2`, [
          name,
          key,
        ])
      },
      sql: client,
    }
  }

  async #inTransaction(fn: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect()
    let broken = false
    try {
      await client.query('BEGIN')
      try {
        await fn(client)
        await client.query('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true
        })
        throw error
      }
    } finally {
      client.release(broken)
    }
  }
}

async function getDocument<T>(
  db: pg.Pool | pg.ClientBase,
  s: string,
  name: string,
  key: string,
): Promise<T | undefined> {
  const { rows } = await db.query<{ value: T }>(
    `SELECT value FROM ${s}.es_projections WHERE projection = $1 AND key = $2`,
    [name, key],
  )
  return rows[0]?.value
}
