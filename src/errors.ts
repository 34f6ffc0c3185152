/**
 * Every error Sluice raises on purpose carries a stable `code` (for programs) and a message
 * that names the problem and says what to do next (for people).
 */
export type SluiceErrorCode =
  | 'SLUICE_UNKNOWN_TOPIC'
  | 'SLUICE_TOPIC_EXISTS'
  | 'SLUICE_INVALID_TOPIC_NAME'
  | 'SLUICE_INVALID_ARGUMENT'
  | 'SLUICE_RECORD_TOO_LARGE'
  | 'SLUICE_CORRUPT_BATCH'
  | 'SLUICE_OUT_OF_ORDER_SEQUENCE'
  | 'SLUICE_PRODUCER_FENCED'
  | 'SLUICE_OFFSET_OUT_OF_RANGE'
  | 'SLUICE_DATA_DIR_LOCKED'
  | 'SLUICE_LOG_CLOSED'
  | 'SLUICE_TRANSACTION_STATE'
  /** A group member's work belongs to a generation the group has left: rebuild, then go on. */
  | 'SLUICE_REBALANCED'
  | 'SLUICE_INVALID_INPUT'
  | 'SLUICE_WORKER_FAILED'
  | 'SLUICE_BROKER_UNAVAILABLE'
  /**
   * Client and broker could not establish who is talking: the broker refused the SASL
   * credentials or mechanism, or TLS failed (an untrusted or wrong certificate, TLS on one side only).
   */
  | 'SLUICE_AUTHENTICATION_FAILED'
  /** The broker knows who the client is and denies it the call: an ACL is missing. */
  | 'SLUICE_NOT_AUTHORIZED'
  | 'SLUICE_KAFKA_ERROR'
  /** Event store: an append's expected version did not match the stream's; nothing was written. */
  | 'SLUICE_CONCURRENCY_CONFLICT'
  /** Event store: an event that cannot be stored (no type, a payload that is not JSON, a schema's refusal). */
  | 'SLUICE_INVALID_EVENT'
  | 'SLUICE_UNKNOWN_STREAM'
  /** Event store: an event id already stored by a different append (ids make retries idempotent). */
  | 'SLUICE_DUPLICATE_EVENT_ID'
  /** Event store: the stored schema/format is not the one this code knows (migrate, or upgrade). */
  | 'SLUICE_SCHEMA_MISMATCH'
  | 'SLUICE_STORE_CLOSED'

export class SluiceError extends Error {
  readonly code: SluiceErrorCode

  constructor(code: SluiceErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'SluiceError'
    this.code = code
  }
}

export function isSluiceError(error: unknown, code?: SluiceErrorCode): error is SluiceError {
  return error instanceof SluiceError && (code === undefined || error.code === code)
}
