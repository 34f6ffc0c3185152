/**
 * The IoT demo scored on a fixed seed: the generator's injected cases against the alerts and
 * commands of the pipeline (through the TestDriver, processing time advanced as a feed at
 * 1,000 readings/s would), the steps that need processing time on their own, then
 * `sluice demo iot` end to end on the embedded log with the HTTP server on a free port.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TestDriver } from 'sluice/testing'
import { type Device, IotGenerator, type Reading } from '../../../examples/iot/generator.ts'
import { iotPipeline, iotTopics } from '../../../examples/iot/pipeline.ts'
import { HYSTERESIS } from '../../../examples/iot/rooms.ts'
import { formatScore, score } from '../../../examples/iot/score.ts'
import { SILENT_AFTER_MS, SILENT_EVENT_MS } from '../../../src/cli/demo/iot.ts'
import { scoreLine, servedUrl, sluice } from '../../helpers/demo-cli.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const READINGS = 30_000
/** The feed's pace: 1,000 readings/s, one millisecond of processing time per reading. */
const MS_PER_READING = 1

function drive(seed: number, readings: number) {
  const generator = new IotGenerator({ seed })
  const topics = iotTopics()
  const driver = new TestDriver(
    iotPipeline('iot-scored', topics, {
      silentAfter: SILENT_AFTER_MS,
      silentAfterEventTime: SILENT_EVENT_MS,
    }),
    { partitions: 2, startTime: 1_000_000 },
  )
  for (const d of generator.devices) driver.pipe(topics.devices, d, { key: d.id })
  // The table goes idle: readings stop waiting for its event time.
  driver.advanceTime(2_000)
  for (let i = 0; i < readings; i++) {
    const r = generator.next()
    driver.pipe(topics.readings, r, { key: r.sensor })
    driver.advanceTime(MS_PER_READING)
  }
  // As the demo does while it drains: the clock goes on, the input has stopped.
  driver.advanceTime(5 * SILENT_AFTER_MS)
  return { generator, topics, driver }
}

// Both scoring tests read the same run: driving it twice would only double the time.
let seed1: ReturnType<typeof drive> | undefined
const driven = () => {
  seed1 ??= drive(1, READINGS)
  return seed1
}

test('the IoT pipeline finds the injected cases: recall ≥ 0.95, precision ≥ 0.9, no flapping (seed 1, 30,000 readings)', (t) => {
  const { generator, topics, driver } = driven()
  // The watermark: the newest reading minus the source's maxOutOfOrder.
  const until = generator.clock - 60_000
  const speed = 1000 / MS_PER_READING / generator.readingsPerSecond
  const s = score(driver.values(topics.alerts), driver.values(topics.commands), generator.cases, {
    until,
    silentAfterMs: Math.max(SILENT_EVENT_MS, SILENT_AFTER_MS * speed),
  })
  const lines = formatScore(s)
  for (const line of lines) t.diagnostic(line)
  for (const [kind, k] of Object.entries(s.byKind)) assert.ok(k.cases >= 4, `${kind}: ${lines.join('\n')}`)
  assert.ok(s.recall >= 0.95, lines.join('\n'))
  assert.ok(s.precision >= 0.9, lines.join('\n'))
  assert.equal(s.commands.flapping, 0, lines.join('\n'))
  assert.equal(s.commands.notRestored, 0, lines.join('\n'))
  assert.equal(s.commands.cool, s.byKind.overheat.detected, lines.join('\n'))
  assert.equal(driver.deadLetters().length, 0)
})

