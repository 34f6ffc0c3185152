/**
 * MinHeap: items pop in priority order, and with a tiebreak, items of equal priority pop in
 * tiebreak order whatever order they were pushed in (a heap rebuilt after a restart has
 * another shape than one filled item by item).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MinHeap } from '../../../src/util/heap.ts'

interface Item {
  at: number
  seq: number
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

const items: Item[] = []
for (let seq = 0; seq < 500; seq++) items.push({ at: seq % 13, seq })
const byAtThenSeq = [...items].sort((a, b) => a.at - b.at || a.seq - b.seq)

test('pops in priority order, and equal priorities in tiebreak order, for any push order', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const heap = new MinHeap<Item>(
      (i) => i.at,
      (i) => i.seq,
    )
    for (const item of shuffled(items, seed)) heap.push(item)
    const popped: Item[] = []
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item)
    assert.deepEqual(popped, byAtThenSeq, `push order ${seed}`)
  }
})

test('popBelow takes the items below a bound, in order, and leaves the rest', () => {
  const heap = new MinHeap<Item>(
    (i) => i.at,
    (i) => i.seq,
  )
  for (const item of shuffled(items, 7)) heap.push(item)
  const below = heap.popBelow(5)
  assert.deepEqual(
    below,
    byAtThenSeq.filter((i) => i.at < 5),
  )
  assert.deepEqual(
    heap.popBelow(5, true),
    byAtThenSeq.filter((i) => i.at === 5),
  )
  assert.equal(heap.size, items.filter((i) => i.at > 5).length)
  assert.equal(heap.peek()!.at, 6)
})

test('without a tiebreak, priorities still pop in order', () => {
  const heap = new MinHeap<Item>((i) => i.at)
  for (const item of shuffled(items, 3)) heap.push(item)
  const ats: number[] = []
  for (let item = heap.pop(); item !== undefined; item = heap.pop()) ats.push(item.at)
  assert.deepEqual(
    ats,
    byAtThenSeq.map((i) => i.at),
  )
})
