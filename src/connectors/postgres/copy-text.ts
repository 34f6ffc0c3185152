/**
 * Rows as `COPY … FROM STDIN` text: one line per row, values separated by tabs, `\N` for NULL,
 * backslash escapes for backslash, tab, newline and carriage return.
 *
 * COPY is PostgreSQL's bulk path, but it must not change what a row means. The JSON path
 * (`json_to_recordset`, write.ts) hands each column's input function the text of a JSON string,
 * or the JSON text of any other value; this file writes a value only where that text is
 * unambiguous, and says "not COPY" otherwise, so the caller sends those rows as JSON:
 *
 * - `scalar` columns (base, enum and range types): strings, finite numbers, booleans, and
 *   objects whose `toJSON` gives one of those (a Date's ISO string); an object or array here
 *   would reach the input function as JSON text — rare, and left to the JSON path;
 * - `json`/`jsonb` columns: any value, as `JSON.stringify` writes it (a string is a JSON string);
 * - `array` columns (arrays of a scalar type with `,` as delimiter): one-dimensional arrays of
 *   those values, as an array literal with every element quoted; other values as for scalars
 *   (a string is an array literal to both paths);
 * - `other` columns (domains, composites, …): NULL only.
 *
 * A string that is not well-formed UTF-16 (a lone surrogate) is not COPY either: it would be
 * encoded as U+FFFD here, while the JSON path refuses it. A value the column's type refuses
 * makes the COPY fail as a whole, and the sink then writes the batch the JSON way, row by row
 * where needed — so both paths refuse the same rows with the same messages.
 */
import type { Row } from './rows.ts'

export type CopyKind = 'scalar' | 'json' | 'array' | 'other'

/** Text is cut into CopyData messages of about this many characters. */
const CHUNK_CHARS = 64 * 1024

/**
 * `rows` (each with exactly `columns`, in that order) as COPY text in chunks, or undefined when
 * a value is not one this path writes exactly as the JSON path would.
 */
export function copyText<T>(
  rows: readonly Row<T>[],
  columns: readonly string[],
  kinds: readonly CopyKind[],
): Buffer[] | undefined {
  const chunks: Buffer[] = []
  const scalar = kinds.map((k) => k === 'scalar')
  let text = ''
  for (const row of rows) {
    const values = row.values
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!
      const value = values[column]
      let field: string | undefined
      // The common values of scalar columns inline: this loop runs once per value of a batch.
      if (typeof value === 'string' && scalar[i]) {
        field = copyString(value)
      } else if (typeof value === 'number' && scalar[i]) {
        field = Number.isFinite(value) ? String(value) : NULL
      } else {
        field = copyField(value, kinds[i]!, column)
      }
      if (field === undefined) return undefined
      text += i === 0 ? field : `\t${field}`
    }
    text += '\n'
    if (text.length >= CHUNK_CHARS) {
      chunks.push(Buffer.from(text))
      text = ''
    }
  }
  if (text.length > 0) chunks.push(Buffer.from(text))
  return chunks
}

const NULL = '\\N'

function copyField(value: unknown, kind: CopyKind, column: string): string | undefined {
  if (value === null) return NULL
  switch (kind) {
    case 'scalar': {
      const text = scalarText(value, column)
      return text === null ? NULL : text === undefined ? undefined : copyString(text)
    }
    case 'json': {
      let json: string | undefined
      try {
        json = JSON.stringify(value)
      } catch {
        return undefined // the JSON path refuses the row, with its own message
      }
      // undefined: a function or symbol, which JSON leaves out; 'null': read as SQL NULL.
      if (json === undefined) return undefined
      return json === 'null' ? NULL : copyString(json)
    }
    case 'array': {
      if (Array.isArray(value)) return arrayLiteral(value, column)
      const text = scalarText(value, column)
      return text === null ? NULL : text === undefined ? undefined : copyString(text)
    }
    case 'other':
      return undefined
  }
}

/** A value's text as the JSON path gives it to a scalar input function; null for NULL. */
function scalarText(value: unknown, key: string): string | null | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
      // Non-finite numbers arrive as strings (rows.ts); one from a toJSON is JSON null.
      return Number.isFinite(value) ? String(value) : null
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return null
      const toJSON = (value as { toJSON?: unknown }).toJSON
      if (typeof toJSON !== 'function' || Array.isArray(value)) return undefined
      let json: unknown
      try {
        json = toJSON.call(value, key)
      } catch {
        return undefined // the JSON path refuses the row, with its own message
      }
      return typeof json === 'object' && json !== null ? undefined : scalarText(json, key)
    }
    default:
      return undefined
  }
}

/** `{"a","b",NULL}`: every element quoted, so its text reaches the element type's input as is. */
function arrayLiteral(values: readonly unknown[], key: string): string | undefined {
  let literal = '{'
  for (let i = 0; i < values.length; i++) {
    // JSON writes undefined, functions and symbols in an array as null.
    const v = values[i]
    const text =
      v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : scalarText(v, key)
    if (text === undefined) return undefined
    if (i > 0) literal += ','
    literal += text === null ? 'NULL' : `"${text.replace(/["\\]/g, '\\$&')}"`
  }
  return copyString(`${literal}}`)
}

/** No character COPY escapes and no surrogate: the string goes as it is. */
const PLAIN = /^[^\\\t\n\r\ud800-\udfff]*$/
const SPECIALS = /[\\\t\n\r]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** A string escaped for COPY text; undefined when it is not well-formed (a lone surrogate). */
function copyString(text: string): string | undefined {
  if (PLAIN.test(text)) return text
  if (!text.isWellFormed()) return undefined
  return text.replace(SPECIALS, (c) => ESCAPES[c]!)
}
