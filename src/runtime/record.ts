/** A record inside a running pipeline: decoded value, string key, event time. */
export interface StreamRecord {
  key: string | null
  value: unknown
  timestamp: number
}

/** Where the record being processed came from (for dead letters and error messages). */
export interface RecordOrigin {
  topic: string
  partition: number
  offset: number
  key: Uint8Array | null
  value: Uint8Array | null
}

/** An error thrown by a user function, tagged with the step it happened in. */
export class OperatorError extends Error {
  readonly operator: string

  constructor(operator: string, cause: unknown) {
    super(`step "${operator}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'OperatorError'
    this.operator = operator
  }
}
