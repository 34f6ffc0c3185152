/**
 * `sluice demo iot --mqtt` against the Mosquitto broker on 127.0.0.1:1883: the readings travel
 * through the broker (a subscriber of our own counts them on `<prefix>/sensors/+`), the MQTT
 * source appends them, and the pipeline's commands reach `<prefix>/devices/<id>/set`, where a
 * subscriber standing in for the HVAC units receives every one the demo reports. Every run
 * uses its own topic prefix; the demo's broker session expires a minute after it.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { connectAsync, type MqttClient } from 'mqtt'
import type { Command } from '../../../examples/iot/types.ts'

const BROKER = 'mqtt://127.0.0.1:1883'
const run = randomUUID().slice(0, 8)
const prefix = `sluice-test/iot-${run}`
const MAIN = new URL('../../../src/cli/main.ts', import.meta.url).pathname

let watcher: MqttClient
const commands: { topic: string; command: Command }[] = []
let readings = 0

before(async () => {
  watcher = await connectAsync(BROKER, { clientId: `sluice-test-iot-watch-${run}` })
  watcher.on('message', (topic, payload) => {
    if (topic.startsWith(`${prefix}/sensors/`)) readings++
    else commands.push({ topic, command: JSON.parse(payload.toString('utf8')) as Command })
  })
  await watcher.subscribeAsync(`${prefix}/devices/+/set`, { qos: 1 })
  await watcher.subscribeAsync(`${prefix}/sensors/+`, { qos: 0 })
})
after(async () => {
  await watcher.endAsync()
})

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'demo', 'iot', ...args])
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => {
    stdout += d
  })
  child.stderr.on('data', (d) => {
    stderr += d
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

test('sluice demo iot --mqtt: readings in through the broker, every command out to its HVAC unit', async () => {
  const { code, stdout, stderr } = await demo([
    '--events',
    '20000',
    '--rate',
    '2000',
    '--port',
    '0',
    '--seed',
    '1',
    '--mqtt',
    BROKER,
    '--mqtt-prefix',
    prefix,
  ])
  assert.equal(code, 0, stderr)
  assert.match(stderr, new RegExp(`subscribed to ${prefix}/sensors/\\+`))
  const score = /^score: precision ([\d.]+) recall ([\d.]+) /m.exec(stdout)
  assert.ok(score, stdout)
  assert.ok(Number(score[1]) >= 0.9 && Number(score[2]) >= 0.95, stdout)

  const printed = /^iot demo: 20,000 readings .*, (\d+) commands$/m.exec(stdout)
  assert.ok(printed, stdout)
  const expected = Number(printed[1])
  assert.ok(expected >= 4, `expected a few commands in 20,000 readings:\n${stdout}`)
  assert.match(
    stdout,
    new RegExp(
      `^mqtt: 20,000 of 20,000 readings came in from ${prefix}/sensors/\\+; ${expected} of ${expected} commands reached`,
      'm',
    ),
  )
  // Our own subscribers saw the same traffic on the broker.
  const giveUp = Date.now() + 5_000
  while ((commands.length < expected || readings < 20_000) && Date.now() < giveUp) {
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.equal(readings, 20_000, 'readings published on the broker')
  assert.equal(commands.length, expected, JSON.stringify(commands.map((c) => c.topic)))
  for (const { topic, command } of commands) {
    assert.equal(topic, `${prefix}/devices/${command.device}/set`)
    assert.match(command.device, /^[a-z]+-\d\d-hvac$/)
    assert.equal(command.set.mode, command.reason === 'overheat' ? 'cool' : 'auto')
  }
  // Per unit, the commands alternate cool, auto, cool…: hysteresis, seen from the device side.
  const byDevice = new Map<string, string[]>()
  for (const { command } of commands)
    byDevice.set(command.device, [...(byDevice.get(command.device) ?? []), command.set.mode])
  for (const [device, modes] of byDevice) {
    const alternating = modes.map((_, i) => (i % 2 === 0 ? 'cool' : 'auto'))
    assert.deepEqual(modes, alternating, device)
  }
  assert.equal(new Set(commands.map((c) => c.command.id)).size, commands.length, 'each command once')
})
