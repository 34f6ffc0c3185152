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
