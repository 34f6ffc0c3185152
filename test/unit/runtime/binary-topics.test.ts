/**
 * Pipelines over binary topics on the embedded log: sources decode each value where it lies in
 * the log's batch (`Codec.decodeAt`), sinks encode into their task's output buffer
 * (`Codec.encodeInto`). Values that fail either way are dead-lettered alone.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import {
  b,
  binaryCodec,
  type Codec,
  type EmbeddedLog,
  EmbeddedRunner,
  openEmbeddedLog,
  type Pipeline,
  pipeline,
  topic,
} from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'

const Reading = b.struct({
  sensor: b.string(),
  at: b.number(),
  celsius: b.number(),
  note: b.optional(b.string()),
})
type Reading = b.Infer<typeof Reading>
const Alert = b.struct({ sensor: b.string(), at: b.number(), fahrenheit: b.number() })
type Alert = b.Infer<typeof Alert>
const readings = binaryCodec(Reading)
const alerts = binaryCodec(Alert)

const live = new Set<EmbeddedRunner>()
after(() => {
  for (const r of live) r.stop()
})

async function runUntil(log: EmbeddedLog, p: Pipeline, done: () => boolean): Promise<void> {
  const runner = new EmbeddedRunner(log, [p], { commitIntervalMs: 2 })
  live.add(runner)
  await runner.start()
  const running = runner.run()
  const deadline = Date.now() + 20_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the outputs')
    await new Promise((r) => setTimeout(r, 5))
  }
  runner.stop()
  await running
  live.delete(runner)
}

function readAll<T>(log: EmbeddedLog, name: string, decode: (bytes: Uint8Array) => T) {
  const out: Array<{ value: T; headers: Record<string, string> }> = []
  for (const p of log.partitionsOf(name)) {
    for (let offset = p.startOffset; ; ) {
      const batch = log.read(p.tp, offset)
      if (batch.length === 0) break
      for (const r of batch) out.push({ value: decode(r.value!), headers: { ...r.headers } })
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return out
}

const ended = (log: EmbeddedLog, name: string, n: number) => () =>
  log.partitionsOf(name).reduce((sum, p) => sum + p.highWatermark, 0) >= n

test('a pipeline reads and writes binary topics: every value arrives exactly, across many batches and commits', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  try {
    const input = topic<Reading>('bin-readings', { codec: readings, timestamp: (r) => r.at })
    const output = topic<Alert>('bin-alerts', { codec: alerts })
    await log.createTopic(input.name, { partitions: 1 })
    const sent: Reading[] = []
    const producer = log.producer()
    for (let batch = 0; batch < 20; batch++) {
      const records = []
      for (let i = 0; i < 1000; i++) {
        const n = batch * 1000 + i
        const r: Reading = {
          sensor: `s-${n % 17}-${'é'.repeat(n % 3)}`,
          at: 1_700_000_000_000 + n,
          celsius: (n % 80) - 20 + 0.25,
          ...(n % 5 === 0 ? { note: 'x'.repeat(n % 300) } : {}),
        }
        sent.push(r)
        records.push({ key: null, value: readings.encode(r) })
      }
      await producer.send(input.name, records)
    }
    await producer.close()
    const p = pipeline('bin-alerts')
    p.from(input)
      .filter((r) => r.celsius > 30)
      .map((r): Alert => ({ sensor: r.sensor, at: r.at, fahrenheit: (r.celsius * 9) / 5 + 32 }))
      .to(output)
    const want = sent
      .filter((r) => r.celsius > 30)
      .map((r) => ({ sensor: r.sensor, at: r.at, fahrenheit: (r.celsius * 9) / 5 + 32 }))
    await runUntil(log, p, ended(log, output.name, want.length))
    const got = readAll(log, output.name, alerts.decode).map((r) => r.value)
    assert.equal(got.length, want.length)
    assert.deepStrictEqual(got, want)
  } finally {
    await log.close()
  }
})

// A value whose encoding fails is dead-lettered, and only it: the outputs of the records before
// it in the same commit stay. (The sink used to note an output before encoding it, so the
// rollback took the output before it instead.)
for (const [format, codec] of [
  ['JSON', undefined],
  ['binary', alerts],
] as const) {
  test(`a ${format} sink that cannot encode a value dead-letters that record alone`, async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir() })
    try {
      const input = topic<{ n: number }>(`enc-${format}-in`)
      const output = topic<Alert>(`enc-${format}-out`, codec ? { codec } : {})
      await log.createTopic(input.name, { partitions: 1 })
      await log.appendBatch(
        { topic: input.name, partition: 0 },
        Array.from({ length: 30 }, (_, n) => ({ key: null, value: JSON.stringify({ n }) })),
      )
      const p = pipeline(`enc-${format}`)
      p.from(input)
        .map(({ n }) =>
          n % 10 === 7
            ? // Neither JSON (JSON.stringify throws on a BigInt) nor the schema's (not a number).
              ({ sensor: 's', at: n, fahrenheit: BigInt(n) } as unknown as Alert)
            : { sensor: 's', at: n, fahrenheit: n },
        )
        .to(output)
      const decode = (codec ?? {
        decode: (v: Uint8Array) => JSON.parse(Buffer.from(v).toString()),
      }) as Codec<Alert>
      await runUntil(log, p, () => ended(log, output.name, 27)() && ended(log, `enc-${format}-dlq`, 3)())
      assert.deepEqual(
        readAll(log, output.name, decode.decode).map((r) => r.value.at),
        Array.from({ length: 30 }, (_, n) => n).filter((n) => n % 10 !== 7),
      )
      const dead = readAll(
        log,
        `enc-${format}-dlq`,
        (v) => JSON.parse(Buffer.from(v).toString()) as { n: number },
      )
      assert.deepEqual(
        dead.map((d) => d.value.n),
        [7, 17, 27],
      )
      assert.match(dead[0]!.headers['sluice-error']!, codec ? /value\.fahrenheit: it is a bigint/ : /BigInt/)
    } finally {
      await log.close()
    }
  })
}

test('bytes a binary source cannot decode are dead-lettered with the reason; the rest flow', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir() })
  try {
    const input = topic<Reading>('bad-bin-in', { codec: readings, timestamp: (r) => r.at })
    const output = topic<Alert>('bad-bin-out', { codec: alerts })
    await log.createTopic(input.name, { partitions: 1 })
    const good = (n: number) => readings.encode({ sensor: 's', at: n, celsius: n })
    await log.appendBatch({ topic: input.name, partition: 0 }, [
      { key: null, value: good(1) },
      { key: null, value: '{"sensor":"s","at":2,"celsius":2}' },
      { key: null, value: good(3).subarray(0, 5) },
      { key: null, value: good(4) },
    ])
    const p = pipeline('bad-bin')
    p.from(input)
      .map((r): Alert => ({ sensor: r.sensor, at: r.at, fahrenheit: r.celsius }))
      .to(output)
    await runUntil(log, p, () => ended(log, output.name, 2)() && ended(log, 'bad-bin-dlq', 2)())
    assert.deepEqual(
      readAll(log, output.name, alerts.decode).map((r) => r.value.at),
      [1, 4],
    )
    const dead = readAll(log, 'bad-bin-dlq', (v) => Buffer.from(v))
    // The original bytes, as they were, with the reason and where they came from.
    assert.equal(dead[0]!.value.toString(), '{"sensor":"s","at":2,"celsius":2}')
    assert.deepEqual(dead[1]!.value, good(3).subarray(0, 5))
    for (const d of dead) assert.match(d.headers['sluice-error']!, /cannot decode a binary value/)
    assert.deepEqual(
      dead.map((d) => d.headers['sluice-source-offset']),
      ['1', '2'],
    )
  } finally {
    await log.close()
  }
})
