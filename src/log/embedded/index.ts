export type { AppendBatchOptions, AppendBatchResult, EmbeddedLogOptions } from './embedded-log.ts'
export { DEFAULT_MAX_RECORD_BYTES, EmbeddedLog, openEmbeddedLog } from './embedded-log.ts'
export type { Durability } from './storage.ts'
