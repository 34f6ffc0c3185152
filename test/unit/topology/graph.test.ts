/**
 * topologyGraph(): the dashboard's picture of a pipeline. Names are the stable step names,
 * edges follow the records (join sides and table lookups labelled, keyBy into the next
 * subtopology), and a window's index is where its figures sit in each task's metrics —
 * checked against a running task, since that order is the chain builder's, not the DSL's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compile, count, EmbeddedRunner, openEmbeddedLog, pipeline, topic, tumbling } from 'sluice'
import { topologyGraph } from '../../../src/topology/graph.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Reading {
  sensor: string
  value: number
  at: number
}

test('nodes carry stable names, kinds and topics; edges follow records across a keyBy', () => {
  const readings = topic<Reading>('g-readings', { key: (r) => r.sensor, timestamp: (r) => r.at })
  const sensors = topic<{ sensor: string; room: string }>('g-sensors')
  const late = topic<Reading>('g-late')
  const p = pipeline('g-count')
  const rooms = p.table(sensors, { name: 'rooms' })
  p.from(readings, { watermark: { maxOutOfOrder: '2s', idleAfter: '10s' } })
    .filter((r) => r.value >= 0, { name: 'valid' })
    .join(rooms, (r, room) => ({ ...r, room: room.room }), { name: 'with-room' })
    .keyBy((r) => r.room)
    .window(tumbling({ size: '1s' }), { allowedLateness: 0, late })
    .aggregate(count(), { name: 'per-room' })
    .to(topic('g-counts'))
  const g = topologyGraph(compile(p))

  const byName = new Map(g.nodes.map((n) => [n.name, n]))
  assert.deepEqual(g.nodes.map((n) => `${n.subtopology}:${n.kind}:${n.name}`).sort(), [
    '0:filter:valid',
    '0:repartition:per-room-by',
    '0:source:g-readings',
    '0:stream-table-join:with-room',
    '0:table:rooms',
    '1:sink:sink-0',
    '1:source:g-count-per-room-by-repartition',
    '1:window-aggregate:per-room',
  ])
  assert.deepEqual(byName.get('g-readings')!.watermark, {
    maxOutOfOrderMs: 2000,
    idleAfterMs: 10_000,
    advanceWithProcessingTime: false,
  })
  // A table defaults to idle after 1 s; a repartition input never goes idle.
  assert.equal(byName.get('rooms')!.watermark!.idleAfterMs, 1000)
  assert.equal(byName.get('g-count-per-room-by-repartition')!.internal, true)
  assert.equal(byName.get('g-count-per-room-by-repartition')!.watermark!.idleAfterMs, 0)
  const window = byName.get('per-room')!
  assert.equal(window.detail, 'tumbling 1 s, lateness 0, emit final')
  assert.equal(window.lateTopic, 'g-late')
  assert.equal(window.store, 'g-count.per-room')
  assert.equal(window.window, 0)
  assert.equal(byName.get('sink-0')!.topic, 'g-counts')

  const edges = g.edges.map((e) => `${e.from} -> ${e.to}${e.label ? ` (${e.label})` : ''}`).sort()
  assert.deepEqual(edges, [
    'g-count-per-room-by-repartition -> per-room',
    'g-readings -> valid',
    'per-room -> sink-0',
    'per-room-by -> g-count-per-room-by-repartition (repartition)',
    'rooms -> with-room (lookup)',
    'valid -> with-room',
    'with-room -> per-room-by',
  ])
  assert.deepEqual(g.sourceTopics.sort(), ['g-readings', 'g-sensors'])
  assert.deepEqual(g.sinkTopics.sort(), ['g-counts', 'g-late'])
  assert.deepEqual(g.repartitionTopics, ['g-count-per-room-by-repartition'])
  assert.equal(g.deadLetterTopic, 'g-count-dlq')
})

test('a stream-stream join is drawn as left and right edges into one node', () => {
  const a = topic<Reading>('g-a', { key: (r) => r.sensor, timestamp: (r) => r.at })
  const b = topic<Reading>('g-b', { key: (r) => r.sensor, timestamp: (r) => r.at })
  const p = pipeline('g-join')
  p.from(a)
    .join(p.from(b), (x, y) => ({ x, y }), { within: '5s', name: 'pair' })
    .to(topic('g-pairs'))
  const g = topologyGraph(compile(p))
  const into = g.edges.filter((e) => e.to === 'pair')
  assert.deepEqual(into.map((e) => `${e.from} ${e.label}`).sort(), ['g-a left', 'g-b right'])
  assert.equal(g.nodes.filter((n) => n.name === 'pair').length, 1)
  assert.ok(!g.nodes.some((n) => n.kind === 'join-side'))
})

test("a window's index is where a running task reports its figures", async () => {
  const readings = topic<Reading>('g-order', { key: (r) => r.sensor, timestamp: (r) => r.at, partitions: 1 })
  // Two windows in one task, the second downstream of the first: the chain builder registers
  // the downstream one first, the reverse of declaration order.
  const p = pipeline('g-order')
  p.from(readings, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    .keyed()
    .window(tumbling({ size: '1s' }))
    .aggregate(count(), { name: 'fine' })
    .keyed()
    .window(tumbling({ size: '10s' }))
    .aggregate(count<unknown>(), { name: 'coarse' })
    .to(topic('g-order-out'))
  const g = topologyGraph(compile(p))
  const fine = g.nodes.find((n) => n.name === 'fine')!.window!
  const coarse = g.nodes.find((n) => n.name === 'coarse')!.window!
  assert.deepEqual([coarse, fine], [0, 1], 'the downstream window is built first')

  const log = await openEmbeddedLog({ dataDir: tempDir() })
  const runner = new EmbeddedRunner(log, [p])
  await runner.start()
  const running = runner.run()
  const producer = log.producer()
  try {
    // Event time 500 opens the fine window [0, 1000); nothing reaches the coarse one yet.
    await producer.send('g-order', {
      key: Buffer.from('s1'),
      value: Buffer.from(JSON.stringify({ sensor: 's1', value: 1, at: 500 })),
    })
    const deadline = Date.now() + 10_000
    let windows = runner.metrics()[0]!.tasks[0]!.windows
    while (windows[fine]?.openWindows !== 1) {
      if (Date.now() > deadline) throw new Error(`windows: ${JSON.stringify(windows)}`)
      await new Promise((r) => setTimeout(r, 10))
      windows = runner.metrics()[0]!.tasks[0]!.windows
    }
    assert.equal(windows[fine]!.nextClose, 1000)
    assert.equal(windows[coarse]!.openWindows, 0)
  } finally {
    runner.stop()
    await running
    await producer.close()
    await log.close()
  }
})
