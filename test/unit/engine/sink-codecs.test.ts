/**
 * What a sink writes, byte for byte, with each kind of codec: the JSON codec hands the log its
 * text (Codec.encodeText), a codec with only `encode` hands it bytes, and a value JSON has no
 * text for is a dead letter that says so. Run on the embedded log, where the bytes are stored.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type Codec,
  EmbeddedRunner,
  openEmbeddedLog,
  partitionForKey,
  pipeline,
  stringCodec,
  topic,
} from 'sluice'
import { TestDriver } from 'sluice/testing'
import { tempDir } from '../../helpers/temp-dir.ts'

/** A bytes-only codec: values as upper-case text with a marker byte in front (no encodeText). */
const shouting: Codec<string> = {
  encode: (value) => Buffer.concat([Buffer.from([0x01]), Buffer.from(value.toUpperCase())]),
  decode: (bytes) => Buffer.from(bytes).subarray(1).toString(),
}

test('JSON, string and bytes-only sinks store the bytes their codecs define', async () => {
  const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
  try {
    const input = topic<{ city: string; n: number }>('sc-in', { partitions: 2 })
    const asJson = topic<{ city: string; n: number }>('sc-json', { partitions: 2 })
    const asText = topic<string>('sc-text', { codec: stringCodec })
    const asBytes = topic<string>('sc-bytes', { codec: shouting })
    const p = pipeline('sc')
    const s = p.from(input)
    s.to(asJson)
    s.map((v) => `${v.city}:${v.n}`).to(asText)
    s.map((v) => v.city).to(asBytes)
    await log.createTopic(input.name, { partitions: 2 })
    const values = [
      { city: 'Zürich', n: 1 },
      { city: '東京', n: 2 },
      { city: 'Köln 🐟', n: 3 },
    ]
    await log.producer().send(
      input.name,
      values.map((v, i) => ({ key: `k${i}`, value: Buffer.from(JSON.stringify(v)) })),
    )
    const runner = new EmbeddedRunner(log, [p], { metrics: false })
    await runner.start()
    const done = runner.run()
    const read = async (name: string) => {
      const out: Array<{ key: string; value: Buffer }> = []
      for (const part of log.partitionsOf(name))
        for (const r of log.read(part.tp, 0, { maxRecords: 100 }))
          out.push({ key: Buffer.from(r.key!).toString(), value: Buffer.from(r.value!) })
      return out.sort((a, b) => a.key.localeCompare(b.key))
    }
    const deadline = Date.now() + 10_000
    while ((await read(asBytes.name)).length < 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10))
    runner.stop()
    await done
    assert.deepEqual(
      (await read(asJson.name)).map((r) => [r.key, r.value.toString()]),
      values.map((v, i) => [`k${i}`, JSON.stringify(v)]),
    )
    assert.deepEqual(
      (await read(asText.name)).map((r) => [r.key, r.value.toString()]),
      values.map((v, i) => [`k${i}`, `${v.city}:${v.n}`]),
    )
    assert.deepEqual(
      (await read(asBytes.name)).map((r) => [r.key, r.value]),
      values.map((v, i) => [`k${i}`, Buffer.concat([Buffer.from([1]), Buffer.from(v.city.toUpperCase())])]),
    )
    // Keys were handed over as strings: they land where the same bytes would.
    for (const name of [asJson.name, asText.name, asBytes.name]) {
      for (const part of log.partitionsOf(name)) {
        for (const r of log.read(part.tp, 0, { maxRecords: 100 })) {
          assert.equal(part.partition, partitionForKey(r.key!, 2))
        }
      }
    }
  } finally {
    await log.close()
  }
})

test('a value JSON has no text for is a dead letter that names the problem', () => {
  const input = topic<number>('sc-fn-in')
  const out = topic<unknown>('sc-fn-out')
  const p = pipeline('sc-fn')
  p.from(input)
    .map((n) => (n === 2 ? () => n : { n }))
    .to(out)
  const d = new TestDriver(p)
  for (const n of [1, 2, 3]) d.pipe(input, n, { key: 'k', timestamp: n })
  assert.deepEqual(d.values(out), [{ n: 1 }, { n: 3 }])
  const dead = d.deadLetters()
  assert.equal(dead.length, 1)
  assert.equal(dead[0]!.value, '2')
  assert.match(JSON.stringify(dead[0]!.headers), /a function has no JSON form; a JSON topic takes JSON data/)
})
