/**
 * What a stream–stream join writes to its store, and that a restart from it is exact. A
 * commit writes the records still waiting as one run entry, a record that left before the
 * commit is never written, a run is deleted with its last record; the watermark advanced to
 * and the marks of records paired after their run was written let a restart rebuild exactly
 * what still waits. Checked on random input against a run without restarts and against all
 * pairs counted by brute force, for inner, left and outer joins.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StreamJoinNode } from '../../../src/dsl/nodes.ts'
import type { StreamRecord } from '../../../src/runtime/record.ts'
import { DELETED, KeyValueStore, MemoryBackend } from '../../../src/runtime/state.ts'
import { RUN_RECORDS, StreamJoinOperator } from '../../../src/runtime/stream-join-operator.ts'

// Auctions (left) pair with the bids (right) made up to 100 ms after them; a bid waits for an
// auction only until the watermark passes it (before: 0), an auction for 100 ms.
const auctionBids: StreamJoinNode = {
  kind: 'stream-join',
  joiner: (auction, bid) => `${auction}+${bid}`,
  type: 'inner',
  before: 0,
  after: 100,
  allowedLateness: 0,
}

const PREFIX = 'j\u00000\u0000'

function join(backend: MemoryBackend, op: StreamJoinNode = auctionBids) {
  const store = new KeyValueStore<unknown>('j', 0, backend)
  const out: string[] = []
  let late = 0
  const operator = new StreamJoinOperator(
    'auction-bids',
    op,
    store,
    (r: StreamRecord) => out.push(`${r.value}@${r.timestamp}`),
    () => late++,
  )
  /** What a commit would write now, applied to the backend: store key → value or DELETED. */
  const commit = () => {
    const writes = new Map<string, unknown>()
    store.takeWrites(writes)
    backend.write(writes)
    store.committed()
    return new Map([...writes].map(([k, v]) => [k.slice(PREFIX.length), v]))
  }
  return { operator, out, commit, late: () => late }
}

const rec = (key: string, value: string, timestamp: number): StreamRecord => ({ key, value, timestamp })
const stored = (backend: MemoryBackend) =>
  new Map([...backend.scan(PREFIX)].map(([k, v]) => [k.slice(PREFIX.length), v]))

test('a commit writes the records still waiting as one run; the run goes with its last record', () => {
  const backend = new MemoryBackend()
  const { operator, out, commit } = join(backend)
  operator.process(0, rec('a1', 'auction1', 1_000), 0)
  operator.process(1, rec('a1', 'bid1', 1_010), 0)
  operator.process(1, rec('a1', 'bid2', 1_020), 0)
  operator.advance(1_015) // bid1 can pair with no auction still to come: it leaves
  assert.deepEqual(out, ['auction1+bid1@1010', 'auction1+bid2@1020'])
  assert.deepEqual(
    commit(),
    new Map<string, unknown>([
      [
        'r\u0000000000000000',
        [
          [0, 'a1', 1_000, 0, 'auction1'],
          [1, 'a1', 1_020, 1, 'bid2'],
        ],
      ],
      ['w', 1_015],
    ]),
    'the auction and bid2 in one run (bid1 left unwritten), and the watermark advanced to',
  )
  operator.advance(1_021) // bid2 leaves; the auction still waits, so the run stays
  assert.deepEqual(commit(), new Map([['w', 1_021]]))
  operator.advance(1_200) // the auction leaves: its run, and the watermark entry, go
  assert.deepEqual(
    commit(),
    new Map([
      ['r\u0000000000000000', DELETED],
      ['w', DELETED],
    ]),
  )
  assert.equal(commit().size, 0, 'nothing more to write')
  assert.equal(stored(backend).size, 0)
  assert.equal(operator.waiting, 0)
})

test(`a commit of more than ${RUN_RECORDS} waiting records writes several runs, restored in order`, () => {
  const backend = new MemoryBackend()
  const { operator, commit } = join(backend)
  const n = RUN_RECORDS * 2 + 10
  for (let i = 0; i < n; i++) operator.process(0, rec('a', `auction${i}`, 1_000 + i), 0)
  commit()
  const runs = [...stored(backend)].filter(([k]) => k.startsWith('r'))
  assert.deepEqual(
    runs.map(([, records]) => (records as unknown[]).length),
    [RUN_RECORDS, RUN_RECORDS, 10],
  )
  const restarted = join(backend)
  restarted.operator.process(1, rec('a', 'bid', 1_100), 0)
  // Auctions from 1,000 to 1,100 pair with the bid at 1,100, in the order they arrived.
  const expected = []
  for (let i = 0; i <= 100; i++) expected.push(`auction${i}+bid@1100`)
  assert.deepEqual(restarted.out, expected)
})

test('a restart leaves out the records of a run that left before it, and keeps late pairings of a left join', () => {
  const left: StreamJoinNode = { ...auctionBids, type: 'left' }
  const backend = new MemoryBackend()
  let j = join(backend, left)
  j.operator.process(0, rec('a1', 'auction1', 1_000), 0) // expires at 1,100
  j.operator.process(0, rec('a2', 'auction2', 1_050), 0) // expires at 1,150
  j.operator.process(0, rec('a3', 'auction3', 1_060), 0) // expires at 1,160
  j.commit() // one run of three
  j.operator.process(1, rec('a2', 'bid1', 1_070), 0) // auction2 pairs after its run was written
  j.operator.advance(1_120) // auction1 leaves unpaired: emitted now
  assert.deepEqual(j.out, ['auction2+bid1@1070', 'auction1+undefined@1000'])
  const written = j.commit()
  assert.deepEqual(written.get('r\u0000000000000000\u0000m'), [1], 'auction2 (index 1) paired later')
  assert.equal(written.get('w'), 1_120)
  // A restart: auction1 left (its run stays for the others) and must not come back; auction2
  // is paired and must not be emitted unpaired; auction3 is not and must be.
  j = join(backend, left)
  assert.equal(j.operator.waiting, 2)
  j.operator.advance(1_300)
  assert.deepEqual(j.out, ['auction3+undefined@1060'])
  j.commit()
  assert.equal(stored(backend).size, 0, 'the run, its marks and the watermark are gone')
})

