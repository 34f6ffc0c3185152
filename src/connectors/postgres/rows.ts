/**
 * From sink records to table rows. A row holds only the columns its record gives: a field that
 * is `undefined` (or absent) leaves the column to its DEFAULT on insert and untouched on
 * update; `null` writes NULL. What PostgreSQL makes of a value is defined by the JSON path: the row
 * as one JSON object, each field read with its column's type (json_to_recordset), so a Date
 * arrives as an ISO string and becomes a timestamp, an array becomes an array column, an object
 * a jsonb column. The COPY path (copy-text.ts) writes only values it can write the same way.
 */
import type { SinkRecord } from '../types.ts'

/** A field name of `T`, or any string while `T` is not known. */
export type FieldName<T> = unknown extends T ? string : Extract<keyof T, string>

/**
 * How a record becomes a row:
 * - omitted: the value's own fields, each into the column of the same name;
 * - a list of field names: those fields, each into the column of the same name;
 * - a function: returns the row as `{ column: value }` (it also gets the record, for its
 *   key, partition, offset, timestamp or headers).
 */
export type ColumnMapping<T> =
  | readonly FieldName<T>[]
  | ((value: T, record: SinkRecord<T>) => Record<string, unknown>)

export interface Row<T> {
  /** Column → value, only the columns this row writes. */
  readonly values: Record<string, unknown>
  /** The records this row came from: one, or several merged by upsert key within a batch. */
  readonly sources: SinkRecord<T>[]
  /** The row as JSON; set by `encodeRows`, only for rows that go the JSON way. */
  json: string
}

export interface RejectedRecord<T> {
  readonly record: SinkRecord<T>
  readonly error: string
  /** PostgreSQL's SQLSTATE when PostgreSQL rejected the row. */
  readonly sqlState?: string
}

/**
 * Maps every record; a record that cannot become a row (the mapping throws, it is not an
 * object, it names a column the table lacks) is rejected with why.
 * `columns` is the set of columns that may be written (generated columns left out).
 * With `key`, records with the same key merge into one row, later fields winning: PostgreSQL
 * cannot update one row twice in a statement, and the merged row is what updating it record by
 * record would leave.
 */
export function toRows<T>(
  records: readonly SinkRecord<T>[],
  mapping: ColumnMapping<T> | undefined,
  columns: ReadonlySet<string>,
  table: string,
  key: readonly string[],
): { rows: Row<T>[]; rejected: RejectedRecord<T>[] } {
  const rows: Row<T>[] = []
  const rejected: RejectedRecord<T>[] = []
  const byKey = new Map<string, Row<T>>()
  for (const record of records) {
    let values: Record<string, unknown>
    try {
      values = mapRecord(record, mapping, columns, table)
    } catch (error) {
      rejected.push({ record, error: (error as Error).message })
      continue
    }
    const k = key.length > 0 ? keyOf(values, key) : undefined
    const same = k === undefined ? undefined : byKey.get(k)
    if (same) {
      Object.assign(same.values, values)
      same.sources.push(record)
      continue
    }
    const row: Row<T> = { values, sources: [record], json: '' }
    rows.push(row)
    if (k !== undefined) byKey.set(k, row)
  }
  return { rows, rejected }
}

function mapRecord<T>(
  record: SinkRecord<T>,
  mapping: ColumnMapping<T> | undefined,
  columns: ReadonlySet<string>,
  table: string,
): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  let given = 0
  if (Array.isArray(mapping)) {
    // Field names were checked against the table at open(); only the value is read here.
    const value = record.value as Record<string, unknown>
    if (typeof value !== 'object' || value === null) throw notAnObject(record.value)
    for (const field of mapping as readonly string[]) {
      const v = value[field]
      if (v === undefined) continue
      values[field] = columnValue(v)
      given++
    }
  } else {
    const source =
      typeof mapping === 'function'
        ? mapping(record.value, record)
        : (record.value as Record<string, unknown>)
    if (typeof source !== 'object' || source === null || Array.isArray(source)) {
      throw typeof mapping === 'function'
        ? new Error(`the columns function returned ${describe(source)}, not an object of column values`)
        : notAnObject(source)
    }
    const unknown: string[] = []
    for (const field of Object.keys(source)) {
      const v = source[field]
      if (v === undefined) continue
      if (!columns.has(field)) unknown.push(field)
      else {
        values[field] = columnValue(v)
        given++
      }
    }
    if (unknown.length > 0) {
      throw new Error(
        `field(s) ${unknown.map((f) => `"${f}"`).join(', ')} have no writable column in ${table}; ` +
          'add the columns, or choose fields with the `columns` option',
      )
    }
  }
  if (given === 0) {
    throw new Error(`the record gives no column values for ${table} (every field is undefined or absent)`)
  }
  return values
}

/** What JSON cannot say the way a column reads it: bytes, bigints, NaN and infinities. */
function columnValue(v: unknown): unknown {
  switch (typeof v) {
    case 'bigint':
      return v.toString()
    case 'number':
      // 'NaN', 'Infinity', '-Infinity': what a float column reads; JSON would say null.
      return Number.isFinite(v) ? v : String(v)
    case 'object':
      if (v instanceof Uint8Array)
        return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
      return v
    default:
      return v
  }
}

function keyOf(values: Record<string, unknown>, key: readonly string[]): string | undefined {
  const parts: unknown[] = []
  for (const k of key) {
    const v = values[k]
    // NULL never equals NULL in a unique index: such rows cannot conflict, so never merge them.
    if (v === undefined || v === null) return undefined
    parts.push(v)
  }
  return JSON.stringify(parts)
}

/** Sets each row's JSON; a row that cannot be JSON (a bigint deep in an object) is rejected. */
export function encodeRows<T>(rows: readonly Row<T>[], rejected: RejectedRecord<T>[]): Row<T>[] {
  const ok: Row<T>[] = []
  for (const row of rows) {
    try {
      if (row.json === '') row.json = JSON.stringify(row.values)
      ok.push(row)
    } catch (error) {
      for (const record of row.sources)
        rejected.push({ record, error: `the row cannot be sent as JSON: ${(error as Error).message}` })
    }
  }
  return ok
}

function notAnObject(value: unknown): Error {
  return new Error(
    `the record value is ${describe(value)}, not an object of fields; map it to columns with the \`columns\` option`,
  )
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}
