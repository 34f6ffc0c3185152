/**
 * The statements that write a batch's rows: one per set of columns the rows give (rows of one
 * shape share a statement), in the order the shapes first appear.
 *
 * - Plain inserts go as `COPY table (columns) FROM STDIN`, PostgreSQL's bulk path, when every
 *   value of the shape can be COPY text that means what the JSON path means (copy-text.ts).
 * - Otherwise, and for upserts, one JSON array per statement:
 *
 *     INSERT INTO t (a, b) SELECT a, b FROM json_to_recordset($1::json) AS x(a bigint, b text)
 *       [ON CONFLICT (key) DO UPDATE SET b = EXCLUDED.b]
 *
 *   one parameter however many rows, so the statement text stays the same from batch to batch
 *   and PostgreSQL reads every value with its column's type. Against `unnest` of typed arrays
 *   it takes array, json and composite columns and costs this process about half the CPU;
 *   against a multi-row VALUES list it needs no parameter per value. This is also the path
 *   that finds refused rows (sink.ts bisects with it): COPY fails a whole statement.
 *
 * bench:connectors (postgres) measures COPY, the sink, and the three INSERT shapes side by side.
 */
import type pg from 'pg'
import { copyText } from './copy-text.ts'
import type { Statement } from './pipeline.ts'
import { encodeRows, type RejectedRecord, type Row } from './rows.ts'
import { type QualifiedName, quoteIdent } from './sql.ts'
import type { TableInfo } from './table-info.ts'

interface Shape<T> {
  readonly columns: readonly string[]
  readonly rows: Row<T>[]
}

export class TableWriter {
  readonly #table: QualifiedName
  readonly #info: TableInfo
  readonly #key: readonly string[]
  /** JSON statement text by column list: rows of one shape share one statement. */
  readonly #statements = new Map<string, string>()

  constructor(table: QualifiedName, info: TableInfo, key: readonly string[]) {
    this.#table = table
    this.#info = info
    this.#key = key
  }

  /**
   * The statements that write `rows`, COPY where it can be. A row that cannot be sent at all
   * (not even as JSON) is left out and added to `rejected`.
   */
  statements<T>(rows: readonly Row<T>[], rejected: RejectedRecord<T>[]): Statement[] {
    const statements: Statement[] = []
    const copy = this.#key.length === 0 && this.#info.copyable
    for (const { columns, rows: group } of shapes(rows)) {
      const data = copy
        ? copyText(
            group,
            columns,
            columns.map((c) => this.#info.columns.get(c)!.copy),
          )
        : undefined
      if (data) {
        statements.push({
          text: `COPY ${this.#table.sql} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`,
          copy: data,
        })
        continue
      }
      const ok = encodeRows(group, rejected)
      if (ok.length > 0) statements.push({ text: this.#statement(columns), values: [jsonArray(ok)] })
    }
    return statements
  }

  /** Writes rows the JSON way, one statement per shape (rows must have their JSON: `encodeRows`). */
  async write<T>(client: pg.ClientBase, rows: readonly Row<T>[]): Promise<void> {
    for (const { columns, rows: group } of shapes(rows)) {
      await client.query(this.#statement(columns), [jsonArray(group)])
    }
  }

  #statement(columns: readonly string[]): string {
    const shape = columns.join('\0')
    let sql = this.#statements.get(shape)
    if (sql !== undefined) return sql
    const list = columns.map(quoteIdent).join(', ')
    const types = columns.map((c) => `${quoteIdent(c)} ${this.#info.columns.get(c)!.type}`).join(', ')
    sql = `INSERT INTO ${this.#table.sql} (${list}) SELECT ${list} FROM json_to_recordset($1::json) AS x(${types})`
    if (this.#key.length > 0) {
      const updates = columns.filter((c) => !this.#key.includes(c))
      sql += ` ON CONFLICT (${this.#key.map(quoteIdent).join(', ')}) DO ${
        updates.length === 0
          ? 'NOTHING'
          : `UPDATE SET ${updates.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`
      }`
    }
    this.#statements.set(shape, sql)
    return sql
  }
}

function jsonArray<T>(rows: readonly Row<T>[]): string {
  return `[${rows.map((r) => r.json).join(',')}]`
}

/** Rows grouped by the columns they give, in order of first appearance. */
function shapes<T>(rows: readonly Row<T>[]): Shape<T>[] {
  const byColumns = new Map<string, Shape<T>>()
  let last: Shape<T> | undefined
  for (const row of rows) {
    const columns = Object.keys(row.values)
    // Most batches have one shape: comparing with the last row's avoids building a key.
    if (last !== undefined && sameColumns(last.columns, columns)) {
      last.rows.push(row)
      continue
    }
    const shape = columns.join('\0')
    let group = byColumns.get(shape)
    if (group === undefined) {
      group = { columns, rows: [] }
      byColumns.set(shape, group)
    }
    group.rows.push(row)
    last = group
  }
  return [...byColumns.values()]
}

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