test('hysteresis: the overheating rooms cross their threshold back and forth, and get one cool and one auto command each', (t) => {
  const { generator, topics, driver } = driven()
  const minutes = driver.values(topics.climate)
  const commands = driver.values(topics.commands)
  let naive = 0
  let withHysteresis = 0
  for (const c of generator.cases.filter(
    (c) => c.kind === 'overheat' && c.end + 5 * 60_000 < generator.clock,
  )) {
    const during = (at: string) => Date.parse(at) >= c.start && Date.parse(at) <= c.end + 5 * 60_000
    const series = minutes
      .filter((m) => m.room === c.room && during(m.end) && m.temperature !== null)
      .sort((a, b) => Date.parse(a.end) - Date.parse(b.end))
    // What a threshold without hysteresis would send: a command at every crossing.
    for (let i = 1; i < series.length; i++) {
      if (series[i - 1]!.temperature! > series[i - 1]!.high! !== series[i]!.temperature! > series[i]!.high!)
        naive++
    }
    const mine = commands.filter((cmd) => cmd.room === c.room && during(cmd.at))
    assert.deepEqual(
      mine.map((cmd) => cmd.set.mode),
      ['cool', 'auto'],
      `room ${c.room}: ${JSON.stringify(mine)}`,
    )
    const [cool, auto] = mine
    assert.ok(cool!.temperature > series[0]!.high!, JSON.stringify(cool))
    assert.ok(auto!.temperature < series[0]!.high! - HYSTERESIS, JSON.stringify(auto))
    withHysteresis += mine.length
  }
  assert.ok(withHysteresis >= 8, `expected at least 4 finished overheats, got ${withHysteresis / 2}`)
  t.diagnostic(`${withHysteresis} commands; a bare threshold would have sent ${naive}`)
  assert.ok(naive > withHysteresis, `the data should make a bare threshold flap: ${naive} crossings`)
})

function silenceDriver() {
  const topics = iotTopics()
  const driver = new TestDriver(
    iotPipeline('iot-silence', topics, { silentAfter: 1_000, silentAfterEventTime: 3 * 60_000 }),
    { startTime: 1_000_000 },
  )
  const at0 = Date.parse('2026-01-01T00:00:00Z')
  const device = (id: string): Device => ({
    id,
    building: 'b',
    room: 'b-01',
    kind: 'temperature',
    unit: '°C',
    high: 25,
    hvac: 'b-01-hvac',
    updatedAt: new Date(at0 - 60_000).toISOString(),
  })
  for (const id of ['a', 'b']) driver.pipe(topics.devices, device(id), { key: id })
  driver.advanceTime(2_000)
  /** One reading per sensor, 10 s of event time apart, 10 ms of processing time apart. */
  const feed = (sensors: string[], from: number, steps: number) => {
    for (let i = 0; i < steps; i++) {
      for (const sensor of sensors) {
        const r: Reading = { sensor, at: new Date(at0 + (from + i) * 10_000).toISOString(), value: 21 }
        driver.pipe(topics.readings, r, { key: sensor })
      }
      driver.advanceTime(10)
    }
  }
  return { topics, driver, feed }
}

test('silence: a sensor quiet for the processing-time threshold while the others move event time on is reported once', () => {
  const { topics, driver, feed } = silenceDriver()
  feed(['a', 'b'], 0, 30)
  // b stops. 1 s of processing time and 5 min of event time later, b is silent; a is not.
  feed(['a'], 30, 30)
  driver.advanceTime(1_000)
  feed(['a'], 60, 10)
  let silent = driver.values(topics.alerts).filter((a) => a.kind === 'silent')
  assert.deepEqual(
    silent.map((a) => [a.device, a.at]),
    [['b', '2026-01-01T00:04:50.000Z']],
  )
  // Reported once, however long it stays quiet; reported again after it came back and went quiet.
  driver.advanceTime(3_000)
  feed(['a', 'b'], 70, 1)
  feed(['a'], 71, 30)
  driver.advanceTime(1_000)
  feed(['a'], 101, 1)
  silent = driver.values(topics.alerts).filter((a) => a.kind === 'silent')
  assert.deepEqual(
    silent.map((a) => [a.device, a.at]),
    [
      ['b', '2026-01-01T00:04:50.000Z'],
      ['b', '2026-01-01T00:11:40.000Z'],
    ],
  )
})

test('silence: when the whole input stalls, processing time passes but event time does not, and no sensor is blamed', () => {
  const { topics, driver, feed } = silenceDriver()
  feed(['a', 'b'], 0, 30)
  driver.advanceTime(60_000)
  assert.deepEqual(
    driver.values(topics.alerts).filter((a) => a.kind === 'silent'),
    [],
  )
  // The feed resumes, 10 min of event time later for both: still nobody was silent alone.
  feed(['a', 'b'], 90, 30)
  driver.advanceTime(5_000)
  assert.deepEqual(
    driver.values(topics.alerts).filter((a) => a.kind === 'silent'),
    [],
  )
})

