/**
 * How the PostgreSQL connectors connect: one small pool per connector. node-postgres is loaded
 * when a connector first connects, so `import … from 'sluice'` does not pay for it.
 */
import type pg from 'pg'
import { SluiceError } from '../../errors.ts'

export interface PostgresConnection {
  /** `postgres://user:password@host:port/database?sslmode=…` */
  url?: string
  /**
   * node-postgres pool settings (host, port, user, password, database, ssl, …), for what a URL
   * cannot say. Neither `url` nor `pool`: node-postgres' defaults and the `PG*` environment
   * variables (PGHOST, PGUSER, PGDATABASE, …).
   */
  pool?: pg.PoolConfig
}

/**
 * A pool of at most `max` connections (default 1: a sink writes one batch at a time, a poll
 * source runs one query at a time). A connection that breaks is dropped from the pool and the
 * next query opens a new one, so a restarted server costs one failed batch, which is retried.
 */
export async function createPool(connection: PostgresConnection, label: string, max = 1): Promise<pg.Pool> {
  checkConnection(connection, label)
  const config: pg.PoolConfig = connection.pool
    ? { max, ...connection.pool }
    : { max, ...(connection.url !== undefined ? { connectionString: connection.url } : {}) }
  const { default: driver } = await import('pg')
  const pool = new driver.Pool({ application_name: 'sluice', ...config })
  // An idle connection that breaks (server restart) is emitted here; without a listener it
  // would crash the process. The next query reports the failure where it can be retried.
  pool.on('error', () => {})
  return pool
}

/** Throws when the options say where to connect twice. */
export function checkConnection(connection: PostgresConnection, label: string): void {
  if (connection.url !== undefined && connection.pool !== undefined) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${label}: give either url or pool, not both (put the URL in pool.connectionString to combine them)`,
    )
  }
}

/** Where a pool points, for messages (never the password). */
export function describeTarget(connection: PostgresConnection): string {
  if (connection.url !== undefined) {
    try {
      const u = new URL(connection.url)
      return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`
    } catch {
      return 'the configured server'
    }
  }
  const p = connection.pool
  if (p?.host !== undefined || p?.database !== undefined) {
    return `${p.host ?? 'localhost'}${p.port !== undefined ? `:${p.port}` : ''}/${p.database ?? ''}`
  }
  return 'the server named by the PG* environment variables'
}

/** PostgreSQL's SQLSTATE of an error from node-postgres, if it has one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}
