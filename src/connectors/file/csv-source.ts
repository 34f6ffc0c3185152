/**
 * `csvFile()`: a source reading CSV, one record per row.
 * @example
 * connect('prices-in', {
 *   from: csvFile({ path: 'prices.csv', types: { price: 'number' } }),
 *   to: prices,
 * })
 */
import { SluiceError } from '../../errors.ts'
import type { Source, SourceContext, SourceDeadLetter, SourceRecord } from '../types.ts'
import { csvRecordEnd, parseCsvRecord } from './csv.ts'
import {
  checkFileOptions,
  type FileCheckpoint,
  type FileReadOptions,
  fileDefaults,
  lineHeaders,
  parseCheckpoint,
} from './options.ts'
import { readUnits } from './tail.ts'

/** How a column's text becomes a value; an empty field becomes `null` for all but `string`. */
export type CsvColumnType = 'string' | 'number' | 'boolean' | 'json'

/** A row as `parse` receives it: by column name with a header, else the fields in order. */
export type CsvRow = Record<string, unknown> | string[]

export interface CsvFileOptions<T> extends FileReadOptions {
  /**
   * `true` (default): the file's first row names the columns and each record is an object.
   * An array: these are the column names and every row is data. `false`: each record is the
   * array of its fields.
   */
  header?: boolean | readonly string[]
  /** One ASCII character (default `,`; `\t` for TSV). */
  delimiter?: string
  /** Column types (with a header); columns not named stay strings. */
  types?: Readonly<Record<string, CsvColumnType>>
  /** Builds the record from a row (after `types`); throwing dead-letters the row with the message. */
  parse?: (row: CsvRow) => T
}

/**
 * Reads a CSV file (RFC 4180: quoted fields with delimiters, newlines and doubled quotes; LF
 * or CRLF). A row with the wrong number of fields, a malformed quote or a value that does not
 * fit its column type goes to `<connector>-dlq` with `<path>:<line>` in its error. Empty lines
 * are skipped. Checkpoints and restarts as `ndjsonFile`.
 */
export function csvFile<T = unknown>(options: CsvFileOptions<T>): Source<T> {
  checkFileOptions('csvFile', options)
  const { path } = options
  const delimiter = options.delimiter ?? ','
  if (delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f || '"\r\n'.includes(delimiter)) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `csvFile: delimiter must be one ASCII character other than a quote or newline, got ${JSON.stringify(delimiter)}`,
    )
  }
  const headerOption = options.header ?? true
  return {
    role: 'source',
    type: 'csv-file',
    async run(context: SourceContext<T>) {
      const start = parseCheckpoint(context.checkpoint, path)
      if (context.checkpoint !== undefined && !start) {
        context.report(`the checkpoint is not for ${path}; reading it from the start`)
      }
      // The column names: given, or read from the file's first row (and kept in checkpoints,
      // since a restart resumes past that row).
      let columns: readonly string[] | undefined = Array.isArray(headerOption) ? headerOption : start?.header
      const units = readUnits(
        {
          path,
          follow: options.follow ?? false,
          pollMs: options.pollMs ?? fileDefaults.pollMs,
          batchSize: options.batchSize ?? fileDefaults.batchSize,
          maxUnitBytes: options.maxLineBytes ?? fileDefaults.maxLineBytes,
          unitEnd: csvRecordEnd(delimiter),
          signal: context.signal,
          report: context.report,
        },
        start,
      )
      for await (const { units: rows, position } of units) {
        const records: SourceRecord<T>[] = []
        const deadLetters: SourceDeadLetter[] = []
        for (const { text, line, fileStart, tooLong } of rows) {
          const reject = (error: string) =>
            deadLetters.push({
              value: text,
              error: `${path}:${line}: ${error}`,
              headers: lineHeaders(path, line),
            })
          if (tooLong) {
            reject(
              `row longer than ${options.maxLineBytes ?? fileDefaults.maxLineBytes} bytes (kept its first 1 KiB); ` +
                'raise maxLineBytes, or look for a quote that never closes',
            )
            continue
          }
          if (text === '') continue
          const fields = parseCsvRecord(text, delimiter)
          if (!Array.isArray(fields)) {
            reject(fields.error)
            continue
          }
          if (headerOption === true && fileStart) {
            columns = fields
            continue
          }
          if (headerOption === false && columns === undefined) columns = fields.map((_, i) => String(i))
          if (!columns) {
            reject('no column names: the header row (the first line of the file) could not be read')
            continue
          }
          if (fields.length !== columns.length) {
            reject(`expected ${columns.length} fields (${describeColumns(columns)}), found ${fields.length}`)
            continue
          }
          try {
            const row = headerOption === false ? fields : typedRow(columns, fields, options.types)
            records.push({ value: options.parse ? options.parse(row) : (row as T) })
          } catch (error) {
            reject((error as Error).message)
          }
        }
        const checkpoint: FileCheckpoint = { path, ...position }
        if (headerOption === true && columns) checkpoint.header = [...columns]
        await context.append(records, { checkpoint: JSON.stringify(checkpoint), deadLetters })
      }
    },
  }
}

function typedRow(
  columns: readonly string[],
  fields: readonly string[],
  types: Readonly<Record<string, CsvColumnType>> | undefined,
): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!
    row[name] = convert(name, fields[i]!, types?.[name] ?? 'string')
  }
  return row
}

function convert(column: string, text: string, type: CsvColumnType): unknown {
  if (type === 'string') return text
  if (text.trim() === '') return null
  if (type === 'number') {
    const n = Number(text)
    if (Number.isNaN(n)) throw new Error(`column "${column}": ${JSON.stringify(text)} is not a number`)
    return n
  }
  if (type === 'boolean') {
    const t = text.trim().toLowerCase()
    if (t === 'true') return true
    if (t === 'false') return false
    throw new Error(`column "${column}": ${JSON.stringify(text)} is not true or false`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new Error(`column "${column}": not valid JSON (${(error as Error).message})`)
  }
}

function describeColumns(columns: readonly string[]): string {
  const shown = columns.slice(0, 8).join(', ')
  return columns.length > 8 ? `${shown}, …` : shown
}
