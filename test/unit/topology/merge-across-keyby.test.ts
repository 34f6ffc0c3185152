/**
 * Merging a stream from after a keyBy with one from before it would put the keyBy's upstream
 * and downstream in one task, reading the repartition topic it writes (its watermark waiting
 * on itself, windows never closing): compile refuses it with a message that says what to do.
 * Merging streams that all went through keyBy, or none, stays allowed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compile, count, pipeline, topic, tumbling } from 'sluice'

interface Reading {
  sensor: string
  room: string
  at: number
}
const readings = topic<Reading>('mk-readings', {
  key: (r) => r.sensor,
  timestamp: (r) => r.at,
  partitions: 2,
})

test('merging a stream after keyBy (and a window) with one before it is refused at compile', () => {
  const p = pipeline('mk-bad')
  const source = p.from(readings)
  const perRoom = source
    .keyBy((r) => r.room, { name: 'by-room' })
    .window(tumbling({ size: '1m' }))
    .aggregate(count(), { name: 'per-room' })
    .map((w) => ({ kind: 'room', n: w.value }))
  const raw = source.map((r) => ({ kind: 'reading', n: r.at }))
  perRoom.merge(raw).to(topic('mk-out'))
  assert.throws(
    () => compile(p),
    /the stream after keyBy "by-room" is merged or joined with a stream from before that keyBy.*keyBy the other stream too/,
  )
})

test('streams that all went through keyBy, or none did, still merge', () => {
  const ok1 = pipeline('mk-ok1')
  const a = ok1.from(readings).keyBy((r) => r.room, { name: 'a-by' })
  const b = ok1.from(readings).keyBy((r) => r.room, { name: 'b-by' })
  a.merge(b)
    .keyed()
    .window(tumbling({ size: '1m' }))
    .aggregate(count(), { name: 'n' })
    .to(topic('mk-ok1-out'))
  assert.equal(compile(ok1).subtopologies.length, 2)
  const ok2 = pipeline('mk-ok2')
  const s = ok2.from(readings)
  s.filter((r) => r.at > 0)
    .merge(s.map((r) => r))
    .to(topic('mk-ok2-out'))
  assert.equal(compile(ok2).subtopologies.length, 1)
})
