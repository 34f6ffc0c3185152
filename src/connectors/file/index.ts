export { type CsvColumnType, type CsvFileOptions, type CsvRow, csvFile } from './csv-source.ts'
export { type NdjsonFileSinkOptions, ndjsonFileSink } from './ndjson-sink.ts'
export { type NdjsonFileOptions, ndjsonFile } from './ndjson-source.ts'
export type { FileReadOptions } from './options.ts'
