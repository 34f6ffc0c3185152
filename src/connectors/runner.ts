/**
 * Runs the connectors of a file beside its pipelines, on the same log. Each connector runs on
 * its own until `stop()`; one failing never stops the others (it retries with backoff and
 * says so in its status).
 */
import type { Log } from '../log/types.ts'
import type { Connector } from './connect.ts'
import { runSink } from './sink-runner.ts'
import { runSource } from './source-runner.ts'
import { type ConnectorStatus, newStatus } from './status.ts'

export interface ConnectorRunnerOptions {
  /** Messages from sources and failures (default: none). */
  report?: (message: string) => void
}

export class ConnectorRunner {
  readonly #log: Log
  readonly #connectors: readonly Connector[]
  readonly #options: ConnectorRunnerOptions
  readonly #abort = new AbortController()
  readonly #statuses: ConnectorStatus[]
  #running: Promise<void>[] = []

  constructor(log: Log, connectors: readonly Connector[], options: ConnectorRunnerOptions = {}) {
    const names = new Set<string>()
    for (const c of connectors) {
      if (names.has(c.name)) throw new TypeError(`two connectors are named "${c.name}"; names must be unique`)
      names.add(c.name)
    }
    this.#log = log
    this.#connectors = connectors
    this.#options = options
    this.#statuses = connectors.map((c) =>
      newStatus(c.name, c.kind, c.kind === 'sink' ? c.sink.type : c.source.type, c.topic.name),
    )
  }

  /** Starts every connector; resolves at once (connectors open in the background). */
  start(): void {
    const signal = this.#abort.signal
    this.#running = this.#connectors.map(async (c, i) => {
      const status = this.#statuses[i]!
      try {
        if (c.kind === 'sink') {
          await runSink(this.#log, c, { signal, status })
        } else {
          await runSource(this.#log, c, {
            signal,
            status,
            ...(this.#options.report ? { report: this.#options.report } : {}),
          })
        }
      } catch (error) {
        if (signal.aborted) return
        status.state = 'stopped'
        status.lastError = (error as Error).message
        this.#options.report?.(`connector ${c.name} stopped: ${(error as Error).message}`)
        throw error
      } finally {
        if (status.state !== 'done') status.state = 'stopped'
      }
    })
  }

  status(): ConnectorStatus[] {
    return this.#statuses.map((s) => ({ ...s }))
  }

  /** Stops every connector (each finishes or abandons its current batch) and waits for them. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await Promise.allSettled(this.#running)
  }

  /** Resolves when every connector has ended (read-once sources) or stopped; rejects with the first failure. */
  async whenDone(): Promise<void> {
    await Promise.all(this.#running)
  }
}
