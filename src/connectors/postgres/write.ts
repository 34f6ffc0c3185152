/**
 * The SQL of a batch: rows go in as one JSON array per statement,
 *
 *   INSERT INTO t (a, b) SELECT a, b FROM json_to_recordset($1::json) AS x(a bigint, b text)
 *     [ON CONFLICT (key) DO UPDATE SET b = EXCLUDED.b]
 *
 * one parameter however many rows, so the statement text stays the same from batch to batch
 * and PostgreSQL reads every value with its column's type. Against `unnest` of typed arrays it
 * takes array, json and composite columns (which `unnest` would flatten or cannot type) and
 * costs this process about half the CPU; against a multi-row VALUES list it needs no parameter
 * per value. bench:connectors (postgres, part d) measures the three side by side.
 */
import type pg from 'pg'
import type { Row } from './rows.ts'
import { type QualifiedName, quoteIdent } from './sql.ts'
import type { TableInfo } from './table-info.ts'

export class TableWriter {
  readonly #table: QualifiedName
  readonly #info: TableInfo
  readonly #key: readonly string[]
  /** Statement text by column list: rows of one shape share one statement. */
  readonly #statements = new Map<string, string>()

  constructor(table: QualifiedName, info: TableInfo, key: readonly string[]) {
    this.#table = table
    this.#info = info
    this.#key = key
  }

  /** Writes rows: one statement per distinct column set, in the order the sets first appear. */
  async write<T>(client: pg.ClientBase, rows: readonly Row<T>[]): Promise<void> {
    const groups = new Map<string, string[]>()
    for (const row of rows) {
      const shape = Object.keys(row.values).join('\0')
      const group = groups.get(shape)
      if (group) group.push(row.json)
      else groups.set(shape, [row.json])
    }
    for (const [shape, json] of groups) {
      await client.query(this.#statement(shape), [`[${json.join(',')}]`])
    }
  }

  #statement(shape: string): string {
    let sql = this.#statements.get(shape)
    if (sql !== undefined) return sql
    const columns = shape.split('\0')
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
