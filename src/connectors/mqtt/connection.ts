/**
 * One network connection of `mqttSink()`, and the in-flight window on it. It connects with a
 * clean session and never reconnects or resends by itself (mqtt.js would, on its own timing):
 * the publisher decides what a lost connection means. Messages go out in record order, at most
 * as many unacknowledged as the broker's Receive Maximum allows (mqtt.js does not enforce it,
 * and brokers that do disconnect a client that exceeds it), and the broker's other CONNACK
 * limits (Maximum QoS, Retain Available, Maximum Packet Size) are checked before sending.
 */
import type { IClientOptions, MqttClient } from 'mqtt'
import { type Message, MQTT_MAX_PACKET, type Rejection, refusal, tooLarge } from './messages.ts'
import type { Settings } from './sink-options.ts'

/** PUBACK reason codes that mean "not now" rather than "not this message": resent, never dead-lettered. */
const RETRYABLE_REASONS = new Set([0x91 /* packet identifier in use */, 0x97 /* quota exceeded */])

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient

interface Outcome<T> {
  /** Index of the first message not acknowledged: everything from there on is to be sent again. */
  resumeAt: number
  /** Refused for good, among the messages before `resumeAt`. */
  rejected: Rejection<T>[]
  /** Why the connection could not finish the batch; undefined when it did. */
  failure: string | undefined
}

/** One network connection: clean session, no automatic reconnect, limits from the CONNACK. */
export class Connection {
  readonly #client: MqttClient
  readonly #url: string
  #open = true
  #lastError: string | undefined
  readonly #onClose = new Set<() => void>()

  private constructor(client: MqttClient, url: string) {
    this.#client = client
    this.#url = url
    // Without a listener an 'error' event would throw; what it says is kept for the close.
    client.on('error', (error) => {
      this.#lastError = error.message
    })
    client.on('disconnect', (packet) => {
      this.#lastError = `the broker disconnected (reason code 0x${(packet.reasonCode ?? 0).toString(16)})`
    })
    client.on('close', () => {
      this.#open = false
      for (const f of this.#onClose) f()
    })
  }

  static open(
    connect: ConnectFn,
    settings: Settings,
    clientOptions: IClientOptions,
    signal: AbortSignal,
  ): Promise<Connection> {
    const { url, timeoutMs } = settings
    return new Promise((resolve, reject) => {
      signal.throwIfAborted()
      const client = connect(url, {
        ...clientOptions,
        protocolVersion: 5,
        clean: true,
        reconnectPeriod: 0,
        // Fail a QoS 0 publish at once when the connection is gone, rather than queue it.
        queueQoSZero: false,
        // Ours below says what happened; mqtt.js's would only close the stream.
        connectTimeout: timeoutMs * 2,
      })
      const connection = new Connection(client, url)
      const settle = (error?: string) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        connection.#onClose.delete(onClose)
        client.off('connect', onConnect)
        if (error === undefined) return resolve(connection)
        client.end(true)
        reject(new Error(error))
      }
      const onConnect = () => settle()
      const onClose = () =>
        settle(`cannot connect to ${url} (${connection.#lastError ?? 'connection closed'})`)
      const onAbort = () => settle('stopped')
      const timer = setTimeout(() => settle(`no answer from ${url} within ${timeoutMs} ms`), timeoutMs)
      client.on('connect', onConnect)
      connection.#onClose.add(onClose)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  get open(): boolean {
    return this.#open
  }

  /**
   * Sends `messages` in order, keeping at most the broker's Receive Maximum unacknowledged (QoS
   * 1 and 2), and resolves when each is acknowledged or refused, or the connection failed.
   */
  publish<T>(messages: readonly Message<T>[], settings: Settings, signal: AbortSignal): Promise<Outcome<T>> {
    const { qos, retain, timeoutMs } = settings
    const client = this.#client
    const server = client.serverProperties ?? {}
    if (retain && server.retainAvailable === false) {
      return Promise.resolve({
        resumeAt: 0,
        rejected: [],
        failure: `the broker at ${this.#url} does not keep retained messages; set retain: false`,
      })
    }
    if (server.maximumQoS !== undefined && qos > server.maximumQoS) {
      return Promise.resolve({
        resumeAt: 0,
        rejected: [],
        failure: `the broker at ${this.#url} accepts QoS ${server.maximumQoS} at most; set qos to that`,
      })
    }
    const maxPacket = server.maximumPacketSize ?? MQTT_MAX_PACKET
    const window = qos === 0 ? Number.POSITIVE_INFINITY : (server.receiveMaximum ?? 65_535)
    const settled = new Uint8Array(messages.length)
    const rejected: { index: number; rejection: Rejection<T> }[] = []
    return new Promise((resolve) => {
      let next = 0
      let inFlight = 0
      let done = 0
      let pumping = false
      let finished = false
      let timer: NodeJS.Timeout | undefined
      const finish = (failure?: string) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.#onClose.delete(onClose)
        let resumeAt = 0
        while (resumeAt < messages.length && settled[resumeAt] === 1) resumeAt++
        resolve({
          resumeAt,
          // One refused after `resumeAt` is sent again, and refused (and kept) then.
          rejected: rejected.filter((r) => r.index < resumeAt).map((r) => r.rejection),
          failure,
        })
      }
      // The deadline moves with each acknowledgement: a long batch on a slow link is not a dead one.
      const arm = () => {
        clearTimeout(timer)
        timer = setTimeout(
          () => finish(`no acknowledgement from the broker within ${timeoutMs} ms`),
          timeoutMs,
        )
      }
      const onClose = () => finish(`connection lost (${this.#lastError ?? 'closed'})`)
      const onAbort = () => finish('stopped')
      const settle = (index: number, rejection?: Rejection<T>) => {
        settled[index] = 1
        done++
        if (rejection) rejected.push({ index, rejection })
      }
      const pump = () => {
        // mqtt.js calls back synchronously at QoS 0: the loop goes on instead of recursing.
        if (pumping) return
        pumping = true
        while (!finished && inFlight < window && next < messages.length) {
          const index = next++
          const m = messages[index]!
          if (m.packetBytes > maxPacket) {
            settle(index, { record: m.record, error: tooLarge(m, maxPacket, this.#url, server) })
            continue
          }
          inFlight++
          client.publish(m.topic, m.payload, { qos, retain }, (error) => {
            if (finished) return
            inFlight--
            if (error) {
              const code = (error as { code?: unknown }).code
              if (typeof code !== 'number' || code < 0x80 || RETRYABLE_REASONS.has(code)) {
                return finish(`the broker did not take a message: ${error.message}`)
              }
              settle(index, { record: m.record, error: refusal(m, code, error.message, this.#url) })
            } else {
              settle(index)
            }
            arm()
            if (done === messages.length) finish()
            else pump()
          })
        }
        pumping = false
        if (done === messages.length) finish()
      }
      if (!this.#open) return finish(`connection lost (${this.#lastError ?? 'closed'})`)
      this.#onClose.add(onClose)
      signal.addEventListener('abort', onAbort, { once: true })
      arm()
      pump()
    })
  }

  /** A clean DISCONNECT, forced if the broker does not let it finish within 2 s. */
  async end(): Promise<void> {
    // A closed connection has nobody to say goodbye to; mqtt.js would wait the 2 s for nothing.
    if (this.#open) {
      await Promise.race([
        this.#client.endAsync(false).catch(() => {}),
        new Promise((r) => setTimeout(r, 2_000).unref()),
      ])
    }
    this.#client.end(true)
  }

  destroy(): void {
    this.#client.end(true)
  }
}
