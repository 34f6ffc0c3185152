/** `sluice/testing`: test pipelines without a log, a disk or threads. */
export { type OutputRecord, TestDriver, type TestDriverOptions } from './driver.ts'
