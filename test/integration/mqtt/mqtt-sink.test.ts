/**
 * mqttSink() against the Mosquitto broker on 127.0.0.1:1883, with a subscriber of the test's own
 * receiving what the sink publishes: each record on its topic (function or template), as JSON
 * or its own payload, retained, at QoS 0/1/2; invalid topics dead-lettered while the rest goes
 * out. Failures go through a TCP relay in front of the broker that the test controls: a relay
 * that drops the broker's acknowledgements shows the offsets commit only after them; one that
 * cuts the connection mid-batch shows the sink reconnecting with nothing lost; a port that
 * refuses shows the write failing with the reason until a broker is there. A private Mosquitto
 * (a temporary config on a free port) gives a Maximum Packet Size and an ACL to test oversized
 * payloads and refused messages. Every run uses its own topic prefix and connector names.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { accessSync, chmodSync, constants, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connectAsync, type MqttClient } from 'mqtt'
import { connect } from '../../../src/connectors/connect.ts'
import { mqttSink } from '../../../src/connectors/mqtt/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import type { ConnectorStatus } from '../../../src/connectors/status.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const BROKER_PORT = 1883
const BROKER = `mqtt://127.0.0.1:${BROKER_PORT}`
const run = randomUUID().slice(0, 8)
const prefix = `sluice-test/sink-${run}`

interface Received {
  topic: string
  payload: string
  retain: boolean
}

/** A subscriber of the test's own: what a device would receive. */
async function subscriber(
  url: string,
  filter: string,
): Promise<{ client: MqttClient; received: Received[] }> {
  const client = await connectAsync(url, { clientId: `sluice-test-sub-${randomUUID().slice(0, 8)}` })
  const received: Received[] = []
  client.on('message', (t, payload, packet) => {
    received.push({ topic: t, payload: payload.toString('utf8'), retain: packet.retain })
  })
  await client.subscribeAsync(filter, { qos: 1 })
  return { client, received }
}

/**
 * A TCP relay to the broker. `holdAcks`: the broker's CONNACK reaches the client, nothing after
 * it does (the PUBACKs are dropped; the PUBLISHes still reach the broker). `cutAfterBytes`: once
 * that many bytes went to the broker, every connection is cut (once).
 */
class Relay {
  readonly server: Server
  readonly sockets = new Set<Socket>()
  connections = 0
  holdAcks = false
  cutAfterBytes = Number.POSITIVE_INFINITY
  #forwarded = 0

  constructor() {
    this.server = createServer((client) => {
      this.connections++
      const upstream = tcpConnect(BROKER_PORT, '127.0.0.1')
      this.sockets.add(client).add(upstream)
      let connack = true
      client.on('data', (d: Buffer) => {
        upstream.write(d)
        this.#forwarded += d.length
        if (this.#forwarded >= this.cutAfterBytes) {
          this.cutAfterBytes = Number.POSITIVE_INFINITY
          this.cut()
        }
      })
      upstream.on('data', (d: Buffer) => {
        if (connack || !this.holdAcks) client.write(d)
        connack = false
      })
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        a.on('close', () => {
          b.destroy()
          this.sockets.delete(a)
        })
        a.on('error', () => {})
      }
    })
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    return `mqtt://127.0.0.1:${(this.server.address() as { port: number }).port}`
  }

  cut(): void {
    for (const s of this.sockets) s.destroy()
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise((r) => this.server.close(r))
  }
}

/** A port nothing listens on (it was free a moment ago). */
async function refusingPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

interface Command {
  device: string
  mode: 'cool' | 'heat' | 'auto'
  seq: number
}

