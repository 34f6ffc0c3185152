/**
 * The sink's connection to the broker across losses, and the resend that makes a batch
 * at-least-once. When a connection dies (or stops acknowledging for `timeoutMs`), it is dropped
 * with whatever it held in flight, and the write resends on a new connection everything from
 * the first unacknowledged message on — also the acknowledged ones after it, so that the last
 * message a device receives on a topic is still the last record's (a thermostat told "cool"
 * then "auto" must not end on "cool" because "cool" was resent). After `retries` such attempts
 * the write fails and the sink runner retries the whole batch with its backoff, which shows on
 * the connector's status.
 */
import type { IClientOptions } from 'mqtt'
import { backoffMs, sleep } from '../status.ts'
import { type ConnectFn, Connection } from './connection.ts'
import type { Message, Rejection } from './messages.ts'
import type { Settings } from './sink-options.ts'

/** The sink's connection to the broker, opened again after each loss; publishes a batch with retries. */
export class Publisher {
  readonly #connect: ConnectFn
  readonly #settings: Settings
  readonly #clientOptions: IClientOptions
  #connection: Promise<Connection> | undefined

  constructor(connect: ConnectFn, settings: Settings, clientOptions: IClientOptions) {
    this.#connect = connect
    this.#settings = settings
    this.#clientOptions = clientOptions
  }

  warmUp(signal: AbortSignal): void {
    this.#connected(signal).catch(() => {})
  }

  /**
   * Publishes `messages` in order; resolves with those the broker will never take, once it has
   * acknowledged all the others. Throws when they could not all be acknowledged in `retries + 1`
   * connections (or `signal` aborted): the caller's batch is then not written.
   */
  async publish<T>(messages: readonly Message<T>[], signal: AbortSignal): Promise<Rejection<T>[]> {
    const { url, retries } = this.#settings
    const rejected: Rejection<T>[] = []
    let pending = messages
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted()
      let failure: string
      try {
        const connection = await this.#connected(signal)
        const outcome = await connection.publish(pending, this.#settings, signal)
        rejected.push(...outcome.rejected)
        if (outcome.failure === undefined) return rejected
        failure = outcome.failure
        pending = pending.slice(outcome.resumeAt)
        // Whatever it still holds in flight dies with it; those messages are in `pending`.
        this.#drop(connection)
      } catch (error) {
        signal.throwIfAborted()
        failure = (error as Error).message
        this.#connection = undefined
      }
      if (attempt >= retries) {
        throw new Error(
          `mqtt: ${pending.length} of ${messages.length} messages not acknowledged by ${url} after ` +
            `${attempt + 1} connection${attempt === 0 ? '' : 's'}; last: ${failure}`,
        )
      }
      await sleep(backoffMs(attempt), signal)
    }
  }

  async close(): Promise<void> {
    const connection = await this.#connection?.catch(() => undefined)
    this.#connection = undefined
    await connection?.end()
  }

  #connected(signal: AbortSignal): Promise<Connection> {
    const current = this.#connection
    if (current) {
      // A connection that closed while idle is replaced; a failed attempt is retried.
      return current.then(
        (c) => (c.open ? c : this.#reconnect(signal)),
        () => this.#reconnect(signal),
      )
    }
    return this.#reconnect(signal)
  }

  #reconnect(signal: AbortSignal): Promise<Connection> {
    const next = Connection.open(this.#connect, this.#settings, this.#clientOptions, signal)
    this.#connection = next
    return next
  }

  #drop(connection: Connection): void {
    connection.destroy()
    this.#connection = undefined
  }
}
