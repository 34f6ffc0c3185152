/**
 * OutputBuffer keeps a task's outputs as columns and hands them out as records at the commit:
 * the same records, in the same order, as a plain array of records would hold — with records
 * added as they are (markers, dead letters) between column outputs, and rollbacks of either.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { xorshift } from '../../../bench/common.ts'
import type { ProducerRecord } from '../../../src/log/types.ts'
import { OutputBuffer } from '../../../src/runtime/outputs.ts'

/** A record as plain data, whatever made it (class instances compare as their fields). */
const plain = (r: ProducerRecord) => ({ ...r })

test('outputs come back in the order pushed and added, with partitions and headers', () => {
  const b = new OutputBuffer()
  const marker = { key: null, value: null, headers: { m: '1' }, timestamp: 5, partition: 1 }
  b.add(marker)
  b.push('k1', '{"a":1}', 10)
  b.push('k2', null, 11, 3)
  b.add({ key: null, value: 'dead', headers: { e: 'x' }, timestamp: 12 })
  b.push(null, '{"b":2}', 13)
  assert.deepEqual(b.records().map(plain), [
    marker,
    { key: 'k1', value: '{"a":1}', timestamp: 10 },
    { key: 'k2', value: null, timestamp: 11, partition: 3 },
    { key: null, value: 'dead', headers: { e: 'x' }, timestamp: 12 },
    { key: null, value: '{"b":2}', timestamp: 13 },
  ])
  // A record without a chosen partition has no `partition` at all (the log's partitioner decides).
  assert.equal('partition' in b.records()[1]!, false)
})

test('pop drops the last output, whether pushed or added', () => {
  const b = new OutputBuffer()
  b.push('a', '1', 1)
  b.add({ key: 'x', value: 'X', headers: { h: '1' }, timestamp: 2 })
  b.push('b', '2', 3)
  b.pop()
  assert.deepEqual(b.records().map(plain), [
    { key: 'a', value: '1', timestamp: 1 },
    { key: 'x', value: 'X', headers: { h: '1' }, timestamp: 2 },
  ])
  b.pop()
  assert.deepEqual(b.records().map(plain), [{ key: 'a', value: '1', timestamp: 1 }])
  b.pop()
  assert.deepEqual(b.records(), [])
})

test('random pushes, adds and pops give what a plain array of records gives', () => {
  const rand = xorshift(7)
  for (let round = 0; round < 200; round++) {
    const b = new OutputBuffer()
    const model: ProducerRecord[] = []
    const steps = rand(60)
    for (let s = 0; s < steps; s++) {
      const what = rand(10)
      if (what < 5) {
        const key = rand(4) === 0 ? null : `k${rand(9)}`
        const value = rand(5) === 0 ? null : `{"v":${s}}`
        const partition = rand(3) === 0 ? rand(4) : undefined
        b.push(key, value, s, partition)
        model.push(
          partition === undefined ? { key, value, timestamp: s } : { key, value, timestamp: s, partition },
        )
      } else if (what < 7) {
        const r = { key: null, value: null, headers: { n: String(s) }, timestamp: s, partition: rand(4) }
        b.add(r)
        model.push(r)
      } else if (model.length > 0) {
        b.pop()
        model.pop()
      }
    }
    assert.deepEqual(b.records().map(plain), model, `round ${round}`)
  }
})

test('values written into the buffer come back as views of it, between the others; pop rewinds the writer', () => {
  const b = new OutputBuffer(10)
  const write = (text: string) => {
    const w = b.writer()
    const start = w.pos
    w.ensure(text.length)
    w.pos += w.buf.write(text, w.pos, 'latin1')
    return start
  }
  b.push('k0', '{"json":0}', 1)
  b.pushWritten('k1', write('one'), 2)
  b.add({ key: null, value: 'dead', headers: { e: 'x' }, timestamp: 3 })
  b.pushWritten(null, write('two'), 4, 2)
  b.pushWritten('k3', write('three'), 5)
  b.pop()
  assert.equal(b.written, 6, 'the popped value is gone from the writer too')
  // Past the writer's first 64 KiB: values written after it grows stay whole.
  const big = 'x'.repeat(70_000)
  b.pushWritten('k4', write(big), 6)
  const text = (v: ProducerRecord['value']) =>
    typeof v === 'string' || v === null ? v : Buffer.from(v).toString()
  assert.deepEqual(
    b.records().map((r) => [r.key, text(r.value), r.timestamp, r.partition]),
    [
      ['k0', '{"json":0}', 1, undefined],
      ['k1', 'one', 2, undefined],
      [null, 'dead', 3, undefined],
      [null, 'two', 4, 2],
      ['k4', big, 6, undefined],
    ],
  )
  // The writer went with the records: the next output starts a new one.
  assert.equal(b.written, 0)
})
