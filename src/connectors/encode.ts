/**
 * Turns a value meant for a topic into a log record the way the topic declares: validated by
 * its schema, keyed by its `key` function, timed by its `timestamp` function, encoded by its
 * codec. HTTP ingest and every source append through this, so what a pipeline reads from a
 * topic is what the topic promised.
 */

import { formatIssues } from '../dsl/schema.ts'
import type { TopicDef } from '../dsl/topic.ts'
import type { ProducerRecord } from '../log/types.ts'
import type { SourceRecord } from './types.ts'

/** A record that does not fit its topic; the message says why. */
export class InvalidRecordError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidRecordError'
  }
}

/**
 * Encodes one record for `def`. Throws InvalidRecordError when the schema rejects it or its key
 * or time cannot be read. Synchronous schemas only (as the engine's source decoder).
 */
export function encodeRecord<T>(def: TopicDef<T>, record: SourceRecord<unknown>): ProducerRecord {
  let value = record.value
  if (def.schema) {
    const result = def.schema['~standard'].validate(value)
    if (result instanceof Promise) {
      throw new InvalidRecordError(
        `topic "${def.name}" has an asynchronous schema; Sluice validates synchronously`,
      )
    }
    if (result.issues)
      throw new InvalidRecordError(`schema validation failed: ${formatIssues(result.issues)}`)
    value = result.value
  }
  let key = record.key
  let timestamp = record.timestamp
  try {
    if (key === undefined && def.key) key = String(def.key(value as T))
    if (timestamp === undefined && def.timestamp) {
      const t = def.timestamp(value as T)
      timestamp = typeof t === 'number' ? t : new Date(t).getTime()
    }
  } catch (e) {
    throw new InvalidRecordError(`key or timestamp could not be read: ${(e as Error).message}`)
  }
  if (timestamp !== undefined && !Number.isFinite(timestamp)) {
    throw new InvalidRecordError(`event time ${String(timestamp)} is not a number of ms or a date`)
  }
  const out: ProducerRecord = {
    key: key === undefined || key === null ? null : Buffer.from(key),
    value: def.codec.encode(value as T),
  }
  if (timestamp !== undefined) out.timestamp = timestamp
  if (record.headers) out.headers = record.headers
  return out
}
