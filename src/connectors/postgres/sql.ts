/**
 * Identifiers in SQL text. Every table and column name the connectors put into a statement goes
 * through `quoteIdent`, so a name is taken literally (case-sensitive, any character) and can
 * never end the identifier early: values always travel as parameters.
 */
import { SluiceError } from '../../errors.ts'

/** `"name"`, with embedded double quotes doubled (PostgreSQL's own quoting rule). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `"${name}" is not a valid PostgreSQL identifier`)
  }
  return `"${name.replaceAll('"', '""')}"`
}

/** A table name as the options give it: `table` or `schema.table`, or the parts spelled out. */
export type TableName = string | { readonly schema?: string; readonly name: string }

export interface QualifiedName {
  readonly schema: string | undefined
  readonly name: string
  /** The quoted SQL form: `"schema"."name"` or `"name"` (then resolved by the search_path). */
  readonly sql: string
  /** For messages: `schema.name` or `name`. */
  readonly text: string
}

/**
 * Splits `schema.table` at its one dot; names are literal (PostgreSQL folds unquoted names to
 * lower case, Sluice does not: `Alerts` means the table named exactly `Alerts`). A name that
 * holds a dot is given as `{ schema, name }`.
 */
export function qualifiedName(table: TableName, what = 'table'): QualifiedName {
  let schema: string | undefined
  let name: string
  if (typeof table === 'string') {
    const parts = table.split('.')
    if (parts.length > 2 || parts.some((p) => p.length === 0)) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `${what} "${table}" must be "name" or "schema.name"; give a name that holds a dot as { schema, name }`,
      )
    }
    ;[schema, name] = parts.length === 2 ? [parts[0], parts[1]!] : [undefined, parts[0]!]
  } else {
    schema = table.schema
    name = table.name
  }
  const sql = schema === undefined ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`
  return { schema, name, sql, text: schema === undefined ? name : `${schema}.${name}` }
}
