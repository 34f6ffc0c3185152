/** What the connector runners share: status figures, backoff and dead-letter headers. */

export interface ConnectorStatus {
  readonly name: string
  readonly kind: 'sink' | 'source'
  /** The connector's type (`postgres`, `mqtt`, …). */
  readonly type: string
  readonly topic: string
  /** `retrying` after a failed write or a source error; `done` when a read-once source ended. */
  state: 'starting' | 'running' | 'retrying' | 'done' | 'stopped'
  /** Records written (sinks) or appended (sources). */
  records: number
  deadLetters: number
  errors: number
  lastError: string | undefined
}

export function newStatus(
  name: string,
  kind: 'sink' | 'source',
  type: string,
  topic: string,
): ConnectorStatus {
  return {
    name,
    kind,
    type,
    topic,
    state: 'starting',
    records: 0,
    deadLetters: 0,
    errors: 0,
    lastError: undefined,
  }
}

/** 100 ms, doubling, at most 30 s, with ±20% jitter so retrying workers do not move in step. */
export function backoffMs(attempt: number): number {
  const base = Math.min(30_000, 100 * 2 ** Math.min(attempt, 20))
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/** Headers of a connector's dead letter; the same names as a pipeline's dead letters. */
export function deadLetterHeaders(connector: string, error: string): Record<string, string> {
  return { 'sluice-error': error.slice(0, 2000), 'sluice-connector': connector }
}
