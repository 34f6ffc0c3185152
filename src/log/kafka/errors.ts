import { isSluiceError, SluiceError } from '../../errors.ts'
import { authenticationFailed, type Identity, notAuthorized, tlsFailed } from './access-errors.ts'

/**
 * What a failed Kafka call was about, for the message: the operation in words ("create topic
 * orders"), the resources it touched, and who the client is.
 */
export interface ErrorContext {
  what: string
  brokers: readonly string[]
  topic?: string
  group?: string
  transactionalId?: string
  /** The ACL operation the call needs on its topic (Kafka's names: Read, Write…); default Describe. */
  operation?: string
  /** How the client authenticates: who the broker refused, or whom to grant an ACL. */
  identity?: Identity
}

/** What `walk` found in an error tree. */
export interface Found {
  /** Kafka protocol error names (`apiId`), e.g. `TOPIC_ALREADY_EXISTS`. */
  ids: Set<string>
  network: Error | null
  authentication: boolean
  /** A TLS error of Node's (an untrusted certificate…), or the client's "Broker requires TLS". */
  tls: (Error & { code?: unknown }) | null
  unknownTopic: boolean
  messages: string[]
}

/** Node's codes for TLS failures: OpenSSL's (ERR_SSL_*), certificate checks, host name checks. */
const TLS_CODE = /^ERR_(SSL|TLS)_|CERT|^UNABLE_TO_|SELF_SIGNED/

/**
 * The client reports a failure as a tree: `MultipleErrors` of retries, each a `ResponseError`
 * holding one `ProtocolError` per failed partition, or a `NetworkError` with the socket error
 * as its cause. Everything we map on is somewhere in that tree.
 */
