/**
 * What a stream–stream join writes to its store: a record only if it is still waiting when a
 * commit takes the store's writes, its delete only if it was written, and a restart from what
 * was written pairs exactly as the run without one would have.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { StreamJoinNode } from '../../../src/dsl/nodes.ts'
import type { StreamRecord } from '../../../src/runtime/record.ts'
import { DELETED, KeyValueStore, MemoryBackend } from '../../../src/runtime/state.ts'
import { StreamJoinOperator } from '../../../src/runtime/stream-join-operator.ts'

// Auctions (left) pair with the bids (right) made up to 100 ms after them; a bid waits for an
// auction only until the watermark passes it (before: 0), an auction for 100 ms.
const op: StreamJoinNode = {
  kind: 'stream-join',
  joiner: (auction, bid) => `${auction}+${bid}`,
  type: 'inner',
  before: 0,
  after: 100,
  allowedLateness: 0,
}

function join(backend: MemoryBackend) {
  const store = new KeyValueStore<never>('j', 0, backend)
  const out: string[] = []
  const operator = new StreamJoinOperator(
    'auction-bids',
    op,
    store as KeyValueStore<never>,
    (r: StreamRecord) => out.push(`${r.value}@${r.timestamp}`),
    () => assert.fail('nothing is late here'),
  )
  /** What a commit would write now, applied to the backend: backend key → value or DELETED. */
  const commit = () => {
    const writes = new Map<string, unknown>()
    store.takeWrites(writes)
    backend.write(writes)
    store.committed()
    return writes
  }
  return { operator, out, commit }
}

const rec = (key: string, value: string, timestamp: number): StreamRecord => ({ key, value, timestamp })

test('a record that leaves before the commit is never written; one still waiting is, and its delete later', () => {
  const backend = new MemoryBackend()
  const { operator, out, commit } = join(backend)
  operator.process(0, rec('a1', 'auction1', 1_000), 0)
  operator.process(1, rec('a1', 'bid1', 1_010), 0)
  operator.process(1, rec('a1', 'bid2', 1_020), 0)
  operator.advance(1_015) // bid1 can pair with no auction still to come: it leaves
  assert.deepEqual(out, ['auction1+bid1@1010', 'auction1+bid2@1020'])
  const first = commit()
  assert.deepEqual(
    [...first.keys()].map((k) => k.split('\0').slice(2).join('/')),
    ['0/a1/000000000000', '1/a1/000000000002'],
    'the auction and bid2 are written; bid1 left unwritten and leaves no delete',
  )
  operator.advance(1_200) // both leave now
  const second = commit()
  assert.deepEqual([...second.values()], [DELETED, DELETED])
  assert.equal(commit().size, 0, 'nothing more to write')
  assert.equal(operator.waiting, 0)
})

test('a restart from what was written pairs as the run without a restart does', () => {
  const events: Array<[0 | 1, string, string, number]> = [
    [0, 'a1', 'auction1', 1_000],
    [1, 'a1', 'bid1', 1_010],
    [0, 'a2', 'auction2', 1_005],
    [1, 'a2', 'bid2', 1_050],
  ]
  const later: Array<[0 | 1, string, string, number]> = [
    [1, 'a1', 'bid3', 1_090],
    [1, 'a2', 'bid4', 1_101],
    [0, 'a3', 'auction3', 1_100],
    [1, 'a3', 'bid5', 1_150],
  ]
  const run = (restartAfter: boolean) => {
    const backend = new MemoryBackend()
    let j = join(backend)
    for (const [side, key, value, t] of events) j.operator.process(side, rec(key, value, t), 0)
    j.operator.advance(1_020)
    j.commit()
    const out = j.out
    // A restart: a new operator over the committed state only.
    if (restartAfter) j = join(backend)
    for (const [side, key, value, t] of later) j.operator.process(side, rec(key, value, t), 1_020)
    j.operator.advance(1_300)
    j.commit()
    if (restartAfter) out.push(...j.out)
    return { out, left: [...backend.scan('j\u00000\u0000')].length }
  }
  const straight = run(false)
  assert.deepEqual(straight.out, [
    'auction1+bid1@1010',
    'auction2+bid2@1050',
    'auction1+bid3@1090',
    'auction2+bid4@1101',
    'auction3+bid5@1150',
  ])
  assert.deepEqual(run(true), straight)
  assert.equal(straight.left, 0, 'everything left the store')
})
