/**
 * The IoT pipeline on an MQTT broker: sensors publish readings to `<prefix>/sensors/<id>`, the
 * `mqtt()` source appends them to the readings topic, and the pipeline's commands are
 * published to `<prefix>/devices/<id>/set`, where the HVAC units listen.
 *
 *   sluice demo iot --mqtt mqtt://127.0.0.1:1883
 *
 * The commands go out through the `mqttSink()` connector at QoS 1: a batch counts as written once
 * the broker acknowledged each command, and a lost connection publishes some again, so each
 * command carries an `id` for a device to drop repeats by.
 */
import { connect, mqtt, mqttSink, type SinkConnector, type SourceConnector } from 'sluice'
import type { IotTopics } from './pipeline.ts'
import type { Command, Reading } from './types.ts'

export const DEFAULT_PREFIX = 'sluice-demo'

export const sensorTopic = (prefix: string, sensor: string) => `${prefix}/sensors/${sensor}`
export const commandTopic = (prefix: string, device: string) => `${prefix}/devices/${device}/set`

export interface IotMqttOptions {
  url: string
  /** The first level of every MQTT topic (default `sluice-demo`). */
  prefix?: string
  /**
   * The source's MQTT client id. The broker keeps its session (and queues readings for it)
   * under this id while Sluice is away, for `sessionExpirySeconds`.
   */
  clientId?: string
  sessionExpirySeconds?: number
}

/** The two connectors: readings in from `<prefix>/sensors/+`, commands out to `<prefix>/devices/<id>/set`. */
export function iotMqttConnectors(
  topics: IotTopics,
  options: IotMqttOptions,
): { readingsIn: SourceConnector<Reading>; commandsOut: SinkConnector<Command> } {
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const readingsIn = connect(`${topics.readings.name}-from-mqtt`, {
    from: mqtt<Reading>({
      url: options.url,
      topics: [sensorTopic(prefix, '+')],
      // The reading names its sensor: key by it (the topic's key), as a log producer would.
      key: () => undefined,
      ...(options.clientId ? { clientId: options.clientId } : {}),
      ...(options.sessionExpirySeconds === undefined
        ? {}
        : { sessionExpirySeconds: options.sessionExpirySeconds }),
    }),
    to: topics.readings,
  })
  const commandsOut = connect(`${topics.commands.name}-to-mqtt`, {
    from: topics.commands,
    to: mqttSink<Command>({ url: options.url, topic: (c) => commandTopic(prefix, c.device) }),
  })
  return { readingsIn, commandsOut }
}
