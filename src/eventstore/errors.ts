/**
 * The event store's typed errors. Each is a `SluiceError` with a stable code and a message
 * that says what happened and what to do; none of them leaves anything written.
 */
import { SluiceError } from '../errors.ts'
import type { ExpectedVersion } from './types.ts'

/** The stream was not at the expected version: someone else appended first. Nothing was written. */
export class ConcurrencyError extends SluiceError {
  readonly streamId: string
  readonly expected: ExpectedVersion
  /** The stream's version when the append was refused (0: no stream). */
  readonly actual: number

  constructor(streamId: string, expected: ExpectedVersion, actual: number) {
    super(
      'SLUICE_CONCURRENCY_CONFLICT',
      `append to stream "${streamId}" expected ${describeExpected(expected)}, but it ${describeActual(actual)}; ` +
        'nothing was written — read the stream again, decide again, and retry with its current version',
    )
    this.name = 'ConcurrencyError'
    this.streamId = streamId
    this.expected = expected
    this.actual = actual
  }
}

/** An event that cannot be stored. `index` is its place in the append (0-based), when it is one event's fault. */
export class InvalidEventError extends SluiceError {
  readonly index: number | undefined

  constructor(message: string, index?: number) {
    super(
      'SLUICE_INVALID_EVENT',
      `${index === undefined ? '' : `event #${index}: `}${message}; nothing was written`,
    )
    this.name = 'InvalidEventError'
    this.index = index
  }
}

export class UnknownStreamError extends SluiceError {
  readonly streamId: string

  constructor(streamId: string) {
    super(
      'SLUICE_UNKNOWN_STREAM',
      `stream "${streamId}" does not exist (it has no events); check the id, or append to it first`,
    )
    this.name = 'UnknownStreamError'
    this.streamId = streamId
  }
}

/** An event id is stored already, by another append than this one (a retry repeats the same events). */
export class DuplicateEventIdError extends SluiceError {
  readonly eventId: string

  constructor(eventId: string, storedIn: string, version: number) {
    super(
      'SLUICE_DUPLICATE_EVENT_ID',
      `event id "${eventId}" is already stored (stream "${storedIn}", version ${version}) by a different append; ` +
        'reuse an id only to retry the very same append, and give new events new ids. Nothing was written',
    )
    this.name = 'DuplicateEventIdError'
    this.eventId = eventId
  }
}

/** The store's stored format is not the one this code knows. */
export class SchemaMismatchError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_SCHEMA_MISMATCH', message)
    this.name = 'SchemaMismatchError'
  }
}

export function storeClosedError(kind: string): SluiceError {
  return new SluiceError(
    'SLUICE_STORE_CLOSED',
    `the ${kind} event store is closed; open it again to go on using it`,
  )
}

function describeExpected(expected: ExpectedVersion): string {
  if (expected === 'noStream' || expected === 0) return 'no stream (a new one)'
  if (expected === 'exists') return 'an existing stream'
  if (expected === 'any') return 'any version'
  return `version ${expected}`
}

function describeActual(actual: number): string {
  return actual === 0 ? 'does not exist' : `is at version ${actual}`
}
