/**
 * Records as MQTT messages: each record's topic and payload, and the size of its PUBLISH
 * packet, worked out before anything is sent. A record that can never be a message (no topic,
 * an invalid one, a payload function that fails) is a rejection, dead-lettered with the reason;
 * so is a message the broker cannot take, described here in the words users will see.
 */
import type { SinkRecord } from '../types.ts'
import { count, quote } from './format.ts'
import { topicError } from './topic-template.ts'

/** The MQTT limit: a 1-byte header, a remaining length of at most 4 bytes and 268,435,455 bytes. */
export const MQTT_MAX_PACKET = 1 + 4 + 268_435_455

export interface Message<T> {
  record: SinkRecord<T>
  topic: string
  payload: Buffer
  /** The whole PUBLISH packet, as the broker's Maximum Packet Size counts it. */
  packetBytes: number
}

/** A record the broker will never take, and why: dead-lettered once the batch is acknowledged. */
export type Rejection<T> = { record: SinkRecord<T>; error: string }

/** Each record's topic and payload, or why it has none. */
export function toMessages<T>(
  records: readonly SinkRecord<T>[],
  topicOf: (value: T, record: SinkRecord<T>) => string,
  payloadOf: (value: T, record: SinkRecord<T>) => string | Uint8Array,
  qos: 0 | 1 | 2,
): { messages: Message<T>[]; rejected: Rejection<T>[] } {
  const messages: Message<T>[] = []
  const rejected: Rejection<T>[] = []
  for (const record of records) {
    let topic: string
    try {
      topic = topicOf(record.value, record)
    } catch (error) {
      rejected.push({
        record,
        error: `the record's MQTT topic could not be made: ${(error as Error).message}`,
      })
      continue
    }
    const invalid = topicError(topic)
    if (invalid !== undefined) {
      rejected.push({ record, error: `invalid MQTT topic ${quote(topic)}: ${invalid}` })
      continue
    }
    let payload: Buffer
    try {
      const p = payloadOf(record.value, record)
      if (typeof p === 'string') payload = Buffer.from(p)
      else if (p instanceof Uint8Array) payload = Buffer.from(p.buffer, p.byteOffset, p.byteLength)
      else throw new Error(`it returned ${p === null ? 'null' : typeof p}, not a string or a Uint8Array`)
    } catch (error) {
      rejected.push({
        record,
        error: `the payload for MQTT topic ${quote(topic)} could not be made: ${(error as Error).message}`,
      })
      continue
    }
    messages.push({ record, topic, payload, packetBytes: publishPacketBytes(topic, payload.byteLength, qos) })
  }
  return { messages, rejected }
}

/**
 * The size of an MQTT 5 PUBLISH without properties: fixed header (1 byte + remaining length),
 * topic (2-byte length + UTF-8), packet id (2 bytes, QoS 1 and 2), property length (1 byte: 0)
 * and payload.
 */
function publishPacketBytes(topic: string, payloadBytes: number, qos: 0 | 1 | 2): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + 1 + payloadBytes
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4
  return 1 + lengthBytes + remaining
}

/** Why a message over the packet limit is dead-lettered: the broker's limit, or MQTT's own. */
export function tooLarge<T>(
  m: Message<T>,
  max: number,
  url: string,
  server: { maximumPacketSize?: number },
): string {
  const limit =
    server.maximumPacketSize === undefined
      ? `MQTT allows ${count(max)}`
      : `the broker at ${url} accepts at most ${count(max)} (its Maximum Packet Size)`
  return `the message on ${quote(m.topic)} is ${count(m.packetBytes)} bytes as an MQTT packet (payload ${count(m.payload.byteLength)}); ${limit}`
}

/** Why a message the broker refused (a PUBACK reason code of 0x80 or more) is dead-lettered. */
export function refusal<T>(m: Message<T>, code: number, message: string, url: string): string {
  const reason = message.replace(/^Publish error: /, '')
  return `the broker at ${url} refused the message on ${quote(m.topic)}: ${reason} (reason code 0x${code.toString(16)})`
}
