import assert from 'node:assert/strict'
import { test } from 'node:test'
import { murmur2, Partitioner, partitionForKey } from '../../../src/log/partitioner.ts'

const bytes = (s: string) => new TextEncoder().encode(s)

test('murmur2 matches the vectors of Kafka UtilsTest', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [input, expected] of vectors) assert.equal(murmur2(bytes(input)), expected, input)
})

test('keyed records land on the partition Kafka picks', () => {
  assert.equal(partitionForKey(bytes('foobar'), 50), 16)
  const p = new Partitioner()
  for (let i = 0; i < 100; i++)
    assert.equal(p.partition(bytes(`card-${i}`), 12), partitionForKey(bytes(`card-${i}`), 12))
})

test('records without a key are spread round-robin', () => {
  const p = new Partitioner()
  const seen = Array.from({ length: 9 }, () => p.partition(null, 3))
  assert.deepEqual(seen, [0, 1, 2, 0, 1, 2, 0, 1, 2])
})
