/**
 * `sluice demo iot`: the building-monitoring example (examples/iot/) — generated sensor
 * readings, per-sensor health (spikes, stuck and silent sensors), per-room climate joined with
 * the device table, and HVAC commands; alerts scored against the cases the generator injected.
 * With --mqtt the readings come in (the `mqtt()` source) and the commands go out (`mqttSink()`)
 * through an MQTT broker.
 */
import { IotGenerator } from '../../../examples/iot/generator.ts'
import { DEFAULT_PREFIX } from '../../../examples/iot/mqtt.ts'
import { type IotTopics, iotPipeline, iotTopics } from '../../../examples/iot/pipeline.ts'
import { formatScore, type Score, score } from '../../../examples/iot/score.ts'
import { formatCount, printErr } from '../output.ts'
import { collect, pace, paceOf, progressLine, settle, watermarkOf } from './feed.ts'
import { feedThroughMqtt, mqttConnectors, mqttSummary, openMqttFeed } from './iot-mqtt.ts'
import type { DemoSpec } from './spec.ts'

/**
 * Processing time without a reading before a sensor is silent, in the demo. Event time runs
 * `rate / 3.6` times faster than the clock here (36 sensors, one reading each per 10 s), so a
 * second of processing time is 4.6 minutes of sensor time at the default 1,000 readings/s.
 */
export const SILENT_AFTER_MS = 1_000
/** …and sensor time the other sensors must have moved on: what keeps a stalled feed from blaming every sensor. */
export const SILENT_EVENT_MS = 3 * 60_000

const brief = (s: Score) =>
  `precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} (${s.detected}/${s.cases} cases)`

export const iotDemo: DemoSpec<IotTopics> = {
  name: 'iot',
  pipelineName: 'iot-monitoring',
  unit: 'readings',
  defaultRate: 1_000,
  help: (common) => `Usage: sluice demo iot [options]

Runs the building-monitoring example (examples/iot/) end to end: starts its pipeline as
"sluice run" would, serves the dashboard, writes the device table, feeds generated sensor
readings at --rate per second, and at the end (or on Ctrl-C) prints how many of the injected
cases the alerts found (recall) and how many alerts were right (precision), per kind and
overall, and whether the HVAC commands flapped.

The readings depend on --seed only: 36 sensors in 12 rooms of two buildings, one reading
each per 10 s of simulated time with a daily cycle, noise and slow drift, some delivered late;
injected cases of four kinds (spikes, stuck sensors, silent sensors, overheating rooms).
Simulated time runs about rate/3.6 times faster than the clock: 1,000 readings/s is about
4.6 minutes of sensor time per second.

Options:
  --mqtt <url>              readings go through this MQTT broker: published to
                            <prefix>/sensors/<id>, read by the mqtt() source; the mqttSink()
                            connector publishes commands to <prefix>/devices/<id>/set
                            (e.g. mqtt://127.0.0.1:1883)
  --mqtt-prefix <p>         the first level of those MQTT topics (default ${DEFAULT_PREFIX})
${common}

Example:
  sluice demo iot                                     # open http://127.0.0.1:8080/, Ctrl-C to score
  sluice demo iot --events 20000 --port 0
  sluice demo iot --rate 200 --duration 5m --seed 7
  sluice demo iot --mqtt mqtt://127.0.0.1:1883        # mosquitto_sub -t '${DEFAULT_PREFIX}/devices/+/set'
  sluice demo iot --backend kafka://127.0.0.1:9092
`,
  options: { mqtt: { type: 'string' }, 'mqtt-prefix': { type: 'string' } },
  topics: iotTopics,
  pipelines: (name, topics) => [
    iotPipeline(name, topics, { silentAfter: SILENT_AFTER_MS, silentAfterEventTime: SILENT_EVENT_MS }),
  ],

  async prepare(flags, topics) {
    return { connectors: await mqttConnectors(flags, topics) }
  },

  guide: (url, topics) =>
    `sluice: open ${url}/ — Overview: the pipeline, its rate, watermark and late readings; Results: ` +
    `topic ${topics.alerts.name} (alerts), ${topics.climate.name} (each room's minute) and ` +
    `${topics.commands.name}, or the stores sensor-stats and room-hvac; Pipeline: the join with-device, ` +
    `sensor-stats, sensor-silence, room-climate, room-hvac; Topics: a live tail of ${topics.readings.name}`,

  async feed(run) {
    const { log, runner, topics, signal } = run
    const generator = new IotGenerator({ seed: run.seed })
    // How much sensor time a second of processing time is, at this rate.
    const speed = run.rate / generator.readingsPerSecond
    const silentAfterMs = Math.max(SILENT_EVENT_MS, SILENT_AFTER_MS * speed)
    // The devices connect first: if the broker refuses them, no reader is left open.
    const mqtt = await openMqttFeed(topics)
    const alerts = collect(log, topics.alerts)
    const commands = collect(log, topics.commands)
    const progress = (sent: number, perSecond: number) => {
      const status = runner.status()
      const live = score(alerts.values, commands.values, generator.cases, {
        until: watermarkOf(status),
        silentAfterMs,
      })
      const outputs = `alerts ${formatCount(alerts.values.length)}, commands ${formatCount(commands.values.length)}`
      printErr(`${progressLine('readings', sent, perSecond, status, outputs)}; live score: ${brief(live)}`)
    }
    try {
      // The device table first: readings join the version valid at their event time.
      const producer = log.producer()
      await producer.send(
        topics.devices.name,
        generator.devices.map((d) => ({
          key: Buffer.from(d.id),
          value: topics.devices.codec.encode(d),
          timestamp: Date.parse(d.updatedAt),
        })),
      )
      await producer.close()

      let sent: number
      if (mqtt) {
        sent = await feedThroughMqtt(run, mqtt, generator, progress)
      } else {
        sent = await pace({
          ...paceOf(run),
          next() {
            const r = generator.next()
            const record = {
              key: Buffer.from(r.sensor),
              value: topics.readings.codec.encode(r),
              timestamp: Date.parse(r.at),
            }
            return { topic: topics.readings.name, record }
          },
          progress,
        })
      }
      printErr(`sluice: sent ${formatCount(sent)} readings; waiting for the pipeline to process them…`)
      await settle(runner, signal, alerts, commands)
      progress(sent, Number.NaN)
      const final = score(alerts.values, commands.values, generator.cases, {
        until: watermarkOf(runner.status()),
        silentAfterMs,
      })
      const undecided = generator.cases.length - final.cases
      const sensors = generator.devices.filter((d) => d.kind !== 'hvac').length
      const lines = [
        `iot demo: ${formatCount(sent)} readings from ${sensors} sensors (${minutes(generator)} of sensor time), ` +
          `${formatCount(generator.cases.length)} injected cases` +
          `${undecided > 0 ? ` (${undecided} too recent to decide: left out, with their alerts)` : ''}, ` +
          `${counted(alerts.values.length, 'alert')}, ${counted(commands.values.length, 'command')}`,
        ...formatScore(final),
      ]
      if (mqtt) lines.push(await mqttSummary(mqtt, sent, commands.values.length, signal))
      return { lines, outputs: alerts.values.length }
    } finally {
      await alerts.close()
      await commands.close()
      await mqtt?.devices.close()
    }
  },
}

const counted = (n: number, what: string) => `${formatCount(n)} ${what}${n === 1 ? '' : 's'}`

function minutes(generator: IotGenerator): string {
  const m = Math.round((generator.clock - generator.startAt) / 60_000)
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`
}
