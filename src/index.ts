/**
 * Sluice: real-time event processing for TypeScript.
 * @module
 */
export { isSluiceError, SluiceError, type SluiceErrorCode } from './errors.ts'
export * from './log/index.ts'
export { type Duration, parseDuration } from './util/duration.ts'
export { parseSize } from './util/size.ts'
