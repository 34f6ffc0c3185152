/**
 * `sluice demo iot --mqtt <url>`: the demo's readings go through an MQTT broker instead of
 * straight into the log. Simulated devices publish the generated readings, the `mqtt()` source
 * appends them to the readings topic, and the same devices receive the commands `mqttSink()`
 * publishes. The feed paces the devices, and before scoring waits until the source has
 * appended what they published and the commands have reached them: a score taken earlier would
 * blame the pipeline for messages still on their way.
 */
import type { IotGenerator } from '../../../examples/iot/generator.ts'
import { DEFAULT_PREFIX, iotMqttConnectors } from '../../../examples/iot/mqtt.ts'
import type { IotTopics } from '../../../examples/iot/pipeline.ts'
import { SimulatedDevices } from '../../../examples/iot/simulated-devices.ts'
import type { Reading } from '../../../examples/iot/types.ts'
import type { Connector } from '../../connectors/connect.ts'
import type { Source } from '../../connectors/types.ts'
import { UsageError } from '../args.ts'
import { formatCount, printErr } from '../output.ts'
import { sleep } from './feed.ts'
import type { DemoFlags, DemoRun } from './spec.ts'

/** How often the publishing loop looks at the clock when nothing is due, and prints progress. */
const TICK_MS = 20
const PROGRESS_MS = 5_000
/** Longest wait for the MQTT source to subscribe, and then to append what was published. */
const MQTT_WAIT_MS = 60_000

/** What --mqtt sets up in `prepare` and the feed needs: the broker, and how far the source got. */
interface MqttRun {
  url: string
  prefix: string
  /** Readings the MQTT source appended (or dead-lettered) so far. */
  appended: number
  subscribed: boolean
}
// Keyed by the run's topics object, which `prepare` and `feed` of one run share.
const mqttRuns = new WeakMap<IotTopics, MqttRun>()

/** The feed's side of --mqtt: the run's broker and counts, and the simulated devices on it. */
export interface MqttFeed {
  run: MqttRun
  devices: SimulatedDevices
}

/**
 * Checks --mqtt and --mqtt-prefix, makes sure the broker answers, and returns the connectors
 * that carry readings in and commands out; none without --mqtt.
 */
