/**
 * The MQTT section of `bench:connectors`: messages/s from Mosquitto (127.0.0.1:1883) into an
 * embedded log through `mqtt()` at QoS 1 — each batch appended (fsynced, durability `sync`)
 * before its PUBACKs go out. A publisher in the same process sends `--messages` QoS 1 messages as
 * fast as the broker takes them (at most 500 ahead of the source); the figure is messages over the time from the first publish to
 * the last record in the topic.
 *
 * Mosquitto lets 20 QoS 1 messages per client be unacknowledged (`max_inflight_messages`), so
 * with the default broker configuration a batch holds at most 20 messages: the rate is about
 * 20 per append round trip. Run alone: `node bench/connectors/mqtt.ts [--messages N]`.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectAsync } from 'mqtt'
import { mqtt } from '../../src/connectors/mqtt/index.ts'
import { ConnectorRunner } from '../../src/connectors/runner.ts'
import { topic } from '../../src/dsl/topic.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { positiveInt } from '../common.ts'

const WINDOW = 500

export interface MqttBenchRow {
  messages: number
  seconds: number
  messagesPerSecond: number
}

export async function benchMqtt(options: { url: string; messages: number }): Promise<MqttBenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-mqtt-'))
  const log = await openEmbeddedLog({ dataDir: dir })
  const run = randomUUID().slice(0, 8)
  const name = `bench-mqtt-${run}`
  const publisher = await connectAsync(options.url, { clientId: `${name}-pub` })
  let subscribed!: () => void
  const ready = new Promise<void>((r) => {
    subscribed = r
  })
  const runner = new ConnectorRunner(
    log,
    [
      {
        kind: 'source',
        name,
        source: mqtt({ url: options.url, topics: [`sluice-bench/${run}/+`] }),
        topic: topic('readings', { partitions: 4 }),
      },
    ],
    { report: (m) => (m.includes('subscribed to') ? subscribed() : process.stderr.write(`${m}\n`)) },
  )
  try {
    runner.start()
    await ready
    const payload = JSON.stringify({ sensor: 's-0001', celsius: 21.5, at: '2026-11-24T10:00:00Z' })
    const started = performance.now()
    const appended = () => runner.status()[0]!.records
    for (let i = 0; i < options.messages; ) {
      // Mosquitto drops QoS 1 messages for a subscriber with more than max_queued_messages
      // (1,000) waiting: stay at most WINDOW ahead of what the source has appended.
      if (i - appended() >= WINDOW) {
        await new Promise((r) => setTimeout(r, 1))
        continue
      }
      const n = Math.min(options.messages - i, WINDOW - (i - appended()))
      const sends: Promise<unknown>[] = []
      for (let j = 0; j < n; j++, i++) {
        sends.push(publisher.publishAsync(`sluice-bench/${run}/s${i % 64}`, payload, { qos: 1 }))
      }
      await Promise.all(sends)
    }
    const deadline = Date.now() + 60_000
    while (appended() < options.messages) {
      if (Date.now() > deadline)
        throw new Error(`only ${appended()} of ${options.messages} messages arrived in 60 s`)
      await new Promise((r) => setTimeout(r, 5))
    }
    const seconds = (performance.now() - started) / 1000
    return { messages: options.messages, seconds, messagesPerSecond: Math.round(options.messages / seconds) }
  } finally {
    await runner.stop()
    await publisher.endAsync()
    // Remove the source's persistent session from the broker.
    const c = await connectAsync(options.url, {
      clientId: `sluice-${name}`,
      protocolVersion: 5,
      clean: true,
      properties: { sessionExpiryInterval: 0 },
    })
    await c.endAsync()
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--messages')
  const messages = positiveInt('messages', at > 0 ? process.argv[at + 1] : undefined, 20_000)
  const row = await benchMqtt({ url: 'mqtt://127.0.0.1:1883', messages })
  console.log(
    `mqtt → embedded log, QoS 1, sync durability: ${row.messages} messages in ${row.seconds.toFixed(2)} s = ${row.messagesPerSecond} msg/s`,
  )
}
