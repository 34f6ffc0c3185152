/**
 * One MQTT connection as the `mqtt()` source needs it: a persistent session (the broker keeps
 * the subscriptions and queues QoS 1 messages while Sluice is away), messages queued for the
 * source to take in batches, and PUBACKs sent only when the source says the messages are
 * durable in Sluice.
 *
 * Deferred acknowledgement. mqtt.js acknowledges a QoS 1 message as soon as its
 * `handleMessage(packet, callback)` calls back, and reads the next packet only then; its
 * `customHandleAcks` hook waits the same way. Holding the callback until the append would
 * allow one message per append. So `handleMessage` calls back at once with an error value,
 * which makes mqtt.js go on to the next packet without sending the PUBACK
 * (handlers/publish.js: `if (err) return done(err)`), and `ack()` sends the PUBACK itself
 * through the client's packet writer once the batch is appended. Packet ids of unacknowledged
 * messages stay reserved at the broker, so that is always safe; `ack` skips messages of an
 * earlier connection, which the broker sends again anyway.
 *
 * Reconnects are ours (mqtt.js's own retry has a fixed period): exponential backoff with
 * jitter, reported through `report`.
 */
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt'
import { backoffMs } from '../status.ts'

export interface MqttMessage {
  topic: string
  payload: Buffer
  qos: number
  retain: boolean
  messageId: number | undefined
  /** The network connection (mqtt.js's stream) that delivered it: a PUBACK is only meaningful on that one. */
  connection: object
}

export interface SessionOptions {
  url: string
  filters: readonly string[]
  qos: 0 | 1
  clientOptions: IClientOptions
  /** Messages held before the broker is slowed down (TCP backpressure). */
  maxQueued: number
  report: (message: string) => void
}

const DEFER_ACK = new Error('PUBACK deferred until the message is appended to Sluice')

export class MqttSession {
  readonly #client: MqttClient
  readonly #options: SessionOptions
  #queue: MqttMessage[] = []
  /** mqtt.js callbacks held while the queue is full: the broker waits until we take messages. */
  #held: (() => void)[] = []
  #wake: (() => void) | undefined
  #failure: Error | undefined
  #lastError: string | undefined
  #attempt = 0
  #closing = false
  #subscribed = false
  #reconnectTimer: NodeJS.Timeout | undefined

  constructor(connect: (url: string, options: IClientOptions) => MqttClient, options: SessionOptions) {
    this.#options = options
    const client = connect(options.url, {
      ...options.clientOptions,
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 0,
      resubscribe: false,
    })
    if (typeof (client as unknown as { _sendPacket?: unknown })._sendPacket !== 'function') {
      client.end(true)
      throw new Error(
        'this version of the mqtt package has no _sendPacket, which the mqtt() source needs to acknowledge ' +
          'messages after they are appended; install mqtt 5.x',
      )
    }
    this.#client = client
    client.handleMessage = (packet, callback) => this.#receive(packet, callback)
    client.on('connect', () => this.#connected())
    client.on('error', (error) => {
      this.#lastError = error.message
    })
    client.on('close', () => this.#closed())
  }

  /**
   * Waits for messages, then lingers up to `lingerMs` while more keep arriving (a gap of 2 ms
   * ends it: the broker may be waiting for acknowledgements). Returns at most `max`; an empty
   * array when `signal` aborted. Throws when the session failed for good.
   */
  async next(max: number, lingerMs: number, signal: AbortSignal): Promise<MqttMessage[]> {
    while (this.#queue.length === 0 && !signal.aborted) {
      this.#throwIfFailed()
      await this.#waitForMessage(signal, undefined)
    }
    const until = Date.now() + lingerMs
    while (this.#queue.length < max && !signal.aborted) {
      const left = until - Date.now()
      if (left <= 0) break
      const before = this.#queue.length
      await this.#waitForMessage(signal, Math.min(left, 2))
      if (this.#queue.length === before) break
    }
    if (signal.aborted) return []
    const batch = this.#queue.splice(0, max)
    while (this.#held.length > 0 && this.#queue.length < this.#options.maxQueued) this.#held.shift()!()
    return batch
  }

  /** Acknowledges the QoS 1 messages among `messages` (all appended) that this connection delivered. */
  ack(messages: readonly MqttMessage[]): void {
    const client = this.#client
    if (!client.connected) return
    const send = (this.#client as unknown as { _sendPacket: (packet: object) => void })._sendPacket.bind(
      this.#client,
    )
    for (const m of messages) {
      if (m.qos > 0 && m.messageId !== undefined && m.connection === client.stream) {
        send({ cmd: 'puback', messageId: m.messageId, reasonCode: 0 })
      }
    }
  }

  async close(): Promise<void> {
    this.#closing = true
    clearTimeout(this.#reconnectTimer)
    // A clean DISCONNECT keeps the session (its expiry was set at CONNECT); force if it hangs.
    await Promise.race([
      this.#client.endAsync(false).catch(() => {}),
      new Promise((r) => setTimeout(r, 2_000).unref()),
    ])
    this.#client.end(true)
  }

  #receive(packet: IPublishPacket, callback: (error?: Error) => void): void {
    this.#queue.push({
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      messageId: packet.messageId,
      // Not a counter bumped on 'connect': mqtt.js emits that only after it has resent its own
      // stored packets, and the broker's redeliveries can arrive before.
      connection: this.#client.stream,
    })
    this.#wake?.()
    const release = () => callback(packet.qos > 0 ? DEFER_ACK : undefined)
    if (this.#queue.length < this.#options.maxQueued) release()
    else this.#held.push(release)
  }

  #connected(): void {
    if (this.#attempt > 0) this.#options.report(`reconnected to ${this.#options.url}`)
    this.#attempt = 0
    this.#lastError = undefined
    const { filters, qos } = this.#options
    // rh: 1 — retained messages only for a new subscription, not again at every reconnect.
    const subscriptions = Object.fromEntries(filters.map((f) => [f, { qos, rh: 1 }]))
    this.#client.subscribe(subscriptions, (error, granted) => {
      if (error) {
        this.#options.report(`subscribing to ${filters.join(', ')} failed: ${error.message}`)
        return
      }
      const refused = (granted ?? []).filter((g) => g.qos >= 128)
      if (refused.length === 0 && !this.#subscribed) {
        this.#subscribed = true
        this.#options.report(`subscribed to ${filters.join(', ')} at ${this.#options.url}`)
      }
      if (refused.length > 0) {
        this.#fail(
          new Error(
            `the broker at ${this.#options.url} refused the subscription to ${refused.map((g) => `"${g.topic}"`).join(', ')} ` +
              `(reason code ${refused[0]!.qos}); check the topic filter and the broker's ACL for this client`,
          ),
        )
      }
    })
  }

  #closed(): void {
    if (this.#closing || this.#reconnectTimer) return
    const delay = backoffMs(this.#attempt++)
    this.#options.report(
      `no connection to ${this.#options.url} (${this.#lastError ?? 'closed'}); reconnecting in ${delay} ms`,
    )
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined
      if (!this.#closing) this.#client.reconnect()
    }, delay)
  }

  #fail(error: Error): void {
    this.#failure = error
    this.#wake?.()
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure
  }

  #waitForMessage(signal: AbortSignal, timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.#wake = undefined
        resolve()
      }
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs)
      this.#wake = done
      signal.addEventListener('abort', done, { once: true })
    })
  }
}
