/**
 * Several statements in one round trip. node-postgres sends a query only after the previous one
 * has been answered, so a batch written as BEGIN, positions, rows would wait for PostgreSQL
 * three times, and this process could not prepare the next batch in between: each reply has to
 * be read before the next statement leaves. Here every statement of a batch is written at once,
 * in PostgreSQL's extended protocol, with a single Sync at the end:
 *
 *   Parse, Bind, Execute          for each statement
 *   CopyData…, CopyDone           after the Execute of a `COPY … FROM STDIN`
 *   Sync
 *
 * PostgreSQL runs them in order. After an error it skips everything up to the Sync (COPY data
 * included: the protocol says to ignore CopyData outside a COPY), so the statements after a
 * failed one never run. Without a BEGIN among them, the Sync would commit them as one implicit
 * transaction; the sink sends BEGIN first and decides COMMIT or ROLLBACK on the answers.
 */
import type pg from 'pg'

export interface Statement {
  readonly text: string
  /** Parameters in PostgreSQL's text form (arrays as `{1,2}`), or null for NULL. */
  readonly values?: readonly (string | null)[]
  /** The data of a `COPY … FROM STDIN` statement, in COPY's text format. */
  readonly copy?: readonly Buffer[]
}

export interface PipelineResult {
  /** Each statement that completed, in order: its rows (text values) and command tag (`COPY 1000`). */
  readonly done: { readonly rows: (string | null)[][]; readonly command: string }[]
  /**
   * What stopped the pipeline: statement `done.length` failed (with a SQLSTATE) and none after
   * it ran, or the connection failed (no SQLSTATE; the outcome is unknown).
   */
  readonly error?: Error
}

/** Runs `statements` in one round trip. Resolves once PostgreSQL has answered all, or one failed. */
export function runPipeline(
  client: pg.ClientBase,
  statements: readonly Statement[],
): Promise<PipelineResult> {
  return new Promise((resolve) => {
    client.query(new Pipeline(statements, resolve))
  })
}

/** What this file uses of node-postgres' connection (its public type lacks the COPY methods). */
interface WireConnection {
  readonly stream: { cork?(): void; uncork?(): void }
  parse(query: { text: string; types: number[] }): void
  bind(config: { values: readonly (string | null)[] }): void
  execute(config: Record<string, never>): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
  sync(): void
}

/**
 * A node-postgres Submittable: `submit` writes the messages, node-postgres hands it each reply
 * until the ReadyForQuery that answers the Sync — or, on an error, stops at the ErrorResponse
 * (it then reads the ReadyForQuery itself before sending the next query).
 */
class Pipeline implements pg.Submittable {
  readonly #statements: readonly Statement[]
  readonly #resolve: (result: PipelineResult) => void
  readonly #done: { rows: (string | null)[][]; command: string }[] = []
  #rows: (string | null)[][] = []
  #settled = false
  /**
   * node-postgres wraps this when the pool sets `query_timeout`, and the wrapper clears the
   * timer when called: so it is called once the pipeline is answered (as pg-copy-streams does).
   */
  callback: () => void = () => {}

  constructor(statements: readonly Statement[], resolve: (result: PipelineResult) => void) {
    this.#statements = statements
    this.#resolve = resolve
  }

  submit(connection: pg.Connection): void {
    const wire = connection as unknown as WireConnection
    // One write for every message: the batch leaves in as few packets as the socket allows.
    wire.stream.cork?.()
    try {
      for (const s of this.#statements) {
        wire.parse({ text: s.text, types: [] })
        wire.bind({ values: s.values ?? [] })
        wire.execute({})
        if (s.copy) {
          for (const chunk of s.copy) wire.sendCopyFromChunk(chunk)
          wire.endCopyFrom()
        }
      }
      wire.sync()
    } finally {
      wire.stream.uncork?.()
    }
  }

  handleRowDescription(): void {}

  handleDataRow(message: { fields: (string | null)[] }): void {
    this.#rows.push(message.fields)
  }

  handleCommandComplete(message: { text: string }): void {
    this.#done.push({ rows: this.#rows, command: message.text })
    this.#rows = []
  }

  handleEmptyQuery(): void {
    this.handleCommandComplete({ text: '' })
  }

  handlePortalSuspended(): void {}

  // The data went with the Execute; PostgreSQL reads it once it is ready for it.
  handleCopyInResponse(): void {}

  handleCopyData(): void {}

  handleError(error: Error): void {
    this.#settle(error)
  }

  handleReadyForQuery(): void {
    this.#settle(undefined)
  }

  #settle(error: Error | undefined): void {
    if (this.#settled) return
    this.#settled = true
    this.callback()
    this.#resolve(error === undefined ? { done: this.#done } : { done: this.#done, error })
  }
}
