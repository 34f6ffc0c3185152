/**
 * `ndjsonFile()`: a source reading newline-delimited JSON, one record per line.
 * @example
 * connect('orders-in', { from: ndjsonFile({ path: 'orders.ndjson', follow: true }), to: orders })
 */
import type { Source, SourceContext, SourceDeadLetter, SourceRecord } from '../types.ts'
import {
  checkFileOptions,
  type FileCheckpoint,
  type FileReadOptions,
  fileDefaults,
  lineHeaders,
  parseCheckpoint,
} from './options.ts'
import { readUnits } from './tail.ts'

export interface NdjsonFileOptions extends FileReadOptions {}

/**
 * Reads a file of JSON values, one per line, and appends each as a record. Blank lines are
 * skipped; a line that is not JSON goes to `<connector>-dlq` with `<path>:<line>` in its error.
 * Each batch is appended with the byte offset after its last line, in one transaction: a
 * restart resumes exactly there.
 */
export function ndjsonFile<T = unknown>(options: NdjsonFileOptions): Source<T> {
  checkFileOptions('ndjsonFile', options)
  const { path } = options
  return {
    role: 'source',
    type: 'ndjson-file',
    async run(context: SourceContext<T>) {
      const start = parseCheckpoint(context.checkpoint, path)
      if (context.checkpoint !== undefined && !start) {
        context.report(`the checkpoint is not for ${path}; reading it from the start`)
      }
      const units = readUnits(
        {
          path,
          follow: options.follow ?? false,
          pollMs: options.pollMs ?? fileDefaults.pollMs,
          batchSize: options.batchSize ?? fileDefaults.batchSize,
          maxUnitBytes: options.maxLineBytes ?? fileDefaults.maxLineBytes,
          unitEnd: (buf) => buf.indexOf(0x0a) + 1 || -1,
          signal: context.signal,
          report: context.report,
        },
        start,
      )
      for await (const { units: lines, position } of units) {
        const records: SourceRecord<T>[] = []
        const deadLetters: SourceDeadLetter[] = []
        for (const { text, line, tooLong } of lines) {
          const where = `${path}:${line}`
          if (tooLong) {
            deadLetters.push({
              value: text,
              error: `${where}: line longer than ${options.maxLineBytes ?? fileDefaults.maxLineBytes} bytes (kept its first 1 KiB); raise maxLineBytes`,
              headers: lineHeaders(path, line),
            })
            continue
          }
          if (text.trim() === '') continue
          try {
            records.push({ value: JSON.parse(text) as T })
          } catch (error) {
            deadLetters.push({
              value: text,
              error: `${where}: not valid JSON (${(error as Error).message}); each line must hold one JSON value`,
              headers: lineHeaders(path, line),
            })
          }
        }
        const checkpoint: FileCheckpoint = { path, ...position }
        await context.append(records, { checkpoint: JSON.stringify(checkpoint), deadLetters })
      }
    },
  }
}
