/**
 * The event store conformance suite: what every `EventStore` must do, written against the
 * interface alone. `eventStoreConformance()` registers node:test blocks; a test file per store
 * calls it with a harness that makes fresh, empty stores (test/unit/eventstore/embedded.test.ts,
 * test/integration/postgres/eventstore.test.ts).
 *
 * Every test opens its own store, so tests never see each other's events; every store is
 * closed and removed when the file ends.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConcurrencyError, InvalidEventError } from '../../src/eventstore/errors.ts'
import type { EventStore, NewEvent } from '../../src/eventstore/types.ts'
import { aggregateTests } from './event-store-aggregate.ts'
import { concurrencyTests } from './event-store-concurrency.ts'
import { crashTests } from './event-store-crash.ts'
import {
  caughtUp,
  type EventStoreHarness,
  freshStore,
  readEverything,
  rejectsWith,
} from './event-store-helpers.ts'
import { subscriptionTests } from './event-store-subscriptions.ts'
import { openTarget } from './event-store-target.ts'

export type { EventStoreHarness } from './event-store-helpers.ts'

const ev = (type: string, data: unknown = {}, extra: Partial<NewEvent> = {}): NewEvent => ({
  type,
  data,
  ...extra,
})

export function eventStoreConformance(name: string, harness: EventStoreHarness): void {
  describe(`EventStore conformance: ${name}`, () => {
    const open = (options = {}) => freshStore(harness, options).then((o) => o.store)

    /** Asserts the store holds exactly these stream versions and head, i.e. a refused call wrote nothing. */
    async function unchanged(store: EventStore, head: number, streams: Record<string, number>) {
      assert.equal(await store.headPosition(), head, 'no event was added')
      for (const [id, version] of Object.entries(streams)) {
        assert.equal(await store.streamVersion(id), version, `stream ${id} is still at version ${version}`)
      }
    }

    describe('append and expected versions', () => {
      test('a new stream gets versions 1..n and growing positions', async () => {
        const store = await open()
        const r = await store.append('order-1', [ev('Placed'), ev('Paid'), ev('Shipped')], {
          expectedVersion: 'noStream',
        })
        assert.equal(r.nextExpectedVersion, 3)
        assert.equal(r.duplicate, false)
        assert.equal(r.lastPosition - r.firstPosition, 2, 'one append takes consecutive positions')
        const events = await store.readStream('order-1')
        assert.deepEqual(
          events.map((e) => [e.type, e.version, e.position, e.streamId]),
          [
            ['Placed', 1, r.firstPosition, 'order-1'],
            ['Paid', 2, r.firstPosition + 1, 'order-1'],
            ['Shipped', 3, r.firstPosition + 2, 'order-1'],
          ],
        )
        assert.equal(await store.streamVersion('order-1'), 3)
        const next = await store.append('order-1', [ev('Delivered')], { expectedVersion: 3 })
        assert.equal(next.nextExpectedVersion, 4)
        assert.ok(next.firstPosition > r.lastPosition)
        if (harness.capabilities.densePositions) {
          assert.equal(r.firstPosition, 1)
          assert.equal(next.firstPosition, 4)
        }
      })

      test('noStream / 0 on an existing stream is a ConcurrencyError and writes nothing', async () => {
        const store = await open()
        const r = await store.append('s', [ev('A'), ev('B')])
        for (const expected of ['noStream', 0] as const) {
          await assert.rejects(store.append('s', [ev('C')], { expectedVersion: expected }), (error) => {
            assert.ok(error instanceof ConcurrencyError)
            assert.equal(error.code, 'SLUICE_CONCURRENCY_CONFLICT')
            assert.equal(error.streamId, 's')
            assert.equal(error.expected, expected)
            assert.equal(error.actual, 2)
            assert.match(error.message, /stream "s".*version 2.*nothing was written/)
            return true
          })
        }
        await unchanged(store, r.lastPosition, { s: 2 })
      })

      test('a wrong version number is a ConcurrencyError with expected and actual', async () => {
        const store = await open()
        const r = await store.append('s', [ev('A'), ev('B'), ev('C')])
        for (const wrong of [1, 2, 4, 100]) {
          await assert.rejects(store.append('s', [ev('X'), ev('Y')], { expectedVersion: wrong }), (error) => {
            assert.ok(error instanceof ConcurrencyError)
            assert.equal(error.expected, wrong)
            assert.equal(error.actual, 3)
            return true
          })
        }
        await unchanged(store, r.lastPosition, { s: 3 })
        const ok = await store.append('s', [ev('D')], { expectedVersion: 3 })
        assert.equal(ok.nextExpectedVersion, 4)
      })

      test("'exists' needs a stream; 'any' takes whatever is there", async () => {
        const store = await open()
        await assert.rejects(store.append('missing', [ev('A')], { expectedVersion: 'exists' }), (error) => {
          assert.ok(error instanceof ConcurrencyError)
          assert.equal(error.actual, 0)
          return true
        })
        await assert.rejects(store.append('missing', [ev('A')], { expectedVersion: 7 }), (error) => {
          assert.ok(error instanceof ConcurrencyError)
          assert.equal(error.actual, 0)
          return true
        })
        await unchanged(store, 0, { missing: 0 })
        assert.equal((await store.append('s', [ev('A')], { expectedVersion: 'any' })).nextExpectedVersion, 1)
        assert.equal((await store.append('s', [ev('B')])).nextExpectedVersion, 2, "'any' is the default")
        assert.equal(
          (await store.append('s', [ev('C')], { expectedVersion: 'exists' })).nextExpectedVersion,
          3,
        )
      })

      test('a multi-event append with one bad event writes none of them', async () => {
        const store = await open()
        await store.append('s', [ev('A')])
        const head = await store.headPosition()
        await assert.rejects(
          store.append('s', [ev('B'), ev('C', { when: new Date() }), ev('D')]),
          (error) => {
            assert.ok(error instanceof InvalidEventError)
            assert.equal(error.index, 1)
            assert.match(error.message, /event #1.*data\.when is a Date/)
            return true
          },
        )
        await assert.rejects(
          store.append('fresh', [ev('B'), { type: '', data: 1 }]),
          rejectsWith('SLUICE_INVALID_EVENT'),
        )
        await unchanged(store, head, { s: 1, fresh: 0 })
      })

      test('a retried append (same event ids) is answered with the original result, once', async () => {
        const store = await open()
        const events = [ev('A', { n: 1 }, { id: 'evt-1' }), ev('B', { n: 2 }, { id: 'evt-2' })]
        const first = await store.append('s', events, { expectedVersion: 'noStream' })
        const retry = await store.append('s', events, { expectedVersion: 'noStream' })
        assert.deepEqual(
          retry,
          { ...first, duplicate: true },
          'same versions and positions, flagged duplicate',
        )
        await store.append('s', [ev('C')])
        const late = await store.append('s', events, { expectedVersion: 'noStream' })
        assert.deepEqual(late, { ...first, duplicate: true }, 'still recognised after later appends')
        const stored = await store.readStream('s')
        assert.deepEqual(
          stored.map((e) => e.id),
          ['evt-1', 'evt-2', stored[2]!.id],
        )
        assert.equal(await store.streamVersion('s'), 3, 'the retries wrote nothing')
      })

      test('an id reused by a different append is a DuplicateEventIdError; ids repeated in one append are refused', async () => {
        const store = await open()
        await store.append('s', [ev('A', {}, { id: 'taken' })])
        const head = await store.headPosition()
        await assert.rejects(store.append('other', [ev('A', {}, { id: 'taken' })]), (error) => {
          assert.ok(rejectsWith('SLUICE_DUPLICATE_EVENT_ID', 'DuplicateEventIdError')(error))
          assert.match((error as Error).message, /"taken" is already stored \(stream "s", version 1\)/)
          return true
        })
        await assert.rejects(
          store.append('s', [ev('B', {}, { id: 'new-1' }), ev('A', {}, { id: 'taken' })]),
          rejectsWith('SLUICE_DUPLICATE_EVENT_ID'),
          'part of an append reusing a stored id is not a retry',
        )
        await assert.rejects(
          store.append('s', [ev('B', {}, { id: 'twice' }), ev('C', {}, { id: 'twice' })]),
          rejectsWith('SLUICE_INVALID_EVENT'),
        )
        await unchanged(store, head, { s: 1, other: 0 })
      })
    })

    describe('reading', () => {
      async function tenEvents(store: EventStore) {
        const events = Array.from({ length: 10 }, (_, i) => ev(`E${i + 1}`, { i: i + 1 }))
        await store.append('s', events)
      }

      test('a stream forward and backward, from a version, bounded', async () => {
        const store = await open()
        await tenEvents(store)
        const versions = async (options: Parameters<EventStore['readStream']>[1]) =>
          (await store.readStream('s', options)).map((e) => e.version)
        assert.deepEqual(await versions({}), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        assert.deepEqual(await versions({ fromVersion: 8 }), [8, 9, 10])
        assert.deepEqual(await versions({ fromVersion: 3, toVersion: 5 }), [3, 4, 5])
        assert.deepEqual(await versions({ fromVersion: 2, maxCount: 3 }), [2, 3, 4])
        assert.deepEqual(await versions({ direction: 'backward' }), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
        assert.deepEqual(await versions({ direction: 'backward', fromVersion: 4 }), [4, 3, 2, 1])
        assert.deepEqual(await versions({ direction: 'backward', maxCount: 2 }), [10, 9])
        assert.deepEqual(await versions({ direction: 'backward', fromVersion: 50, maxCount: 1 }), [10])
        assert.deepEqual(await versions({ fromVersion: 11 }), [], 'past the end is empty, not an error')
        await assert.rejects(
          store.readStream('s', { fromVersion: 0 }),
          rejectsWith('SLUICE_INVALID_ARGUMENT'),
        )
        await assert.rejects(store.readStream('s', { maxCount: 1.5 }), rejectsWith('SLUICE_INVALID_ARGUMENT'))
      })

      test('an unknown stream is an UnknownStreamError; its version is 0', async () => {
        const store = await open()
        await assert.rejects(store.readStream('nobody'), (error) => {
          assert.ok(rejectsWith('SLUICE_UNKNOWN_STREAM', 'UnknownStreamError')(error))
          assert.match((error as Error).message, /stream "nobody" does not exist/)
          return true
        })
        assert.equal(await store.streamVersion('nobody'), 0)
      })

      test('events round trip: data, metadata, ids, timestamps', async () => {
        const store = await open()
        const data = {
          text: 'naïve café 🚀 "quoted" \\ back\nslash',
          int: 42,
          float: -0.125,
          big: 2 ** 52,
          flag: false,
          nothing: null,
          list: [1, 'two', { three: [3] }, []],
          nested: { a: { b: { c: 'deep' } } },
          '': 'empty key',
        }
        const before = Date.now()
        await store.append('s', [
          ev('Rich', data, { id: 'rich-1', metadata: { correlationId: 'c-1', user: { id: 7 } } }),
          ev('Scalar', 'just a string'),
          ev('Nothing', null),
          ev('Sparse', { kept: 1, dropped: undefined }),
        ])
        const after = Date.now()
        const [rich, scalar, nothing, sparse] = await store.readStream('s')
        assert.deepEqual(rich!.data, data)
        assert.deepEqual(rich!.metadata, { correlationId: 'c-1', user: { id: 7 } })
        assert.equal(rich!.id, 'rich-1')
        assert.equal(scalar!.data, 'just a string')
        assert.equal(nothing!.data, null)
        assert.deepEqual(sparse!.data, { kept: 1 }, 'undefined properties are dropped, as JSON does')
        assert.deepEqual(scalar!.metadata, {}, 'no metadata reads back as {}')
        assert.match(scalar!.id, /^[0-9a-f-]{36}$/, 'an id is made when none is given')
        for (const e of [rich!, scalar!, nothing!]) {
          assert.ok(
            e.timestamp >= before - 1000 && e.timestamp <= after + 1000,
            'timestamp is the append time',
          )
        }
        await caughtUp(store, sparse!.position)
        const { events } = await store.readAll()
        assert.deepEqual(
          events,
          [rich, scalar, nothing, sparse],
          'readAll returns the same events as readStream',
        )
      })

      test('all events from a global position, page by page, in one order', async () => {
        const store = await open()
        const appended: string[] = []
        for (let i = 0; i < 30; i++) {
          const id = `e-${i}`
          appended.push(id)
          await store.append(`stream-${i % 4}`, [ev('Tick', { i }, { id })])
        }
        const last = await store.streamVersion('stream-1')
        assert.equal(last, 8)
        await caughtUp(store, (await store.readAll({ limit: 1000 })).position)
        const all = await readEverything(store, 0, 7)
        assert.deepEqual(
          all.map((e) => e.id),
          appended,
          'the global order is the append order',
        )
        if (harness.capabilities.densePositions) {
          assert.deepEqual(
            all.map((e) => e.position),
            all.map((_, i) => i + 1),
          )
        }
        const fromTen = await store.readAll({ after: all[9]!.position, limit: 5 })
        assert.deepEqual(
          fromTen.events.map((e) => e.id),
          appended.slice(10, 15),
        )
        assert.equal(fromTen.position, all[14]!.position)
        const end = await store.readAll({ after: all.at(-1)!.position })
        assert.deepEqual(end.events, [])
        assert.equal(end.position, all.at(-1)!.position)
        assert.equal(await store.headPosition(), all.at(-1)!.position)
      })

      test('filtered by event type and stream prefix; the page position skips what did not match', async () => {
        const store = await open()
        await store.append('order-1', [ev('Placed'), ev('Paid')])
        await store.append('cart-1', [ev('Opened'), ev('Paid')])
        await store.append('order-2', [ev('Placed')])
        await store.append('order%_x', [ev('Odd')])
        const r = await store.append('orderly', [ev('Placed')])
        await caughtUp(store, r.lastPosition)
        const ids = (page: { events: { streamId: string; type: string }[] }) =>
          page.events.map((e) => `${e.streamId}/${e.type}`)
        assert.deepEqual(ids(await store.readAll({ types: ['Paid'] })), ['order-1/Paid', 'cart-1/Paid'])
        assert.deepEqual(ids(await store.readAll({ streamPrefix: 'order-' })), [
          'order-1/Placed',
          'order-1/Paid',
          'order-2/Placed',
        ])
        assert.deepEqual(ids(await store.readAll({ streamPrefix: 'order', types: ['Placed'] })), [
          'order-1/Placed',
          'order-2/Placed',
          'orderly/Placed',
        ])
        assert.deepEqual(
          ids(await store.readAll({ streamPrefix: 'order%_' })),
          ['order%_x/Odd'],
          '% and _ in a prefix are plain characters',
        )
        const none = await store.readAll({ types: ['Refunded'] })
        assert.deepEqual(none.events, [])
        assert.equal(
          none.position,
          r.lastPosition,
          'a read that matched nothing still moves past what it scanned',
        )
        const firstPaid = await store.readAll({ types: ['Paid'], limit: 1 })
        assert.equal(firstPaid.position, firstPaid.events[0]!.position, 'a full page stops at its last event')
      })
    })

    describe('bad input', () => {
      test('malformed payloads are InvalidEventErrors naming the event and the problem; nothing is written', async () => {
        const store = await open()
        await store.append('s', [ev('Ok')])
        const head = await store.headPosition()
        const circular: Record<string, unknown> = {}
        circular.self = circular
        const cases: Array<[string, unknown, RegExp]> = [
          ['no type', { data: 1 }, /non-empty string "type"/],
          ['empty type', { type: '', data: 1 }, /non-empty string "type"/],
          ['no data', { type: 'T' }, /has no data/],
          ['NaN', { type: 'T', data: { x: Number.NaN } }, /data\.x is NaN/],
          ['Infinity', { type: 'T', data: [1, Infinity] }, /data\[1\] is Infinity/],
          ['bigint', { type: 'T', data: { n: 1n } }, /data\.n is a bigint/],
          ['function', { type: 'T', data: { f: () => 1 } }, /data\.f is a function/],
          ['Map', { type: 'T', data: new Map() }, /data is a Map/],
          ['cycle', { type: 'T', data: circular }, /data\.self refers back to itself/],
          ['NUL', { type: 'T', data: { s: 'a\u0000b' } }, /data\.s is a string with U\+0000/],
          ['lone surrogate', { type: 'T', data: '\ud800' }, /lone surrogate/],
          ['undefined in an array', { type: 'T', data: [1, undefined] }, /data\[1\] is undefined/],
          ['metadata array', { type: 'T', data: 1, metadata: [] }, /metadata must be a plain object/],
          ['metadata Date', { type: 'T', data: 1, metadata: { at: new Date() } }, /metadata\.at is a Date/],
          ['id number', { type: 'T', data: 1, id: 5 }, /event id must be a non-empty string/],
          ['not an object', 'Placed', /must be an object \{ type, data \}/],
          ['too big', { type: 'T', data: 'x'.repeat(1024 * 1024) }, /over the limit of 1048576/],
        ]
        for (const [what, event, message] of cases) {
          await assert.rejects(
            store.append('s', [ev('Fine'), event as NewEvent]),
            (error) => {
              assert.ok(error instanceof InvalidEventError, `${what}: ${String(error)}`)
              assert.equal(error.code, 'SLUICE_INVALID_EVENT')
              assert.equal(error.index, 1, `${what}: the error names the event`)
              assert.match(error.message, message, what)
              assert.match(error.message, /nothing was written/)
              return true
            },
            what,
          )
        }
        await assert.rejects(store.append('s', []), rejectsWith('SLUICE_INVALID_EVENT'))
        await assert.rejects(
          store.append('s', 'not an array' as unknown as NewEvent[]),
          rejectsWith('SLUICE_INVALID_EVENT'),
        )
        await unchanged(store, head, { s: 1 })
      })

      test('bad stream ids, expected versions and read options are usage errors', async () => {
        const store = await open()
        for (const streamId of ['', 'a\u0000b', 'x'.repeat(501), 42]) {
          await assert.rejects(
            store.append(streamId as string, [ev('A')]),
            rejectsWith('SLUICE_INVALID_ARGUMENT'),
            `stream id ${JSON.stringify(streamId)}`,
          )
        }
        for (const expectedVersion of [-1, 1.5, 'latest', null, Number.NaN]) {
          await assert.rejects(
            store.append('s', [ev('A')], { expectedVersion: expectedVersion as number }),
            (error) => {
              assert.ok(rejectsWith('SLUICE_INVALID_ARGUMENT')(error))
              assert.match((error as Error).message, /expectedVersion must be/)
              return true
            },
          )
        }
        await assert.rejects(store.readAll({ after: -1 }), rejectsWith('SLUICE_INVALID_ARGUMENT'))
        await assert.rejects(store.readAll({ limit: 0 }), rejectsWith('SLUICE_INVALID_ARGUMENT'))
        await assert.rejects(store.readStream(''), rejectsWith('SLUICE_INVALID_ARGUMENT'))
        await unchanged(store, 0, { s: 0 })
      })

      test('event schemas: data that does not match is refused with the issues', async () => {
        const placed = {
          '~standard': {
            version: 1 as const,
            vendor: 'test',
            validate: (value: unknown) => {
              const v = value as { amount?: unknown }
              return typeof v === 'object' && v !== null && typeof v.amount === 'number'
                ? { value }
                : { issues: [{ message: 'Expected number', path: ['amount'] }] }
            },
          },
        }
        const store = await open({ schemas: { Placed: placed } })
        await store.append('s', [ev('Placed', { amount: 5 }), ev('Untyped', { anything: true })])
        await assert.rejects(store.append('s', [ev('Note'), ev('Placed', { amount: 'five' })]), (error) => {
          assert.ok(error instanceof InvalidEventError)
          assert.equal(error.index, 1)
          assert.match(error.message, /"Placed" event does not match its schema: amount: Expected number/)
          return true
        })
        await unchanged(store, await store.headPosition(), { s: 2 })
      })

      test('a closed store refuses every call with SLUICE_STORE_CLOSED', async () => {
        const target = await harness.newTarget()
        const store = await openTarget(target.config)
        await store.append('s', [ev('A')])
        await store.close()
        await assert.rejects(store.append('s', [ev('B')]), rejectsWith('SLUICE_STORE_CLOSED'))
        await assert.rejects(store.readStream('s'), rejectsWith('SLUICE_STORE_CLOSED'))
        await assert.rejects(store.readAll(), rejectsWith('SLUICE_STORE_CLOSED'))
        await store.close()
        const again = await openTarget(target.config)
        assert.equal(
          await again.streamVersion('s'),
          1,
          'what was appended before close is there after reopening',
        )
        await again.close()
        await target.cleanup()
      })
    })

    describe('snapshots and checkpoints', () => {
      test('a snapshot per stream and name, replaced by the next; state must be JSON', async () => {
        const store = await open()
        assert.equal(await store.readSnapshot('s', 'cart'), undefined)
        await store.writeSnapshot({
          streamId: 's',
          name: 'cart',
          schemaVersion: 1,
          version: 3,
          state: { items: ['a'] },
        })
        await store.writeSnapshot({ streamId: 's', name: 'other', schemaVersion: 9, version: 1, state: 7 })
        await store.writeSnapshot({
          streamId: 's',
          name: 'cart',
          schemaVersion: 2,
          version: 5,
          state: { items: ['a', 'b'] },
        })
        const snap = await store.readSnapshot('s', 'cart')
        assert.deepEqual(
          { ...snap, timestamp: 0 },
          {
            streamId: 's',
            name: 'cart',
            schemaVersion: 2,
            version: 5,
            state: { items: ['a', 'b'] },
            timestamp: 0,
          },
        )
        assert.equal((await store.readSnapshot('s', 'other'))?.state, 7)
        await assert.rejects(
          store.writeSnapshot({
            streamId: 's',
            name: 'cart',
            schemaVersion: 1,
            version: 1,
            state: new Set(),
          }),
          rejectsWith('SLUICE_INVALID_ARGUMENT'),
        )
      })

      test('checkpoints are stored per name', async () => {
        const store = await open()
        assert.equal(await store.readCheckpoint('projection-a'), undefined)
        await store.writeCheckpoint('projection-a', 5)
        await store.writeCheckpoint('projection-b', 9)
        await store.writeCheckpoint('projection-a', 12)
        assert.equal(await store.readCheckpoint('projection-a'), 12)
        assert.equal(await store.readCheckpoint('projection-b'), 9)
      })
    })

    concurrencyTests(harness)
    crashTests(harness)
    aggregateTests(harness)
    subscriptionTests(harness)
  })
}
