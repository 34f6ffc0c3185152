/**
 * The options of `mqttSink()`, their defaults, and the check that refuses options which cannot
 * work when the pipeline is declared, with what to give instead, rather than at the first write.
 */
import type { IClientOptions } from 'mqtt'
import { SluiceError } from '../../errors.ts'
import type { SinkRecord } from '../types.ts'

export interface MqttSinkOptions<T> {
  /** `mqtt://host:1883`, `mqtts://…` (TLS), `ws://…` or `wss://…`. */
  url: string
  /**
   * The MQTT topic of a record: a function, or a template whose `{field}` (or `{a.b}`)
   * placeholders take the record value's fields, e.g. `'devices/{device}/set'`. A record whose
   * topic cannot be made (the function throws, a field is missing) or is not a valid MQTT topic
   * (empty, a `+` or `#` wildcard, over 65,535 bytes) goes to `<connector>-dlq`.
   */
  topic: string | ((value: T, record: SinkRecord<T>) => string)
  /** 1 (default) or 2: at-least-once, acknowledged before the offsets commit. 0: at-most-once. */
  qos?: 0 | 1 | 2
  /** Publish as retained messages: the broker keeps each topic's last one for new subscribers. */
  retain?: boolean
  /** The message body (default: the value as JSON). */
  payload?: (value: T, record: SinkRecord<T>) => string | Uint8Array
  /** The MQTT client id (default `sluice-<connector name>-<random>`: workers sharing the sink must not share an id). */
  clientId?: string
  username?: string | undefined
  password?: string | undefined
  /** Most records per write (default 500). */
  batchSize?: number
  /** Longest wait to connect, and for the next acknowledgement while some are due, ms (default 10,000). */
  timeoutMs?: number
  /** New connections a write tries after its first before it fails and Sluice retries the batch (default 3). */
  retries?: number
  /** More mqtt.js options: TLS (`ca`, `cert`, `key`, `rejectUnauthorized`), `keepalive`, `properties`… */
  clientOptions?: Omit<
    IClientOptions,
    'clean' | 'clientId' | 'protocolVersion' | 'reconnectPeriod' | 'queueQoSZero' | 'username' | 'password'
  >
}

/** The checked options with their defaults filled in: what the publisher and its connections read. */
export interface Settings {
  url: string
  qos: 0 | 1 | 2
  retain: boolean
  batchSize: number
  timeoutMs: number
  retries: number
}

export function checkOptions<T>(options: MqttSinkOptions<T>): Settings {
  const fail = (message: string): never => {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `mqttSink: ${message}`)
  }
  if (!/^(mqtts?|wss?|tcp|ssl):\/\//.test(options.url ?? '')) {
    fail(`url must look like mqtt://host:1883 (or mqtts://, ws://, wss://), got "${options.url}"`)
  }
  if (typeof options.topic !== 'string' && typeof options.topic !== 'function') {
    fail("give topic: a function of the value, or a template such as 'devices/{device}/set'")
  }
  const qos = options.qos ?? 1
  if (qos !== 0 && qos !== 1 && qos !== 2) fail(`qos must be 0, 1 or 2, got ${qos}`)
  if (options.payload !== undefined && typeof options.payload !== 'function') {
    fail('payload must be a function of the value returning a string or a Uint8Array')
  }
  const integer = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) {
      fail(`${name} must be ${min === 0 ? '0 or more' : 'a positive integer'}, got ${v}`)
    }
    return v
  }
  return {
    url: options.url,
    qos,
    retain: options.retain === true,
    batchSize: integer('batchSize', options.batchSize ?? 500, 1),
    timeoutMs: integer('timeoutMs', options.timeoutMs ?? 10_000, 1),
    retries: integer('retries', options.retries ?? 3, 0),
  }
}
