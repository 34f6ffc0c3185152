/**
 * What the sink learns about its target table at `open()`: that it exists, its columns with
 * their types (the types tell PostgreSQL how to read each value of a batch), and which column
 * sets are unique (an upsert's `key` must be one, or ON CONFLICT cannot find the row).
 */
import type pg from 'pg'
import { SluiceError } from '../../errors.ts'
import type { CopyKind } from './copy-text.ts'
import { sqlState } from './pool.ts'
import type { QualifiedName } from './sql.ts'

export interface ColumnInfo {
  readonly name: string
  /** `format_type()`: `bigint`, `character varying(20)`, `public.mood`, `text[]`. */
  readonly type: string
  /** Generated (`GENERATED ALWAYS AS …`) or `GENERATED ALWAYS AS IDENTITY`: not writable. */
  readonly readOnly: boolean
  /** Which values of this column the COPY path can write (copy-text.ts). */
  readonly copy: CopyKind
}

export interface TableInfo {
  /** `schema.table` as found, for messages. */
  readonly text: string
  readonly columns: ReadonlyMap<string, ColumnInfo>
  /** Column sets of the unique indexes ON CONFLICT can use (no predicate, no expressions). */
  readonly uniqueKeys: readonly (readonly string[])[]
  /**
   * Whether COPY does what INSERT does here: not with row-level security (COPY FROM refuses it),
   * INSERT rules (COPY ignores rules), or a foreign table (its wrapper may take INSERT only).
   */
  readonly copyable: boolean
}

export async function readTableInfo(client: pg.ClientBase, table: QualifiedName): Promise<TableInfo> {
  const found = await client.query<{
    oid: number
    schema: string
    name: string
    kind: string
    copyable: boolean
  }>(
    `SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
            c.relkind <> 'f' AND NOT c.relrowsecurity AND NOT EXISTS (
              SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type = '3') AS copyable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [table.sql],
  )
  const row = found.rows[0]
  if (!row) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `PostgreSQL table ${table.text} does not exist${table.schema === undefined ? ' in the search_path' : ''}. ` +
        'Create it first (the sink writes into your schema, it does not create tables); names are case-sensitive.',
    )
  }
  const text = `${row.schema}.${row.name}`
  if (!['r', 'p', 'f'].includes(row.kind)) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${text} is not a table (relkind ${row.kind}); the PostgreSQL sink writes into a table`,
    )
  }
  // copy: see copy-text.ts. Arrays only with array_in as input (not int2vector and the like)
  // and `,` between elements (box uses `;`); domains and composites are 'other'.
  const cols = await client.query<{ name: string; type: string; read_only: boolean; copy: CopyKind }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            (a.attgenerated <> '' OR a.attidentity = 'a') AS read_only,
            CASE
              WHEN t.oid IN ('json'::regtype, 'jsonb'::regtype) THEN 'json'
              WHEN t.typtype IN ('b', 'e', 'r', 'm') AND t.typcategory <> 'A' THEN 'scalar'
              WHEN t.typinput = 'array_in'::regproc AND e.typtype IN ('b', 'e', 'r', 'm')
                   AND e.typcategory <> 'A' AND e.oid NOT IN ('json'::regtype, 'jsonb'::regtype)
                   AND e.typdelim = ',' THEN 'array'
              ELSE 'other'
            END AS copy
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type e ON e.oid = t.typelem
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [row.oid],
  )
  const keys = await client.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text) AS columns
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid`,
    [row.oid],
  )
  return {
    text,
    columns: new Map(
      cols.rows.map(
        (c) => [c.name, { name: c.name, type: c.type, readOnly: c.read_only, copy: c.copy }] as const,
      ),
    ),
    uniqueKeys: keys.rows.map((k) => k.columns),
    copyable: row.copyable,
  }
}

/**
 * Throws a message naming the table and every column that is missing or not writable. `key`
 * must also match a unique index exactly, which is what ON CONFLICT (key) needs.
 */
export function checkColumns(info: TableInfo, mapped: readonly string[], key: readonly string[]): void {
  const missing = mapped.filter((c) => !info.columns.has(c))
  if (missing.length > 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `PostgreSQL table ${info.text} has no column ${missing.map((c) => `"${c}"`).join(', ')} ` +
        `(it has ${[...info.columns.keys()].map((c) => `"${c}"`).join(', ')}). ` +
        'Add the column(s) to the table, or map the record to existing columns with the `columns` option.',
    )
  }
  const readOnly = mapped.filter((c) => info.columns.get(c)!.readOnly)
  if (readOnly.length > 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `column(s) ${readOnly.join(', ')} of ${info.text} are generated and cannot be written; leave them out of \`columns\``,
    )
  }
  if (key.length === 0) return
  const sameSet = (a: readonly string[]) => a.length === key.length && key.every((k) => a.includes(k))
  if (!info.uniqueKeys.some(sameSet)) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `the upsert key (${key.join(', ')}) of ${info.text} is not a primary key or unique index, which ` +
        `INSERT … ON CONFLICT needs. Add one (ALTER TABLE ${info.text} ADD PRIMARY KEY (${key.join(', ')})) ` +
        'or leave out `key` to append rows.',
    )
  }
}

/**
 * Runs a CREATE TABLE IF NOT EXISTS. Two workers opening at once can both miss the table and
 * race on the catalog; the loser's "already exists" (23505 on pg_type, or 42P07) is success.
 */
export async function createIfMissing(client: pg.ClientBase, ddl: string): Promise<void> {
  try {
    await client.query(ddl)
  } catch (error) {
    const state = sqlState(error)
    if (state !== '23505' && state !== '42P07') throw error
  }
}

export async function expectColumns(
  client: pg.ClientBase,
  table: QualifiedName,
  columns: readonly string[],
  what: string,
): Promise<void> {
  const info = await readTableInfo(client, table)
  const missing = columns.filter((c) => !info.columns.has(c))
  if (missing.length > 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${info.text}, the sink's ${what} table, lacks column(s) ${missing.join(', ')}: it is some other table. ` +
        `Name another ${what} table in the sink options, or drop this one so the sink creates it.`,
    )
  }
}
