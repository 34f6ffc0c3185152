import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DELETED, KeyValueStore, MemoryBackend, snapshotWrites } from '../../../src/runtime/state.ts'

test('a delete stays deleted between handing it to a commit and the commit landing', () => {
  // Writes land in the backend only when the test calls write(), like an LMDB commit.
  const backend = new MemoryBackend()
  backend.write(new Map([['s\u00000\u0000k', 'old']]))
  const store = new KeyValueStore<string>('s', 0, backend)
  assert.equal(store.get('k'), 'old')
  store.delete('k')
  const writes = new Map<string, unknown>()
  store.takeWrites(writes)
  assert.equal(writes.get('s\u00000\u0000k'), DELETED)
  // The commit has not landed: the backend still holds the old value.
  assert.equal(store.get('k'), undefined, 'must not fall through to the committed old value')
  backend.write(writes)
  store.committed()
  assert.equal(store.get('k'), undefined)
  assert.equal(backend.get('s\u00000\u0000k'), undefined)
})

test('a key written again after its delete was taken keeps the new value when the delete lands', () => {
  const backend = new MemoryBackend()
  const store = new KeyValueStore<string>('s', 1, backend)
  store.put('k', 'a')
  const first = new Map<string, unknown>()
  store.takeWrites(first)
  backend.write(first)
  store.committed()
  store.delete('k')
  const second = new Map<string, unknown>()
  store.takeWrites(second)
  store.put('k', 'b')
  backend.write(second)
  store.committed()
  assert.equal(store.get('k'), 'b')
  const third = new Map<string, unknown>()
  store.takeWrites(third)
  assert.equal(third.get('s\u00001\u0000k'), 'b')
})

test('TTL entries expire by the store clock', () => {
  let now = 1_000
  const store = new KeyValueStore<number>('t', 0, new MemoryBackend(), { ttl: 100, now: () => now })
  store.put('x', 1)
  now = 1_099
  assert.equal(store.get('x'), 1)
  now = 1_100
  assert.equal(store.get('x'), undefined)
})

test('TTL sweeps drop exactly the due entries and look only at those (not at every entry)', () => {
  let now = 0
  let reads = 0
  let scans = 0
  class Counting extends MemoryBackend {
    override get(key: string): unknown {
      reads++
      return super.get(key)
    }
    override *scan(prefix: string): Iterable<[string, unknown]> {
      scans++
      yield* super.scan(prefix)
    }
  }
  const backend = new Counting()
  // Committed state first: 1,000 entries written at t = 0…999 (expiring at t + 100).
  const first = new KeyValueStore<number>('e', 0, backend, { ttl: 100, now: () => now })
  for (let i = 0; i < 1_000; i++) {
    now = i
    first.put(`k${i}`, i)
  }
  const writes = new Map<string, unknown>()
  first.takeWrites(writes)
  backend.write(writes)
  // A task restarted over that state: its first sweep reads the committed entries once.
  now = 1_000
  const store = new KeyValueStore<number>('e', 0, backend, { ttl: 100, now: () => now })
  store.put('k5', 5) // written again at 1,000: expires at 1,100, not 105
  store.expire(now) // k0…k900 are due (expiry ≤ 1,000), except k5
  assert.equal(scans, 1)
  assert.equal(store.get('k0'), undefined)
  assert.equal(store.get('k5'), 5)
  assert.equal(store.get('k900'), undefined)
  assert.equal(store.get('k901'), 901)
  reads = 0
  scans = 0
  store.expire(now) // nothing more is due: nothing is read
  assert.deepEqual([reads, scans], [0, 0])
  now = 1_050
  store.expire(now) // k901…k950 are due: each looked at once
  assert.equal(scans, 0)
  assert.ok(reads <= 50, `${reads} reads for 50 due entries`)
  assert.equal(store.get('k950'), undefined)
  assert.equal(store.get('k951'), 951)
  now = 1_100
  store.expire(now)
  assert.equal(store.get('k5'), undefined, 'the rewritten key expires at its new time')
})

