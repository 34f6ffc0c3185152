/**
 * `mqttSink()`: a sink publishing each record of a topic to an MQTT broker, on an MQTT topic
 * taken from the record — commands back to devices when a threshold is crossed.
 * @example
 * connect('commands-out', {
 *   from: commands,
 *   to: mqttSink({ url: 'mqtt://127.0.0.1:1883', topic: (c) => `devices/${c.device}/set` }),
 * })
 *
 * Acknowledgement before commit. `write` resolves once the broker has acknowledged every
 * message of the batch (PUBACK at QoS 1, PUBCOMP at QoS 2); only then does Sluice commit the
 * batch's offsets. A connection lost before that is replaced and the batch resent from its
 * first unacknowledged message (publisher.ts); after `retries` new connections the write fails
 * and the sink runner retries the batch.
 *
 * What the broker can never take (a topic that is not a valid MQTT topic, a packet over the
 * broker's Maximum Packet Size, a PUBACK refusing the message) goes to `<connector>-dlq` once
 * the rest of the batch is acknowledged: a write that fails dead-letters nothing, so its retry
 * does not dead-letter twice.
 *
 * Imports go one way: sink.ts → publisher.ts (reconnect and resend) → connection.ts (one
 * connection, its in-flight window) → messages.ts (records as messages, and why one is
 * rejected) → topic-template.ts (valid topics, `{field}` templates) → format.ts; the options,
 * their defaults and checks are in sink-options.ts, which imports none of them.
 */
import { randomBytes } from 'node:crypto'
import type { Sink, SinkBatch, SinkContext, SinkRecord } from '../types.ts'
import { type Rejection, toMessages } from './messages.ts'
import { Publisher } from './publisher.ts'
import { checkOptions, type MqttSinkOptions } from './sink-options.ts'
import { compileTemplate } from './topic-template.ts'

/**
 * At-least-once with QoS 1 and 2: a batch counts as written once the broker acknowledged each
 * of its messages, so nothing Sluice moves past is lost; a connection lost before that (or a
 * crash before Sluice commits) publishes messages again, so give receivers an id to drop
 * repeats by. With QoS 0 a batch counts as written once it is handed to the connection: the
 * broker may never have it (at-most-once).
 */
export function mqttSink<T = unknown>(options: MqttSinkOptions<T>): Sink<T> {
  const settings = checkOptions(options)
  const topicOf = typeof options.topic === 'string' ? compileTemplate<T>(options.topic) : options.topic
  const payloadOf = options.payload ?? ((value: T) => JSON.stringify(value))
  let context: SinkContext | undefined
  let publisher: Publisher | undefined
  return {
    role: 'sink',
    type: 'mqtt',
    guarantee: 'at-least-once',
    batchSize: settings.batchSize,
    async open(c) {
      context = c
      // Loaded on first use, like the mqtt() source: `import 'sluice'` need not load an MQTT client.
      const { connect } = await import('mqtt')
      const clientId = options.clientId ?? `sluice-${c.connector}-${randomBytes(4).toString('hex')}`
      publisher = new Publisher(connect, settings, {
        ...options.clientOptions,
        clientId,
        ...(options.username !== undefined ? { username: options.username } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
      })
      // Connect now, so the first record does not wait for it; a failure shows at the first write.
      publisher.warmUp(c.signal)
    },
    async write(batch: SinkBatch<T>) {
      const ctx = context!
      const { messages, rejected } = toMessages(batch.records, topicOf, payloadOf, settings.qos)
      if (messages.length > 0) rejected.push(...(await publisher!.publish(messages, ctx.signal)))
      for (const [error, records] of byError(rejected)) await ctx.deadLetter(records, error)
    },
    async close() {
      await publisher?.close()
    },
  }
}

/** The rejections by reason: one dead-letter call per reason, as `deadLetter` takes one error for many records. */
function byError<T>(rejected: readonly Rejection<T>[]): Map<string, SinkRecord<T>[]> {
  const groups = new Map<string, SinkRecord<T>[]>()
  for (const { record, error } of rejected) {
    const group = groups.get(error)
    if (group) group.push(record)
    else groups.set(error, [record])
  }
  return groups
}
