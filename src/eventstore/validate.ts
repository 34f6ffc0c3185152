/**
 * Everything an append is checked against before either store writes a byte: stream id,
 * expected version, and each event's id, type, data and metadata. Both stores call
 * `prepareAppend`, so a payload refused by one is refused by the other with the same message.
 *
 * Event payloads must be JSON, strictly: what is read back must equal what was written, on
 * LMDB (msgpack) and on PostgreSQL (jsonb) alike. So a Date, a Map, a class instance, NaN or a
 * bigint is refused rather than silently turned into something else, and so are strings that
 * jsonb cannot hold (U+0000, lone surrogates).
 */
import { randomUUID } from 'node:crypto'
import { formatIssues } from '../dsl/schema.ts'
import { SluiceError } from '../errors.ts'
import { InvalidEventError } from './errors.ts'
import type {
  AppendOptions,
  EventStoreOptions,
  ExpectedVersion,
  Metadata,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
} from './types.ts'

export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
/** Most events in one append: an append is one transaction, and a huge one holds everyone up. */
export const MAX_EVENTS_PER_APPEND = 10_000
/** Stream ids, types and event ids are LMDB keys (at most ~1,900 bytes, and a key may hold two of them). */
const MAX_NAME_BYTES = 500
const MAX_DEPTH = 64

/** An expected version, normalised: `version` is the exact version required (kind `version`). */
export type ExpectedCheck =
  | { kind: 'any' }
  | { kind: 'noStream' }
  | { kind: 'exists' }
  | { kind: 'version'; version: number }

export interface PreparedEvent {
  id: string
  type: string
  data: unknown
  metadata: Metadata
  /** `data` and `metadata` as JSON text (what PostgreSQL is sent). */
  dataJson: string
  metadataJson: string
}

export interface PreparedAppend {
  streamId: string
  expected: ExpectedCheck
  /** The caller's form, for error messages. */
  expectedVersion: ExpectedVersion
  events: PreparedEvent[]
}

/** Validates an append; throws `InvalidEventError` (or `SLUICE_INVALID_ARGUMENT`) on the first problem. */
export async function prepareAppend(
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions | undefined,
  storeOptions: EventStoreOptions,
): Promise<PreparedAppend> {
  checkStreamId(streamId)
  // Only a missing option means 'any': a null or NaN from a bug must not turn the check off.
  const expectedVersion = options?.expectedVersion === undefined ? 'any' : options.expectedVersion
  const expected = checkExpected(expectedVersion)
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidEventError('an append needs at least one event (got none)')
  }
  if (events.length > MAX_EVENTS_PER_APPEND) {
    throw new InvalidEventError(
      `an append takes at most ${MAX_EVENTS_PER_APPEND} events (got ${events.length}); split it into several appends`,
    )
  }
  const maxBytes = storeOptions.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  const seen = new Set<string>()
  const prepared: PreparedEvent[] = []
  for (const [i, event] of events.entries()) {
    const p = prepareEvent(event, i, maxBytes)
    if (seen.has(p.id)) throw new InvalidEventError(`event id "${p.id}" appears twice in one append`, i)
    seen.add(p.id)
    const schema = storeOptions.schemas?.[p.type]
    if (schema) {
      const result = await schema['~standard'].validate(p.data)
      if (result.issues) {
        throw new InvalidEventError(
          `data of a "${p.type}" event does not match its schema: ${formatIssues(result.issues)}`,
          i,
        )
      }
    }
    prepared.push(p)
  }
  return { streamId, expected, expectedVersion, events: prepared }
}

export function checkStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId.length === 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `a stream id must be a non-empty string, got ${describe(streamId)}`,
    )
  }
  checkName('stream id', streamId, (message) => new SluiceError('SLUICE_INVALID_ARGUMENT', message))
}

export function checkExpected(expected: unknown): ExpectedCheck {
  if (expected === 'any' || expected === 'noStream' || expected === 'exists') return { kind: expected }
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) {
    return expected === 0 ? { kind: 'noStream' } : { kind: 'version', version: expected }
  }
  throw new SluiceError(
    'SLUICE_INVALID_ARGUMENT',
    `expectedVersion must be 'any', 'noStream', 'exists' or a whole number ≥ 0, got ${describe(expected)}`,
  )
}