test('writes a commit serializes later are a snapshot: mutating state in place does not change them', () => {
  const store = new KeyValueStore<{ n: number }>('m', 0, new MemoryBackend())
  const acc = { n: 1 }
  store.put('k', acc)
  const writes = new Map<string, unknown>()
  store.takeWrites(writes)
  const committed = snapshotWrites(writes)
  acc.n = 2 // a later record, processed while the commit is in flight
  assert.deepEqual(committed.get('m\u00000\u0000k'), { n: 1 })
  const backend = new MemoryBackend()
  backend.write(writes)
  acc.n = 3
  assert.deepEqual(backend.get('m\u00000\u0000k'), { n: 2 }, 'the memory backend copies on write')
})

test('a state snapshot is a deep copy of plain data and of anything structuredClone copies', () => {
  const nested = { n: 1, list: [1, { x: 2 }], when: new Date(5), tags: new Set(['a']), none: null }
  const proto = JSON.parse('{"__proto__": {"polluted": true}, "k": 1}')
  const writes = new Map<string, unknown>([
    ['a', nested],
    ['b', proto],
    ['c', 7],
  ])
  const copy = snapshotWrites(writes)
  nested.n = 2
  ;(nested.list[1] as { x: number }).x = 3
  nested.when.setTime(6)
  nested.tags.add('b')
  assert.deepEqual(copy.get('a'), {
    n: 1,
    list: [1, { x: 2 }],
    when: new Date(5),
    tags: new Set(['a']),
    none: null,
  })
  const b = copy.get('b') as Record<string, unknown>
  assert.equal(
    Object.getPrototypeOf(b),
    Object.prototype,
    'an own "__proto__" key does not become the prototype',
  )
  assert.deepEqual(Object.keys(b), ['__proto__', 'k'])
  assert.equal(copy.get('c'), 7)
})

test('a key put as new and deleted before the commit is never written; once taken, its delete is', () => {
  const backend = new MemoryBackend()
  const store = new KeyValueStore<string>('s', 0, backend)
  store.putNew('gone', 'a')
  store.putNew('kept', 'b')
  store.put('gone', 'a2') // changed, still never committed
  store.delete('gone')
  assert.equal(store.get('gone'), undefined)
  const first = new Map<string, unknown>()
  store.takeWrites(first)
  assert.deepEqual([...first], [['s\u00000\u0000kept', 'b']], 'no delete of a key the backend never had')
  backend.write(first)
  store.committed()
  // Taken to a commit: from then on the backend has it, and a delete must reach it.
  store.delete('kept')
  const second = new Map<string, unknown>()
  store.takeWrites(second)
  assert.deepEqual([...second], [['s\u00000\u0000kept', DELETED]])
  backend.write(second)
  store.committed()
  assert.equal(store.get('kept'), undefined)
  assert.equal(backend.get('s\u00000\u0000kept'), undefined)
  // Put as new while an earlier commit is in flight (taken, not landed): deleting it again writes nothing.
  store.putNew('late', 'c')
  const third = new Map<string, unknown>()
  store.takeWrites(third)
  store.putNew('later', 'd')
  store.delete('later')
  const fourth = new Map<string, unknown>()
  store.takeWrites(fourth)
  assert.deepEqual([...third], [['s\u00000\u0000late', 'c']])
  assert.deepEqual([...fourth], [])
})

test('a key put as new while its delete is on its way is written the ordinary way, so the delete is not lost', () => {
  const backend = new MemoryBackend()
  backend.write(new Map([['s\u00000\u0000t', 'committed']]))
  const store = new KeyValueStore<string>('s', 0, backend)
  assert.equal(store.get('t'), 'committed')
  store.delete('t')
  assert.equal(store.get('t'), undefined)
  // Registered again (a timer: get found nothing), then fired again, all before the commit.
  store.putNew('t', 'again')
  store.delete('t')
  const writes = new Map<string, unknown>()
  store.takeWrites(writes)
  assert.deepEqual([...writes], [['s\u00000\u0000t', DELETED]], 'the committed value is still deleted')
  backend.write(writes)
  store.committed()
  assert.equal(backend.get('s\u00000\u0000t'), undefined)
})
