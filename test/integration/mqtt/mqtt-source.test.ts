/**
 * mqtt() against the Mosquitto broker on 127.0.0.1:1883: wildcard filters, keys and headers;
 * messages published while the source is stopped arrive after it restarts (persistent session,
 * acknowledged only after the append, so none twice); malformed JSON is dead-lettered. Every run
 * uses its own MQTT topic prefix and connector names, and removes its broker sessions after.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { connectAsync, type MqttClient } from 'mqtt'
import { connect } from '../../../src/connectors/connect.ts'
import { mqtt } from '../../../src/connectors/mqtt/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import type { Source } from '../../../src/connectors/types.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, readValues, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const BROKER = 'mqtt://127.0.0.1:1883'
const run = randomUUID().slice(0, 8)
const prefix = `sluice-test/${run}`

describe('mqtt source (Mosquitto)', () => {
  const dataDir = tempDir()
  let log: EmbeddedLog
  let publisher: MqttClient
  const connectors: string[] = []

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
    publisher = await connectAsync(BROKER, { clientId: `sluice-test-pub-${run}` })
  })
  after(async () => {
    await publisher.endAsync()
    await log.close()
    // The sources' sessions outlive them on purpose; a clean start with no expiry removes them.
    for (const name of connectors) {
      const c = await connectAsync(BROKER, {
        clientId: `sluice-${name}`,
        protocolVersion: 5,
        clean: true,
        properties: { sessionExpiryInterval: 0 },
      })
      await c.endAsync()
    }
  })

  /** Starts a runner with one MQTT source; resolves once the broker confirmed the subscription. */
  async function start(name: string, source: Source<unknown>, target: string) {
    if (!connectors.includes(name)) connectors.push(name)
    const reports: string[] = []
    const runner = new ConnectorRunner(log, [{ kind: 'source', name, source, topic: topic(target) }], {
      report: (m) => reports.push(m),
    })
    runner.start()
    await waitFor(`${name} to subscribe`, () => reports.some((m) => m.includes('subscribed to')))
    return { runner, reports }
  }

  const publish = (t: string, payload: string, qos: 0 | 1 = 1) => publisher.publishAsync(t, payload, { qos })

  test('wildcard filters: matching messages land in the topic, keyed by MQTT topic, with an mqtt-topic header', async () => {
    const name = `mqtt-${run}-wild`
    connect(name, { from: mqtt({ url: BROKER, topics: ['x/+'] }), to: topic('unused') }) // connect() accepts it
    const { runner } = await start(
      name,
      mqtt({ url: BROKER, topics: [`${prefix}/sensors/+/temp`, `${prefix}/plant/#`] }),
      'mqtt-wild',
    )
    try {
      await publish(`${prefix}/sensors/a/temp`, '{"c":20.5}')
      await publish(`${prefix}/sensors/a/humidity`, '{"h":40}') // matches neither filter
      await publish(`${prefix}/sensors/b/temp`, '{"c":21}')
      await publish(`${prefix}/plant/line1/press/3`, '{"bar":2}')
      await waitFor('three records', async () => (await readTopic(log, 'mqtt-wild')).length >= 3)
      await new Promise((r) => setTimeout(r, 200))
      const records = await readTopic(log, 'mqtt-wild')
      const seen = records.map((r) => ({
        key: Buffer.from(r.key!).toString(),
        header: r.headers['mqtt-topic'],
        value: JSON.parse(Buffer.from(r.value!).toString()),
      }))
      assert.deepEqual(seen, [
        { key: `${prefix}/sensors/a/temp`, header: `${prefix}/sensors/a/temp`, value: { c: 20.5 } },
        { key: `${prefix}/sensors/b/temp`, header: `${prefix}/sensors/b/temp`, value: { c: 21 } },
        { key: `${prefix}/plant/line1/press/3`, header: `${prefix}/plant/line1/press/3`, value: { bar: 2 } },
      ])
    } finally {
      await runner.stop()
    }
  })

  test('a key function and parse: text', async () => {
    const name = `mqtt-${run}-text`
    const { runner } = await start(
      name,
      mqtt({ url: BROKER, topics: [`${prefix}/text/+`], parse: 'text', key: (t) => t.split('/').at(-1)! }),
      'mqtt-text',
    )
    try {
      await publish(`${prefix}/text/dev7`, 'hello, world')
      await waitFor('the record', async () => (await readTopic(log, 'mqtt-text')).length >= 1)
      const [r] = await readTopic(log, 'mqtt-text')
      assert.equal(Buffer.from(r!.key!).toString(), 'dev7')
      assert.equal(JSON.parse(Buffer.from(r!.value!).toString()), 'hello, world')
    } finally {
      await runner.stop()
    }
  })

  test('QoS 1 messages published while the source is stopped arrive after it restarts, none twice', async () => {
    const name = `mqtt-${run}-persist`
    const source = () => mqtt({ url: BROKER, topics: [`${prefix}/persist/#`], batchSize: 7 })
    const first = await start(name, source(), 'mqtt-persist')
    for (let i = 0; i < 5; i++) await publish(`${prefix}/persist/d`, JSON.stringify({ i }))
    await waitFor('the first 5', async () => (await readValues(log, 'mqtt-persist')).length >= 5)
    await first.runner.stop()

    // Nobody is connected as the source now: the broker queues these in its session.
    for (let i = 5; i < 45; i++) await publish(`${prefix}/persist/d`, JSON.stringify({ i }))
    const second = await start(name, source(), 'mqtt-persist')
    try {
      await waitFor('all 45', async () => (await readValues(log, 'mqtt-persist')).length >= 45)
      await new Promise((r) => setTimeout(r, 500))
      assert.deepEqual(
        await readValues(log, 'mqtt-persist'),
        Array.from({ length: 45 }, (_, i) => ({ i })),
        'each message once, in order: the first 5 were acknowledged after their append',
      )
    } finally {
      await second.runner.stop()
    }
  })

  test('a failed append acknowledges nothing: after the restart the broker delivers the message again', async () => {
    const name = `mqtt-${run}-fail`
    connectors.push(name)
    let failures = 1
    const flaky = topic<unknown>('mqtt-fail', {
      codec: {
        encode: (v) => {
          if (failures-- > 0) throw new Error('simulated append failure')
          return Buffer.from(JSON.stringify(v))
        },
        decode: (b) => JSON.parse(Buffer.from(b).toString()),
      },
    })
    const reports: string[] = []
    const runner = new ConnectorRunner(
      log,
      [{ kind: 'source', name, source: mqtt({ url: BROKER, topics: [`${prefix}/fail/+`] }), topic: flaky }],
      { report: (m) => reports.push(m) },
    )
    runner.start()
    try {
      await waitFor('the subscription', () => reports.some((m) => m.includes('subscribed to')))
      await publish(`${prefix}/fail/a`, '{"n":1}')
      await waitFor('the record', async () => (await readValues(log, 'mqtt-fail')).length >= 1)
      assert.deepEqual(await readValues(log, 'mqtt-fail'), [{ n: 1 }])
      assert.ok(
        reports.some((m) => m.includes('simulated append failure')),
        reports.join('\n'),
      )
    } finally {
      await runner.stop()
    }
  })

  test('malformed JSON goes to the dead-letter topic with a clear error, and the source goes on', async () => {
    const name = `mqtt-${run}-bad`
    const { runner } = await start(name, mqtt({ url: BROKER, topics: [`${prefix}/bad/+`] }), 'mqtt-bad')
    try {
      await publish(`${prefix}/bad/s1`, '{"ok":1}')
      await publish(`${prefix}/bad/s2`, '{"temp": 2')
      await publish(`${prefix}/bad/s1`, '{"ok":2}')
      await waitFor('the good messages', async () => (await readValues(log, 'mqtt-bad')).length >= 2)
      await waitFor('the dead letter', async () => (await readTopic(log, `${name}-dlq`)).length >= 1)
      assert.deepEqual(await readValues(log, 'mqtt-bad'), [{ ok: 1 }, { ok: 2 }])
      const [dead] = await readTopic(log, `${name}-dlq`)
      assert.equal(Buffer.from(dead!.value!).toString(), '{"temp": 2')
      assert.equal(dead!.headers['mqtt-topic'], `${prefix}/bad/s2`)
      assert.equal(dead!.headers['sluice-connector'], name)
      assert.match(
        dead!.headers['sluice-error']!,
        new RegExp(`^MQTT message on "${prefix}/bad/s2" is not valid JSON`),
      )
      assert.equal(runner.status()[0]!.state, 'running')
      assert.equal(runner.status()[0]!.deadLetters, 1)
    } finally {
      await runner.stop()
    }
  })

  test('a broker that is not there: reconnects with backoff, reported, and stops cleanly', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as { port: number }).port
    await new Promise((r) => closed.close(r))
    const reports: string[] = []
    const name = `mqtt-${run}-down`
    const runner = new ConnectorRunner(
      log,
      [
        {
          kind: 'source',
          name,
          source: mqtt({ url: `mqtt://127.0.0.1:${port}`, topics: ['a/#'] }),
          topic: topic('mqtt-down'),
        },
      ],
      { report: (m) => reports.push(m) },
    )
    runner.start()
    try {
      await waitFor(
        'two failed attempts',
        () => reports.filter((m) => m.includes('no connection to')).length >= 2,
      )
      assert.match(
        reports[0]!,
        new RegExp(
          `${name}: no connection to mqtt://127.0.0.1:${port} \\(.*ECONNREFUSED.*\\); reconnecting in \\d+ ms`,
        ),
      )
    } finally {
      await runner.stop()
    }
    assert.equal(runner.status()[0]!.state, 'stopped')
  })

  test('options that cannot work are refused up front', () => {
    assert.throws(() => mqtt({ url: 'http://x', topics: ['a'] }), /url must look like mqtt:\/\//)
    assert.throws(() => mqtt({ url: BROKER, topics: [] }), /at least one topic filter/)
    assert.throws(() => mqtt({ url: BROKER, topics: ['a/#/b'] }), /not a valid topic filter/)
    assert.throws(() => mqtt({ url: BROKER, topics: ['a/b+'] }), /not a valid topic filter/)
  })
})