function prepareEvent(event: NewEvent, i: number, maxBytes: number): PreparedEvent {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError(`an event must be an object { type, data }, got ${describe(event)}`, i)
  }
  const { type, data, metadata, id } = event as Partial<NewEvent> & Record<string, unknown>
  if (typeof type !== 'string' || type.length === 0) {
    throw new InvalidEventError(`an event needs a non-empty string "type", got ${describe(type)}`, i)
  }
  checkName('event type', type, (m) => new InvalidEventError(m, i))
  if (id !== undefined) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidEventError(`an event id must be a non-empty string, got ${describe(id)}`, i)
    }
    checkName('event id', id, (m) => new InvalidEventError(m, i))
  }
  if (data === undefined) throw new InvalidEventError(`a "${type}" event has no data (use null for none)`, i)
  const problem = jsonProblem(data, 'data', 0, new Set())
  if (problem) throw new InvalidEventError(`a "${type}" event is not JSON: ${problem}`, i)
  let meta: Metadata = {}
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) {
      throw new InvalidEventError(`metadata must be a plain object, got ${describe(metadata)}`, i)
    }
    const metaProblem = jsonProblem(metadata, 'metadata', 0, new Set())
    if (metaProblem)
      throw new InvalidEventError(`a "${type}" event's metadata is not JSON: ${metaProblem}`, i)
    meta = metadata
  }
  const dataJson = JSON.stringify(data)
  const metadataJson = JSON.stringify(meta)
  const bytes = Buffer.byteLength(dataJson) + Buffer.byteLength(metadataJson) + Buffer.byteLength(type)
  if (bytes > maxBytes) {
    throw new InvalidEventError(
      `a "${type}" event is ${bytes} bytes as JSON, over the limit of ${maxBytes} (maxEventBytes); ` +
        'store large payloads elsewhere and put a reference in the event',
      i,
    )
  }
  return { id: id ?? randomUUID(), type, data, metadata: meta, dataJson, metadataJson }
}

function checkName(what: string, value: string, error: (message: string) => Error): void {
  const bytes = Buffer.byteLength(value)
  if (bytes > MAX_NAME_BYTES) {
    throw error(`the ${what} is ${bytes} bytes long (UTF-8); at most ${MAX_NAME_BYTES} are allowed`)
  }
  if (value.includes('\0') || !value.isWellFormed()) {
    throw error(
      `the ${what} ${JSON.stringify(value)} contains U+0000 or a lone surrogate, which cannot be stored`,
    )
  }
}

/** Why `value` is not strict JSON (with the path to the first offending part), or undefined. */
export function jsonProblem(
  value: unknown,
  path: string,
  depth: number,
  ancestors: Set<object>,
): string | undefined {
  switch (typeof value) {
    case 'string':
      return value.includes('\0') || !value.isWellFormed()
        ? `${path} is a string with U+0000 or a lone surrogate, which PostgreSQL's jsonb cannot hold`
        : undefined
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot represent`
    case 'object': {
      if (value === null) return undefined
      if (depth >= MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} levels deep`
      if (ancestors.has(value)) return `${path} refers back to itself (a cycle)`
      ancestors.add(value)
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            if (!(i in value) || value[i] === undefined) return `${path}[${i}] is undefined (use null)`
            const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1, ancestors)
            if (p) return p
          }
          return undefined
        }
        if (!isPlainObject(value)) {
          const name = (value as object).constructor?.name ?? 'object'
          return `${path} is a ${name}, not a plain object; convert it first (a Date to an ISO string, a Map to an object)`
        }
        for (const [key, v] of Object.entries(value)) {
          if (key.includes('\0') || !key.isWellFormed())
            return `${path} has a key with U+0000 or a lone surrogate`
          // JSON drops undefined properties; so does the store (reading it back gives undefined too).
          if (v === undefined) continue
          const p = jsonProblem(v, `${path}.${key}`, depth + 1, ancestors)
          if (p) return p
        }
        return undefined
      } finally {
        ancestors.delete(value)
      }
    }
    default:
      return `${path} is a ${typeof value}, which JSON cannot represent`
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}

/** Read options, checked and with defaults filled in. */
export interface StreamRange {
  backward: boolean
  /** Forward: first version; backward: highest version (Infinity: from the end). */
  from: number
  /** Forward: last version (inclusive). */
  to: number
  maxCount: number
}

export function checkReadStream(options: ReadStreamOptions | undefined): StreamRange {
  const backward = options?.direction === 'backward'
  if (options?.direction !== undefined && options.direction !== 'forward' && !backward) {
    throw invalidArgument(`direction must be 'forward' or 'backward', got ${describe(options.direction)}`)
  }
  const from = wholeOption('fromVersion', options?.fromVersion, 1) ?? (backward ? Infinity : 1)
  const to = wholeOption('toVersion', options?.toVersion, 0) ?? Infinity
  const maxCount = wholeOption('maxCount', options?.maxCount, 1) ?? Infinity
  return { backward, from, to, maxCount }
}

export interface AllRange {
  after: number
  limit: number
  types: ReadonlySet<string> | undefined
  streamPrefix: string | undefined
}

export const DEFAULT_PAGE = 1_000

export function checkReadAll(options: ReadAllOptions | undefined): AllRange {
  const after = wholeOption('after', options?.after, 0) ?? 0
  const limit = wholeOption('limit', options?.limit, 1) ?? DEFAULT_PAGE
  let types: Set<string> | undefined
  if (options?.types !== undefined) {
    if (!Array.isArray(options.types) || options.types.some((t) => typeof t !== 'string')) {
      throw invalidArgument('types must be an array of event type names')
    }
    types = new Set(options.types)
  }
  const prefix = options?.streamPrefix
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw invalidArgument(`streamPrefix must be a string, got ${describe(prefix)}`)
  }
  return { after, limit, types, streamPrefix: prefix === '' ? undefined : prefix }
}

function wholeOption(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(`${name} must be a whole number ≥ ${min}, got ${describe(value)}`)
  }
  return value
}

function invalidArgument(message: string): SluiceError {
  return new SluiceError('SLUICE_INVALID_ARGUMENT', message)
}