test('the generator is deterministic per seed, delivers some readings late, and injects every kind of case', () => {
  const take = (seed: number) => {
    const g = new IotGenerator({ seed })
    return { readings: Array.from({ length: 20_000 }, () => g.next()), g }
  }
  const { readings: a, g } = take(7)
  assert.deepEqual(take(7).readings, a)
  assert.deepEqual(take(7).g.cases, g.cases)
  assert.notDeepEqual(take(8).readings.slice(0, 100), a.slice(0, 100))
  const newest = new Map<string, number>()
  let late = 0
  let veryLate = 0
  let overall = 0
  for (const r of a) {
    const at = Date.parse(r.at)
    if (at < overall - 60_000) veryLate++
    else if (at < overall) late++
    overall = Math.max(overall, at)
    newest.set(r.sensor, Math.max(newest.get(r.sensor) ?? 0, at))
  }
  assert.ok(late > 100 && late < 2_000, `expected a few % late in 20,000, got ${late}`)
  assert.ok(veryLate > 10 && veryLate < 200, `expected about 0.3% past the watermark, got ${veryLate}`)
  assert.equal(new Set(a.map((r) => `${r.sensor}@${r.at}`)).size, a.length, 'one reading per sensor and time')
  const sensors = g.devices.filter((d) => d.kind !== 'hvac').map((d) => d.id)
  assert.deepEqual([...newest.keys()].sort(), [...sensors].sort(), 'every sensor reads, and only those')
  const kinds = new Set(g.cases.map((c) => c.kind))
  assert.deepEqual([...kinds].sort(), ['overheat', 'silent', 'spike', 'stuck'])
  // A silent sensor sends nothing during its outage.
  for (const c of g.cases.filter((c) => c.kind === 'silent')) {
    const during = a.filter(
      (r) => r.sensor === c.sensor && Date.parse(r.at) >= c.start && Date.parse(r.at) < c.end,
    )
    assert.deepEqual(during, [], `${c.sensor} during its outage`)
  }
})

test('sluice demo iot --events 20000 --rate 4000 --port 0 --seed 1 exits 0 and prints the score', async () => {
  const { done, stderr } = sluice([
    'demo',
    'iot',
    '--events',
    '20000',
    '--rate',
    '4000',
    '--port',
    '0',
    '--seed',
    '1',
  ])
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const [precision, recall] = scoreLine(stdout)
  assert.ok(recall >= 0.95 && precision >= 0.9, stdout)
  assert.match(
    stdout,
    /^iot demo: 20,000 readings from 36 sensors \(.+ of sensor time\), \d+ injected cases/m,
  )
  assert.match(stdout, /^commands: (\d+) cool and \d+ auto for \1 overheats; 0 flapping, 0 not restored$/m)
  assert.match(stderr(), /serving http:\/\/127\.0\.0\.1:\d+/)
})

test('sluice demo iot serves the dashboard API and the sensors state while it runs, and scores on Ctrl-C', async () => {
  const dir = tempDir()
  const { child, done, stderr } = sluice(['demo', 'iot', '--rate', '2000', '--port', '0', '--data-dir', dir])
  const url = await servedUrl({ child, done, stderr })
  const pipelines = await (await fetch(`${url}/api/pipelines`)).text()
  assert.match(pipelines, /iot-monitoring/)
  // Four seconds at 2,000/s: about 35 minutes of sensor time, enough for decided cases.
  await new Promise((r) => setTimeout(r, 4_000))
  const stats = (await (await fetch(`${url}/stores/sensor-stats/north-01-t1`)).json()) as {
    value: { window: number[]; mean: number; std: number }
  }
  assert.ok(stats.value.window.length > 10, JSON.stringify(stats))
  assert.ok(stats.value.mean > 15 && stats.value.mean < 30 && stats.value.std > 0, JSON.stringify(stats))
  child.kill('SIGINT')
  const { code, stdout } = await done
  assert.equal(code, 0, stderr())
  const [precision, recall] = scoreLine(stdout)
  assert.ok(recall >= 0.95 && precision >= 0.9, stdout)
  assert.match(stderr(), /SIGINT: stopping the feed/)
})

test('sluice demo iot --mqtt with no broker there is a usage error that says so', async () => {
  const run = sluice(['demo', 'iot', '--port', '0', '--mqtt', 'mqtt://127.0.0.1:1'])
  const { code } = await run.done
  assert.equal(code, 2, run.stderr())
  assert.match(
    run.stderr(),
    /--mqtt: cannot connect to mqtt:\/\/127\.0\.0\.1:1 .*start the broker, or leave --mqtt out/,
  )
})