describe('mqtt sink (Mosquitto)', () => {
  const dataDir = tempDir()
  let log: EmbeddedLog
  const cleanups: (() => Promise<unknown>)[] = []

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
  })
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {})
    await log.close()
  })

  async function produce(name: string, values: unknown[]) {
    if (!(await log.hasTopic(name))) await log.createTopic(name, { partitions: 1 })
    const producer = log.producer()
    await producer.send(
      name,
      values.map((v) => ({ key: null, value: Buffer.from(JSON.stringify(v)) })),
    )
    await producer.close()
  }

  /** Runs the connectors until `body` resolves; returns their status getter meanwhile. */
  async function running<R>(
    connectors: ConstructorParameters<typeof ConnectorRunner>[1],
    body: (status: () => ConnectorStatus) => Promise<R>,
  ): Promise<R> {
    const runner = new ConnectorRunner(log, connectors)
    runner.start()
    try {
      return await body(() => runner.status()[0]!)
    } finally {
      await runner.stop()
    }
  }

  const committed = async (name: string, t: string) =>
    (await log.committedOffsets(`sluice-connect.${name}`, t)).get(0)

  const commands = (n: number, devices: number): Command[] =>
    Array.from({ length: n }, (_, i) => ({
      device: `d${i % devices}`,
      mode: (['cool', 'heat', 'auto'] as const)[i % 3]!,
      seq: i,
    }))

  test('each record reaches a subscriber on its topic, as JSON, in order; the offsets commit after', async () => {
    const name = `mqtt-sink-${run}-basic`
    const t = `${name}-in`
    const { client, received } = await subscriber(BROKER, `${prefix}/basic/#`)
    cleanups.push(() => client.endAsync())
    const values = commands(30, 3)
    await produce(t, values)
    const commandsTopic = topic<Command>(t)
    const c = connect(name, {
      from: commandsTopic,
      to: mqttSink<Command>({ url: BROKER, topic: (cmd) => `${prefix}/basic/devices/${cmd.device}/set` }),
    })
    await running([c], async (status) => {
      await waitFor('30 messages', () => received.length >= 30)
      await waitFor('the commit', async () => (await committed(name, t)) === 30)
      assert.equal(status().records, 30)
      assert.equal(status().deadLetters, 0)
    })
    assert.deepEqual(
      received,
      values.map((v) => ({
        topic: `${prefix}/basic/devices/${v.device}/set`,
        payload: JSON.stringify(v),
        retain: false,
      })),
    )
  })

  test('a template topic, a payload function, retained at QoS 2; a missing field is dead-lettered', async () => {
    const name = `mqtt-sink-${run}-tpl`
    const t = `${name}-in`
    interface Setting {
      room?: { id: string }
      kind: string
      text: string
    }
    const values: Setting[] = [
      { room: { id: 'r1' }, kind: 'fan', text: 'on' },
      { room: { id: 'r2' }, kind: 'fan', text: 'off' },
      { kind: 'fan', text: 'lost' }, // no room: no topic
      { room: { id: 'r1' }, kind: 'fan', text: 'low' },
    ]
    await produce(t, values)
    const topics = [`${prefix}/tpl/rooms/r1/fan`, `${prefix}/tpl/rooms/r2/fan`]
    cleanups.push(async () => {
      // Retained messages outlive the test; an empty retained message removes each.
      const c = await connectAsync(BROKER)
      for (const tp of topics) await c.publishAsync(tp, '', { qos: 1, retain: true })
      await c.endAsync()
    })
    const c = connect(name, {
      from: topic<Setting>(t),
      to: mqttSink<Setting>({
        url: BROKER,
        topic: `${prefix}/tpl/rooms/{room.id}/{kind}`,
        payload: (s) => s.text,
        qos: 2,
        retain: true,
      }),
    })
    await running([c], async (status) => {
      await waitFor('the commit', async () => (await committed(name, t)) === 4)
      assert.equal(status().deadLetters, 1)
    })
    // A device that subscribes later gets each topic's last message, retained.
    const late = await subscriber(BROKER, `${prefix}/tpl/#`)
    try {
      await waitFor('the retained messages', () => late.received.length >= 2)
      assert.deepEqual(
        late.received.sort((a, b) => a.topic.localeCompare(b.topic)),
        [
          { topic: topics[0], payload: 'low', retain: true },
          { topic: topics[1], payload: 'off', retain: true },
        ],
      )
    } finally {
      await late.client.endAsync()
    }
    const [dead] = await readTopic(log, `${name}-dlq`)
    assert.equal(dead!.headers['sluice-source-offset'], '2')
    assert.equal(JSON.parse(Buffer.from(dead!.value!).toString()).text, 'lost')
    assert.equal(
      dead!.headers['sluice-error'],
      "the record's MQTT topic could not be made: {room.id} is missing in this record's value (a placeholder takes a string or a number)",
    )
  })

  test('QoS 0 publishes too (at-most-once: nothing waits for the broker)', async () => {
    const name = `mqtt-sink-${run}-qos0`
    const t = `${name}-in`
    const { client, received } = await subscriber(BROKER, `${prefix}/qos0/#`)
    cleanups.push(() => client.endAsync())
    await produce(t, commands(200, 4))
    const c = connect(name, {
      from: topic<Command>(t),
      to: mqttSink<Command>({ url: BROKER, qos: 0, topic: (cmd) => `${prefix}/qos0/${cmd.device}` }),
    })
    await running([c], async () => {
      await waitFor('the commit', async () => (await committed(name, t)) === 200)
      await waitFor('200 messages', () => received.length >= 200)
    })
    assert.deepEqual(
      received.map((r) => (JSON.parse(r.payload) as Command).seq),
      Array.from({ length: 200 }, (_, i) => i),
    )
  })

  test('invalid topics go to the dead-letter topic with the reason; the other records are published', async () => {
    const name = `mqtt-sink-${run}-invalid`
    const t = `${name}-in`
    const { client, received } = await subscriber(BROKER, `${prefix}/invalid/#`)
    cleanups.push(() => client.endAsync())
    const ok = (i: number) => `${prefix}/invalid/ok/${i}`
    const targets = [
      ok(0),
      '',
      `${prefix}/invalid/+/x`,
      ok(1),
      `${prefix}/invalid/#`,
      'throw',
      `${prefix}/invalid/${'x'.repeat(70_000)}`,
      ok(2),
    ]
    await produce(
      t,
      targets.map((target, i) => ({ target, i })),
    )
    const c = connect(name, {
      from: topic<{ target: string; i: number }>(t),
      to: mqttSink<{ target: string; i: number }>({
        url: BROKER,
        topic: (v) => {
          if (v.target === 'throw') throw new Error('no device for this record')
          return v.target
        },
      }),
    })
    await running([c], async (status) => {
      await waitFor('the commit', async () => (await committed(name, t)) === targets.length)
      assert.equal(status().deadLetters, 5)
      assert.equal(status().records, targets.length)
      assert.equal(status().state, 'running')
    })
    await waitFor('3 messages', () => received.length >= 3)
    assert.deepEqual(
      received.map((r) => r.topic),
      [ok(0), ok(1), ok(2)],
    )
    const dead = await readTopic(log, `${name}-dlq`)
    const errors = new Map(
      dead.map((d) => [Number(d.headers['sluice-source-offset']), d.headers['sluice-error']]),
    )
    assert.deepEqual([...errors.keys()].sort(), [1, 2, 4, 5, 6])
    assert.equal(errors.get(1), 'invalid MQTT topic "": it is empty')
    assert.equal(
      errors.get(2),
      `invalid MQTT topic "${prefix}/invalid/+/x": it contains a wildcard (+ or #); wildcards are for subscribing, a message goes to one topic`,
    )
    assert.match(errors.get(4)!, /^invalid MQTT topic ".*\/invalid\/#": it contains a wildcard/)
    assert.equal(errors.get(5), "the record's MQTT topic could not be made: no device for this record")
    assert.match(
      errors.get(6)!,
      /^invalid MQTT topic ".*xxx…": it is 70,0\d\d bytes in UTF-8; MQTT allows 65,535$/,
    )
    for (const d of dead) {
      assert.equal(d.headers['sluice-connector'], name)
      const offset = Number(d.headers['sluice-source-offset'])
      assert.deepEqual(JSON.parse(Buffer.from(d.value!).toString()), { target: targets[offset], i: offset })
    }
  })

  test('QoS 1: the offsets commit only after the broker acknowledged; nothing lost once it does', async () => {
    const name = `mqtt-sink-${run}-acks`
    const t = `${name}-in`
    const relay = new Relay()
    const url = await relay.listen()
    cleanups.push(() => relay.close())
    const { client, received } = await subscriber(BROKER, `${prefix}/acks/#`)
    cleanups.push(() => client.endAsync())
    const values = commands(200, 5)
    await produce(t, values)
    relay.holdAcks = true
    const c = connect(name, {
      from: topic<Command>(t),
      to: mqttSink<Command>({
        url,
        topic: (cmd) => `${prefix}/acks/${cmd.device}`,
        timeoutMs: 300,
        retries: 1,
        batchSize: 100,
      }),
    })
    await running([c], async (status) => {
      // The broker has them (the subscriber does), the sink has no acknowledgement: no commit.
      await waitFor('messages at the broker', () => received.length >= 20)
      await waitFor('a failed write', () => status().state === 'retrying')
      assert.match(
        status().lastError!,
        /^mqtt: 100 of 100 messages not acknowledged by mqtt:\/\/127\.0\.0\.1:\d+ after 2 connections; last: no acknowledgement from the broker within 300 ms$/,
      )
      assert.equal(await committed(name, t), undefined)
      assert.equal(status().records, 0)
      relay.holdAcks = false
      await waitFor('the commit', async () => (await committed(name, t)) === 200)
      assert.equal(status().state, 'running')
    })
    await waitFor('the last message', () =>
      received.some((r) => (JSON.parse(r.payload) as Command).seq === 199),
    )
    const seen = new Map<number, number>()
    for (const r of received) {
      const seq = (JSON.parse(r.payload) as Command).seq
      seen.set(seq, (seen.get(seq) ?? 0) + 1)
    }
    assert.deepEqual(
      [...seen.keys()].sort((a, b) => a - b),
      values.map((v) => v.seq),
      'every record reached the subscriber',
    )
    assert.ok(
      [...seen.values()].some((n) => n > 1),
      'the messages the broker got without acknowledging came again',
    )
  })

  test('a connection cut mid-batch: the sink reconnects, nothing is lost, each device ends on its last record', async () => {
    const name = `mqtt-sink-${run}-cut`
    const t = `${name}-in`
    const relay = new Relay()
    const url = await relay.listen()
    cleanups.push(() => relay.close())
    const { client, received } = await subscriber(BROKER, `${prefix}/cut/#`)
    cleanups.push(() => client.endAsync())
    const values = commands(3_000, 10)
    await produce(t, values)
    relay.cutAfterBytes = 40_000 // about 450 messages in: inside the first batch of 500
    const c = connect(name, {
      from: topic<Command>(t),
      to: mqttSink<Command>({ url, topic: (cmd) => `${prefix}/cut/${cmd.device}` }),
    })
    await running([c], async () => {
      await waitFor('the commit', async () => (await committed(name, t)) === 3_000, 60_000)
    })
    await waitFor('the last message', () =>
      received.some((r) => (JSON.parse(r.payload) as Command).seq === 2_999),
    )
    assert.ok(relay.connections >= 2, `the sink reconnected (${relay.connections} connections)`)
    const seqs = new Set(received.map((r) => (JSON.parse(r.payload) as Command).seq))
    assert.equal(seqs.size, 3_000, 'every record reached the subscriber')
    // What a device is left with: the last message on its topic is its last record.
    const last = new Map<string, number>()
    for (const r of received) last.set(r.topic, (JSON.parse(r.payload) as Command).seq)
    for (let d = 0; d < 10; d++) assert.equal(last.get(`${prefix}/cut/d${d}`), 2_990 + d)
  })

  test('a port that refuses: writes fail with the reason on the status; once a broker is there, all goes out', async () => {
    const name = `mqtt-sink-${run}-refused`
    const t = `${name}-in`
    const port = await refusingPort()
    const { client, received } = await subscriber(BROKER, `${prefix}/refused/#`)
    cleanups.push(() => client.endAsync())
    const values = commands(5, 5)
    await produce(t, values)
    const c = connect(name, {
      from: topic<Command>(t),
      to: mqttSink<Command>({
        url: `mqtt://127.0.0.1:${port}`,
        topic: (cmd) => `${prefix}/refused/${cmd.device}`,
        retries: 1,
      }),
    })
    await running([c], async (status) => {
      await waitFor('a failed write', () => status().errors >= 2)
      assert.equal(status().state, 'retrying')
      assert.match(
        status().lastError!,
        new RegExp(
          `^mqtt: 5 of 5 messages not acknowledged by mqtt://127\\.0\\.0\\.1:${port} after 2 connections; last: cannot connect to mqtt://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)$`,
        ),
      )
      assert.equal(await committed(name, t), undefined)
      const relay = new Relay()
      await relay.listen(port)
      cleanups.push(() => relay.close())
      await waitFor('the commit', async () => (await committed(name, t)) === 5, 60_000)
    })
    await waitFor('5 messages', () => received.length >= 5)
    assert.deepEqual(
      received.map((r) => JSON.parse(r.payload) as Command),
      values,
      'each once: nothing was sent before',
    )
  })

  const mosquitto = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto'].find(
    (p) => {
      try {
        accessSync(p, constants.X_OK)
        return true
      } catch {
        return false
      }
    },
  )

  /**
   * Starts a Mosquitto of this test's own with `config` (its listeners on the ports given, each
   * free a moment ago); resolves once it accepts connections on the first one. Stopped after the file.
   */
  async function privateBroker(config: (ports: number[], dir: string) => string[], listeners = 1) {
    const dir = tempDir('sluice-mosquitto-')
    chmodSync(dir, 0o755) // Mosquitto started as root reads its files as the mosquitto user
    const ports: number[] = []
    for (let i = 0; i < listeners; i++) ports.push(await refusingPort())
    writeFileSync(join(dir, 'mosquitto.conf'), ['persistence false', ...config(ports, dir)].join('\n'), {
      mode: 0o644,
    })
    const broker: ChildProcess = spawn(mosquitto!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' })
    cleanups.push(async () => {
      broker.kill()
      await new Promise((r) => broker.once('exit', r))
    })
    const urls = ports.map((p) => `mqtt://127.0.0.1:${p}`)
    await waitFor('the private broker', async () => {
      const probe = await connectAsync(urls[0]!, { reconnectPeriod: 0 }).catch(() => undefined)
      await probe?.endAsync()
      return probe !== undefined
    })
    return { urls, dir }
  }
  const noMosquitto = mosquitto ? false : "no mosquitto binary to start a broker of the test's own"

  test("a private broker's limits: over its Maximum Packet Size, or refused by its ACL, a message is dead-lettered", {
    skip: noMosquitto,
  }, async () => {
    const { urls } = await privateBroker((ports, dir) => {
      writeFileSync(join(dir, 'acl'), 'topic readwrite open/#\n', { mode: 0o644 })
      return [
        `listener ${ports[0]} 127.0.0.1`,
        'allow_anonymous true',
        'max_packet_size 1024',
        `acl_file ${join(dir, 'acl')}`,
      ]
    })
    const url = urls[0]!
    const sub = await subscriber(url, 'open/#')
    cleanups.push(() => sub.client.endAsync())
    const name = `mqtt-sink-${run}-limits`
    const t = `${name}-in`
    // The packet is 1 + 2 (remaining length) + 2 + 6 ("open/a") + 2 (packet id) + 1 (properties) + payload.
    const values = [
      { to: 'open/a', size: 1_010 }, // 1,024 bytes: at the limit
      { to: 'open/a', size: 1_011 },
      { to: 'open/a', size: 5_000 },
      { to: 'closed/b', size: 10 },
      { to: 'open/a', size: 3 },
    ]
    await produce(t, values)
    const c = connect(name, {
      from: topic<{ to: string; size: number }>(t),
      to: mqttSink<{ to: string; size: number }>({
        url,
        topic: (v) => v.to,
        payload: (v) => 'x'.repeat(v.size),
      }),
    })
    await running([c], async (status) => {
      await waitFor('the commit', async () => (await committed(name, t)) === 5)
      assert.equal(status().deadLetters, 3)
    })
    await waitFor('2 messages', () => sub.received.length >= 2)
    assert.deepEqual(
      sub.received.map((r) => r.payload.length),
      [1_010, 3],
    )
    const errors = new Map(
      (await readTopic(log, `${name}-dlq`)).map((d) => [
        Number(d.headers['sluice-source-offset']),
        d.headers['sluice-error'],
      ]),
    )
    assert.equal(
      errors.get(1),
      `the message on "open/a" is 1,025 bytes as an MQTT packet (payload 1,011); the broker at ${url} accepts at most 1,024 (its Maximum Packet Size)`,
    )
    assert.match(errors.get(2)!, /is 5,014 bytes as an MQTT packet \(payload 5,000\)/)
    assert.equal(
      errors.get(3),
      `the broker at ${url} refused the message on "closed/b": Not authorized (reason code 0x87)`,
    )
  })

  test('a broker that refuses the client, or keeps no retained messages: writes fail and say why, nothing is committed', {
    skip: noMosquitto,
  }, async () => {
    const { urls } = await privateBroker(
      (ports) => [
        'per_listener_settings true',
        'retain_available false',
        `listener ${ports[0]} 127.0.0.1`,
        'allow_anonymous true',
        `listener ${ports[1]} 127.0.0.1`,
        'allow_anonymous false',
      ],
      2,
    )
    const name = `mqtt-sink-${run}-refusals`
    const t = `${name}-in`
    await produce(t, commands(3, 3))
    const sink = (url: string, retain: boolean) =>
      mqttSink<Command>({ url, topic: 'cmd/{device}', retain, retries: 0 })
    const runner = new ConnectorRunner(log, [
      connect(`${name}-retain`, { from: topic<Command>(t), to: sink(urls[0]!, true) }),
      connect(`${name}-auth`, { from: topic<Command>(t), to: sink(urls[1]!, false) }),
    ])
    runner.start()
    try {
      await waitFor('failed writes', () => runner.status().every((s) => s.errors >= 2))
      const [retain, auth] = runner.status()
      assert.equal(
        retain!.lastError,
        `mqtt: 3 of 3 messages not acknowledged by ${urls[0]} after 1 connection; last: the broker at ${urls[0]} does not keep retained messages; set retain: false`,
      )
      assert.equal(
        auth!.lastError,
        `mqtt: 3 of 3 messages not acknowledged by ${urls[1]} after 1 connection; last: cannot connect to ${urls[1]} (Connection refused: Not authorized)`,
      )
      for (const s of runner.status()) {
        assert.equal(s.state, 'retrying')
        assert.equal(await committed(s.name, t), undefined)
      }
    } finally {
      await runner.stop()
    }
  })

  test('options that cannot work are refused up front', () => {
    const t = (o: object) => () => mqttSink({ url: BROKER, topic: 'a/b', ...o })
    assert.throws(t({ url: 'http://x' }), /url must look like mqtt:\/\//)
    assert.throws(t({ topic: 'devices/+/set' }), /contains a wildcard/)
    assert.throws(
      t({ topic: 'devices/{device/set' }),
      /has a \{ or \} that is not part of a \{field\} placeholder/,
    )
    assert.throws(t({ topic: 'devices/{a b}/set' }), /has the placeholder \{a b\}: name a field of the value/)
    assert.throws(t({ topic: '' }), /is not a valid MQTT topic: it is empty/)
    assert.throws(t({ topic: 42 }), /give topic: a function of the value, or a template/)
    assert.throws(t({ qos: 3 }), /qos must be 0, 1 or 2, got 3/)
    assert.throws(t({ retries: -1 }), /retries must be 0 or more/)
    assert.throws(t({ timeoutMs: 0 }), /timeoutMs must be a positive integer/)
  })
})
