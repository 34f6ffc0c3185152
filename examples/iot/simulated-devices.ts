/**
 * The site's devices on the MQTT broker, for `sluice demo iot --mqtt`: the sensors publish
 * their readings, and the HVAC units subscribe to their commands. One client stands in for all
 * of them.
 */
import type { MqttClient } from 'mqtt'
import { commandTopic, sensorTopic } from './mqtt.ts'
import type { Command, Reading } from './types.ts'

export class SimulatedDevices {
  /** Commands the HVAC units received, in arrival order. */
  readonly commands: Command[] = []
  readonly #client: MqttClient
  readonly #prefix: string

  private constructor(client: MqttClient, prefix: string) {
    this.#client = client
    this.#prefix = prefix
    client.on('message', (topic, payload) => {
      if (!topic.startsWith(`${prefix}/devices/`)) return
      try {
        this.commands.push(JSON.parse(payload.toString('utf8')) as Command)
      } catch {
        // Not a command of ours: a device ignores what it cannot read.
      }
    })
  }

  /** Connects and subscribes the HVAC units to `<prefix>/devices/+/set`. */
  static async connect(url: string, prefix: string, clientId: string): Promise<SimulatedDevices> {
    const { connectAsync } = await import('mqtt')
    const client = await connectAsync(url, { clientId, connectTimeout: 5_000, reconnectPeriod: 1_000 })
    await client.subscribeAsync(commandTopic(prefix, '+'), { qos: 1 })
    return new SimulatedDevices(client, prefix)
  }

  /**
   * Publishes readings, each to its sensor's topic, with QoS 1; resolves once the broker has
   * acknowledged them all. Published in order on one connection, so the broker delivers each
   * sensor's readings in the order they were sent.
   */
  async publish(readings: readonly Reading[]): Promise<void> {
    await Promise.all(
      readings.map((r) =>
        this.#client.publishAsync(sensorTopic(this.#prefix, r.sensor), JSON.stringify(r), { qos: 1 }),
      ),
    )
  }

  async close(): Promise<void> {
    await this.#client.endAsync()
  }
}
