import assert from 'node:assert/strict'
import { test } from 'node:test'
import { murmur2, Partitioner, partitionForKey, partitionForStringKey } from '../../../src/log/partitioner.ts'

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

test('a string key lands where its UTF-8 bytes do, ASCII or not', () => {
  const keys = [
    '',
    'a',
    'ab',
    'abc',
    'abcd',
    'foobar',
    '1234567',
    'card-42',
    'Zürich',
    'ab€',
    '東京',
    '🙂x',
    'a\u007f\u0080',
  ]
  for (let i = 0; i < 500; i++) keys.push(`user-${i * 7919}`, String(i), `é${i}`)
  for (const key of keys)
    for (const n of [1, 2, 3, 12, 50])
      assert.equal(partitionForStringKey(key, n), partitionForKey(bytes(key), n), `${key} / ${n}`)
})