export async function mqttConnectors(flags: DemoFlags, topics: IotTopics): Promise<Connector[]> {
  const url = flags.mqtt
  const prefix = flags['mqtt-prefix']
  if (typeof url !== 'string') {
    if (prefix !== undefined) throw new UsageError('demo', '--mqtt-prefix goes with --mqtt <url>')
    return []
  }
  if (!/^(mqtts?|wss?):\/\/./.test(url)) {
    throw new UsageError('demo', `--mqtt ${url}: give a broker URL, e.g. mqtt://127.0.0.1:1883`)
  }
  if (typeof prefix === 'string' && (prefix === '' || /[+#]/.test(prefix) || prefix.endsWith('/'))) {
    throw new UsageError(
      'demo',
      `--mqtt-prefix "${prefix}": give topic levels without wildcards, e.g. site-1`,
    )
  }
  await probe(url)
  const run: MqttRun = {
    url,
    prefix: typeof prefix === 'string' ? prefix : DEFAULT_PREFIX,
    appended: 0,
    subscribed: false,
  }
  const { readingsIn, commandsOut } = iotMqttConnectors(topics, {
    url,
    prefix: run.prefix,
    // A session of this run only, gone a minute after it: readings published while no demo
    // runs must not reach the next one.
    clientId: `sluice-iot-demo-${process.pid}-${Date.now().toString(36)}`,
    sessionExpirySeconds: 60,
  })
  mqttRuns.set(topics, run)
  return [{ ...readingsIn, source: watched(readingsIn.source, run) }, commandsOut]
}

/** Connects the simulated devices when this run has --mqtt; null when it has not. */
export async function openMqttFeed(topics: IotTopics): Promise<MqttFeed | null> {
  const run = mqttRuns.get(topics)
  if (!run) return null
  const devices = await SimulatedDevices.connect(run.url, run.prefix, `sluice-iot-devices-${process.pid}`)
  return { run, devices }
}

/**
 * Once the source has subscribed, publishes readings through the devices until the run's end,
 * then waits for the source to append them; returns how many were published.
 */
export async function feedThroughMqtt(
  run: DemoRun<IotTopics>,
  mqtt: MqttFeed,
  generator: IotGenerator,
  progress: (sent: number, perSecond: number) => void,
): Promise<number> {
  const { signal } = run
  await waitFor(() => mqtt.run.subscribed, signal, MQTT_WAIT_MS)
  const sent = await publish(run, generator, mqtt.devices, progress)
  printErr(`sluice: published ${formatCount(sent)} readings; waiting for the MQTT source to append them…`)
  if (!(await waitFor(() => mqtt.run.appended >= sent, signal, MQTT_WAIT_MS))) {
    printErr(
      `sluice: warning: the MQTT source appended ${formatCount(mqtt.run.appended)} of them; scoring anyway`,
    )
  }
  return sent
}

/** The score's MQTT line, once the devices have received the commands the sink publishes (or 15 s passed). */
export async function mqttSummary(
  mqtt: MqttFeed,
  sent: number,
  commands: number,
  signal: AbortSignal,
): Promise<string> {
  const { run, devices } = mqtt
  // The sink publishes what the pipeline committed; give the last commands time to arrive.
  await waitFor(() => devices.commands.length >= commands, signal, 15_000)
  return (
    `mqtt: ${formatCount(run.appended)} of ${formatCount(sent)} readings came in from ${run.prefix}/sensors/+; ` +
    `${formatCount(devices.commands.length)} of ${formatCount(commands)} commands reached ${run.prefix}/devices/+/set`
  )
}

/** Fails fast, with what to do, when the broker does not answer. */
async function probe(url: string): Promise<void> {
  const { connectAsync } = await import('mqtt')
  try {
    const client = await connectAsync(url, { connectTimeout: 3_000, reconnectPeriod: 0 })
    await client.endAsync()
  } catch (error) {
    throw new UsageError(
      'demo',
      `--mqtt: cannot connect to ${url} (${(error as Error).message}); start the broker, or leave --mqtt out`,
    )
  }
}

/** The MQTT source, telling the feed when it has subscribed and how many readings it appended. */
function watched(source: Source<Reading>, run: MqttRun): Source<Reading> {
  return {
    role: 'source',
    type: source.type,
    run: (context) =>
      source.run({
        ...context,
        async append(records, options) {
          const appended = await context.append(records, options)
          run.appended += records.length + (options?.deadLetters?.length ?? 0)
          return appended
        },
        report(message) {
          if (message.startsWith('subscribed to')) run.subscribed = true
          context.report(message)
        },
      }),
  }
}

/** Publishes generated readings at the run's rate, until its events, duration or Ctrl-C; returns how many. */
async function publish(
  run: DemoRun<IotTopics>,
  generator: IotGenerator,
  devices: SimulatedDevices,
  progress: (sent: number, perSecond: number) => void,
): Promise<number> {
  const started = Date.now()
  const deadline = run.durationMs === undefined ? Number.POSITIVE_INFINITY : started + run.durationMs
  const limit = run.events ?? Number.POSITIVE_INFINITY
  let sent = 0
  let lastProgress = started
  while (sent < limit && Date.now() < deadline && !run.signal.aborted) {
    const due = Math.min(limit, Math.floor(((Date.now() - started) * run.rate) / 1000))
    const batch: Reading[] = []
    while (sent + batch.length < due && batch.length < Math.max(100, run.rate / 10))
      batch.push(generator.next())
    if (batch.length > 0) {
      await devices.publish(batch)
      sent += batch.length
    } else {
      await sleep(TICK_MS)
    }
    if (Date.now() - lastProgress >= PROGRESS_MS) {
      lastProgress = Date.now()
      progress(sent, sent / Math.max((Date.now() - started) / 1000, 0.001))
    }
  }
  return sent
}

/** Polls `done` until it holds, the signal aborts or `ms` pass; returns whether it held. */
async function waitFor(done: () => boolean, signal: AbortSignal, ms: number): Promise<boolean> {
  const giveUp = Date.now() + ms
  while (!done() && !signal.aborted && Date.now() < giveUp) await sleep(50)
  return done()
}