function walk(error: unknown, found: Found, depth = 0): void {
  if (depth > 8 || !(error instanceof Error)) return
  const e = error as Error & { apiId?: unknown; code?: unknown; errors?: unknown }
  if (typeof e.apiId === 'string') found.ids.add(e.apiId)
  if (e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT') found.network ??= e
  if (e.code === 'PLT_KFK_AUTHENTICATION') found.authentication = true
  if (typeof e.code === 'string' && TLS_CODE.test(e.code)) found.tls ??= e
  if (e.code === 'PLT_KFK_USER') {
    // Metadata for a missing topic fails with a plain user error, not a protocol error.
    if (/^Unknown topic/.test(e.message)) found.unknownTopic = true
    // A plaintext client meeting a TLS listener, or a TLS client a plaintext one.
    if (/requires TLS|TLS handshake failed/.test(e.message)) found.tls ??= e
  }
  if (Array.isArray(e.errors)) for (const inner of e.errors) walk(inner, found, depth + 1)
  else found.messages.push(e.message)
  if (e.cause) walk(e.cause, found, depth + 1)
}

export function kafkaErrorIds(error: unknown): Set<string> {
  return find(error).ids
}

function find(error: unknown): Found {
  const found: Found = {
    ids: new Set(),
    network: null,
    authentication: false,
    tls: null,
    unknownTopic: false,
    messages: [],
  }
  walk(error, found)
  return found
}

export function brokerUnavailable(brokers: readonly string[], what: string, cause?: unknown): SluiceError {
  const detail = cause instanceof Error ? ` (${rootMessage(cause)})` : ''
  return new SluiceError(
    'SLUICE_BROKER_UNAVAILABLE',
    `cannot ${what}: no Kafka broker answers at ${brokers.join(',')}${detail}. ` +
      'Start one (bash scripts/kafka.sh start) or check the broker address (KAFKA_BROKERS)',
    cause === undefined ? undefined : { cause },
  )
}

export function unknownTopic(topic: string, brokers: readonly string[], cause?: unknown): SluiceError {
  return new SluiceError(
    'SLUICE_UNKNOWN_TOPIC',
    `unknown topic "${topic}" on Kafka at ${brokers.join(',')}: create it first (sluice topics create ${topic} --partitions N)`,
    cause === undefined ? undefined : { cause },
  )
}

export function rootMessage(error: Error): string {
  let e: unknown = error
  for (let i = 0; i < 8; i++) {
    const next =
      (e as { errors?: unknown[]; cause?: unknown }).errors?.[0] ?? (e as { cause?: unknown }).cause
    if (!(next instanceof Error)) break
    e = next
  }
  return (e as Error).message
}

/** Turns whatever the Kafka client threw into a SluiceError with a stable code and advice. */
export function toSluiceError(error: unknown, context: ErrorContext): SluiceError {
  if (isSluiceError(error)) return error
  return fromFound(find(error), context, error)
}

/** The SluiceError for an error code a response carries per partition (Fetch), by its name. */
export function partitionError(id: string, context: ErrorContext): SluiceError {
  return fromFound(
    {
      ids: new Set([id]),
      network: null,
      authentication: false,
      tls: null,
      unknownTopic: false,
      messages: [],
    },
    context,
    undefined,
  )
}

function fromFound(found: Found, context: ErrorContext, error: unknown): SluiceError {
  const { ids } = found
  const options = error === undefined ? undefined : { cause: error }
  const topic = context.topic ?? '?'
  if (ids.has('TOPIC_ALREADY_EXISTS')) {
    return new SluiceError(
      'SLUICE_TOPIC_EXISTS',
      `topic "${topic}" already exists on Kafka; describe it or delete it first`,
      options,
    )
  }
  // Before the unknown topic: a topic the client may not describe also looks missing to it.
  const denied = notAuthorized(ids, context, options)
  if (denied) return denied
  if (found.unknownTopic || ids.has('UNKNOWN_TOPIC_OR_PARTITION') || ids.has('UNKNOWN_TOPIC_ID')) {
    return unknownTopic(topic, context.brokers, error)
  }
  if (ids.has('OFFSET_OUT_OF_RANGE')) {
    return new SluiceError(
      'SLUICE_OFFSET_OUT_OF_RANGE',
      `cannot ${context.what}: the offset is outside what Kafka stores for the partition; read from earliest or latest instead`,
      options,
    )
  }
  if (
    ids.has('PRODUCER_FENCED') ||
    ids.has('INVALID_PRODUCER_EPOCH') ||
    ids.has('TRANSACTIONAL_ID_NOT_FOUND')
  ) {
    const who = context.transactionalId ? `transactional id "${context.transactionalId}"` : 'this producer'
    return new SluiceError(
      'SLUICE_PRODUCER_FENCED',
      `cannot ${context.what}: ${who} was fenced by a newer producer with the same id; ` +
        'this instance is a zombie and must stop (its open transaction was aborted)',
      options,
    )
  }
  if (ids.has('MESSAGE_TOO_LARGE') || ids.has('RECORD_LIST_TOO_LARGE')) {
    return new SluiceError(
      'SLUICE_RECORD_TOO_LARGE',
      `cannot ${context.what}: Kafka rejected a record batch as too large for topic "${topic}"; ` +
        'make the records smaller, or create the topic with a larger maxRecordBytes (max.message.bytes)',
      options,
    )
  }
  if (ids.has('INVALID_RECORD')) {
    return new SluiceError(
      'SLUICE_INVALID_INPUT',
      `cannot ${context.what}: Kafka rejected a record of topic "${topic}" (${found.messages.at(-1) ?? 'invalid record'}); ` +
        'compacted topics need a key on every record',
      options,
    )
  }
  for (const id of [
    'INVALID_PARTITIONS',
    'INVALID_REPLICATION_FACTOR',
    'INVALID_CONFIG',
    'INVALID_TOPIC_EXCEPTION',
  ]) {
    if (ids.has(id)) {
      return new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `cannot ${context.what}: Kafka answered ${id} (${found.messages.at(-1) ?? ''}); fix the topic settings`,
        options,
      )
    }
  }
  if (found.tls) return tlsFailed(found.tls, context, options)
  if (
    found.authentication ||
    ids.has('SASL_AUTHENTICATION_FAILED') ||
    ids.has('UNSUPPORTED_SASL_MECHANISM')
  ) {
    return authenticationFailed(found.messages.at(-1) ?? 'authentication failed', context, options)
  }
  if (found.network && ids.size === 0) return brokerUnavailable(context.brokers, context.what, error)
  const names =
    ids.size > 0 ? [...ids].join(', ') : error instanceof Error ? rootMessage(error) : String(error)
  return new SluiceError('SLUICE_KAFKA_ERROR', `cannot ${context.what}: Kafka failed with ${names}`, options)
}