test('entries of the earlier layout (one per record) are read, kept up to date and deleted', () => {
  const left: StreamJoinNode = { ...auctionBids, type: 'left' }
  const backend = new MemoryBackend()
  const old = (side: 0 | 1, key: string, seq: number, t: number, v: string) => {
    const id = `${side}\u0000${key}\u0000${String(seq).padStart(12, '0')}`
    backend.data.set(PREFIX + id, { t, v, m: false, id })
    return id
  }
  const a1 = old(0, 'a1', 0, 1_000, 'auction1')
  const a2 = old(0, 'a2', 1, 1_010, 'auction2')
  const j = join(backend, left)
  assert.equal(j.operator.waiting, 2)
  j.operator.process(1, rec('a1', 'bid1', 1_050), 1_000)
  assert.deepEqual(j.out, ['auction1+bid1@1050'])
  const first = j.commit()
  assert.deepEqual(first.get(a1), { t: 1_000, v: 'auction1', m: true, id: a1 }, 'rewritten as paired')
  j.operator.advance(1_300)
  assert.deepEqual(j.out, ['auction1+bid1@1050', 'auction2+undefined@1010'], 'only auction2 unpaired')
  const second = j.commit()
  assert.equal(second.get(a1), DELETED)
  assert.equal(second.get(a2), DELETED)
  assert.equal(stored(backend).size, 0)
})

/** A seeded generator (LCG): the same input on every run of the test. */
function random(seed: number): (n: number) => number {
  let s = seed
  return (n) => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    return s % n
  }
}

interface Ev {
  side: 0 | 1
  key: string
  id: string
  t: number
}

function randomJoin(seed: number, type: StreamJoinNode['type']) {
  const rand = random(seed)
  const op: StreamJoinNode = {
    kind: 'stream-join',
    joiner: (l, r) => `${l ?? '-'}+${r ?? '-'}`,
    type,
    before: rand(3) * 50,
    after: 20 + rand(3) * 60,
    allowedLateness: rand(2) * 40,
  }
  const events: Ev[] = []
  for (let i = 0; i < 2_500; i++) {
    // Event time runs forward 2 ms per event with up to 300 ms of disorder; some records are late.
    events.push({ side: rand(2) as 0 | 1, key: `k${rand(6)}`, id: `${i}`, t: i * 2 - rand(300) })
  }
  const commitEvery = 10 + rand(60)
  const run = (restarts: boolean) => {
    const backend = new MemoryBackend()
    let j = join(backend, op)
    const out: string[] = []
    const onTime: Ev[] = []
    let watermark = Number.NEGATIVE_INFINITY
    let late = 0
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      if (e.t >= watermark - op.allowedLateness) onTime.push(e)
      j.operator.process(e.side, rec(e.key, e.id, e.t), watermark)
      if (i % 7 === 0) {
        watermark = Math.max(watermark, i * 2 - 250)
        j.operator.advance(watermark)
      }
      if (i % commitEvery === 0) {
        j.commit()
        if (restarts && (i / commitEvery) % 2 === 0) {
          out.push(...j.out)
          late += j.late()
          j = join(backend, op)
        }
      }
    }
    j.operator.advance(Number.POSITIVE_INFINITY)
    j.commit()
    out.push(...j.out)
    return { out, onTime, late: late + j.late(), left: stored(backend).size }
  }
  return { op, straight: run(false), restarted: run(true) }
}

/** Every output a join of these (on-time) records must give, counted by brute force. */
function bruteForce(op: StreamJoinNode, records: readonly Ev[]): string[] {
  const out: string[] = []
  const paired = new Set<Ev>()
  for (const l of records) {
    if (l.side !== 0) continue
    for (const r of records) {
      if (r.side !== 1 || r.key !== l.key || r.t < l.t - op.before || r.t > l.t + op.after) continue
      out.push(`${l.id}+${r.id}@${Math.max(l.t, r.t)}`)
      paired.add(l).add(r)
    }
  }
  for (const e of records) {
    if (paired.has(e)) continue
    if (e.side === 0 && op.type !== 'inner') out.push(`${e.id}+-@${e.t}`)
    if (e.side === 1 && op.type === 'outer') out.push(`-+${e.id}@${e.t}`)
  }
  return out.sort()
}

for (const type of ['inner', 'left', 'outer'] as const) {
  test(`random ${type} joins: restarts from the runs give what a run without them gives, and every pair`, () => {
    for (let seed = 1; seed <= 12; seed++) {
      const { op, straight, restarted } = randomJoin(seed * 7_919, type)
      const label = `seed ${seed}, ${JSON.stringify({ ...op, joiner: undefined })}`
      assert.deepEqual([...restarted.out].sort(), [...straight.out].sort(), `${label}: same outputs`)
      assert.deepEqual(restarted.out, straight.out, `${label}: same outputs in the same order`)
      assert.equal(restarted.late, straight.late, `${label}: same late records`)
      assert.deepEqual(
        [...straight.out].sort(),
        bruteForce(op, straight.onTime),
        `${label}: every pair, once`,
      )
      assert.ok(straight.late > 0, `${label}: the input has late records`)
      assert.equal(restarted.left, 0, `${label}: nothing is left in the store`)
    }
  })
}
