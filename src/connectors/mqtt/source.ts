/**
 * `mqtt()`: a source subscribing to MQTT topic filters (with `+` and `#` wildcards) and
 * appending each message to a Sluice topic.
 * @example
 * connect('readings-in', { from: mqtt({ url: 'mqtt://127.0.0.1:1883', topics: ['sensors/+/temp'] }), to: readings })
 */
import type { IClientOptions } from 'mqtt'
import { SluiceError } from '../../errors.ts'
import type { Source, SourceContext, SourceDeadLetter, SourceRecord } from '../types.ts'
import { type MqttMessage, MqttSession } from './session.ts'

export interface MqttSourceOptions<T> {
  /** `mqtt://host:1883`, `mqtts://…` (TLS), `ws://…` or `wss://…`. */
  url: string
  /** Topic filters to subscribe to; `+` matches one level, `#` the rest (`sensors/+/temp`, `plant/#`). */
  topics: readonly string[]
  /** 1 (default): at-least-once, acknowledged after the append. 0: at-most-once, nothing acknowledged. */
  qos?: 0 | 1
  /** The MQTT client id (default `sluice-<connector name>`): the broker keeps the session under it. */
  clientId?: string
  username?: string | undefined
  password?: string | undefined
  /**
   * How a payload becomes the record value: `json` (default), `text` (UTF-8), or a function.
   * A payload that fails goes to `<connector>-dlq` with the error; the source goes on.
   */
  parse?: 'json' | 'text' | ((payload: Buffer, mqttTopic: string) => T)
  /**
   * The record key. Default: the MQTT topic, so each device's messages stay in order on one
   * partition. Return `undefined` to let the Sluice topic's own `key` function decide.
   */
  key?: (mqttTopic: string, value: T) => string | null | undefined
  /** Most messages per append (default 500). */
  batchSize?: number
  /** Longest wait for a batch to fill while messages keep coming, ms (default 20). */
  lingerMs?: number
  /** How long the broker keeps the session (subscriptions, queued messages) while Sluice is away, s (default 7 days). */
  sessionExpirySeconds?: number
  /** More mqtt.js options: TLS (`ca`, `cert`, `key`, `rejectUnauthorized`), `keepalive`, `connectTimeout`… */
  clientOptions?: Omit<
    IClientOptions,
    'clean' | 'clientId' | 'protocolVersion' | 'reconnectPeriod' | 'resubscribe'
  >
}

/**
 * QoS 1 (default) with a persistent session: messages published while Sluice is stopped are
 * delivered when it starts again, and a message is acknowledged to the broker (PUBACK) only
 * after Sluice appended it durably — nothing acknowledged is lost. At-least-once: a message
 * appended but not yet acknowledged when the connection or the process dies is delivered and
 * appended again. Reconnects with exponential backoff, reported on the connector's status.
 */
export function mqtt<T = unknown>(options: MqttSourceOptions<T>): Source<T> {
  check(options)
  const qos = options.qos ?? 1
  const batchSize = options.batchSize ?? 500
  const lingerMs = options.lingerMs ?? 20
  const parse = options.parse ?? 'json'
  return {
    role: 'source',
    type: 'mqtt',
    async run(context: SourceContext<T>) {
      // Loaded on first use: `import 'sluice'` should not pay for an MQTT client it may not need.
      const { connect } = await import('mqtt')
      const maxQueued = batchSize * 2
      const session = new MqttSession(connect, {
        url: options.url,
        filters: options.topics,
        qos,
        maxQueued,
        report: context.report,
        clientOptions: {
          ...options.clientOptions,
          clientId: options.clientId ?? `sluice-${context.connector}`,
          ...(options.username !== undefined ? { username: options.username } : {}),
          ...(options.password !== undefined ? { password: options.password } : {}),
          properties: {
            ...options.clientOptions?.properties,
            sessionExpiryInterval: options.sessionExpirySeconds ?? 7 * 24 * 3600,
            // How many unacknowledged QoS 1 messages the broker may send ahead (MQTT 5).
            receiveMaximum: Math.min(65_535, maxQueued),
          },
        },
      })
      try {
        while (!context.signal.aborted) {
          const messages = await session.next(batchSize, lingerMs, context.signal)
          if (messages.length === 0) continue
          const { records, deadLetters } = toRecords(messages, parse, options.key)
          await context.append(records, { deadLetters })
          session.ack(messages)
        }
      } finally {
        await session.close()
      }
    },
  }
}

function toRecords<T>(
  messages: readonly MqttMessage[],
  parse: NonNullable<MqttSourceOptions<T>['parse']>,
  key: MqttSourceOptions<T>['key'],
): { records: SourceRecord<T>[]; deadLetters: SourceDeadLetter[] } {
  const records: SourceRecord<T>[] = []
  const deadLetters: SourceDeadLetter[] = []
  for (const m of messages) {
    const headers: Record<string, string> = { 'mqtt-topic': m.topic }
    if (m.retain) headers['mqtt-retain'] = 'true'
    let value: T
    try {
      value =
        parse === 'json'
          ? (JSON.parse(m.payload.toString('utf8')) as T)
          : parse === 'text'
            ? (m.payload.toString('utf8') as T)
            : parse(m.payload, m.topic)
    } catch (error) {
      const how =
        parse === 'json'
          ? `is not valid JSON (${(error as Error).message}); publish JSON, or set parse: 'text' or a function`
          : `could not be parsed: ${(error as Error).message}`
      deadLetters.push({
        value: m.payload,
        key: m.topic,
        headers,
        error: `MQTT message on "${m.topic}" ${how}`,
      })
      continue
    }
    const record: SourceRecord<T> = { value, headers }
    const k = key ? key(m.topic, value) : m.topic
    if (k !== undefined) record.key = k
    records.push(record)
  }
  return { records, deadLetters }
}

function check<T>(options: MqttSourceOptions<T>): void {
  const fail = (message: string) => {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `mqtt: ${message}`)
  }
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(options.url ?? '')) {
    fail(`url must look like mqtt://host:1883 (or mqtts://, ws://, wss://), got "${options.url}"`)
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    fail("give at least one topic filter, e.g. topics: ['sensors/+/temp']")
  }
  for (const f of options.topics) {
    const levels = f.split('/')
    const bad =
      f === '' ||
      levels.some(
        (l, i) =>
          (l.includes('#') && (l !== '#' || i !== levels.length - 1)) || (l.includes('+') && l !== '+'),
      )
    if (bad) fail(`"${f}" is not a valid topic filter: + must be a whole level and # the whole last level`)
  }
  if (options.qos !== undefined && options.qos !== 0 && options.qos !== 1)
    fail(`qos must be 0 or 1, got ${options.qos}`)
  for (const k of ['batchSize', 'lingerMs', 'sessionExpirySeconds'] as const) {
    const v = options[k]
    if (v !== undefined && !(Number.isInteger(v) && v >= (k === 'batchSize' ? 1 : 0))) {
      fail(`${k} must be a ${k === 'batchSize' ? 'positive' : 'non-negative'} integer, got ${v}`)
    }
  }
}
