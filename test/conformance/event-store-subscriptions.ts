/**
 * Subscriptions and asynchronous projections on each store: a subscriber that keeps up during
 * concurrent writes sees every event once, in order; checkpoints resume; projections apply
 * each event exactly once, and a rebuild from position 0 ends equal to the live projection.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type Projection, rebuildProjection, startProjection } from '../../src/eventstore/projections.ts'
import { subscribe } from '../../src/eventstore/subscription.ts'
import type { EventStore, RecordedEvent } from '../../src/eventstore/types.ts'
import { caughtUp, type EventStoreHarness, freshStore, readEverything } from './event-store-helpers.ts'
import { openTarget } from './event-store-target.ts'

/** Balances per account stream, and how many events each saw (a double apply shows in both). */
const balances: Projection = {
  name: 'balances',
  types: ['Deposited', 'Withdrawn'],
  async apply(events, tx) {
    for (const e of events) {
      const doc = (await tx.get<{ balance: number; events: number }>(e.streamId)) ?? { balance: 0, events: 0 }
      const { amount } = e.data as { amount: number }
      await tx.put(e.streamId, {
        balance: doc.balance + (e.type === 'Deposited' ? amount : -amount),
        events: doc.events + 1,
      })
    }
  },
}

/** 8 writers appending deposits and withdrawals to 5 accounts; returns the last acknowledged position. */
async function writeAccounts(store: EventStore, writers: EventStore[], appends = 15): Promise<number> {
  let last = 0
  await Promise.all(
    writers.map(async (writer, w) => {
      for (let i = 0; i < appends; i++) {
        const r = await writer.append(`account-${(w + i) % 5}`, [
          { type: 'Deposited', data: { amount: 10 + w } },
          { type: i % 3 === 0 ? 'Withdrawn' : 'Noted', data: { amount: 3 } },
        ])
        last = Math.max(last, r.lastPosition)
      }
    }),
  )
  await caughtUp(store, last)
  return last
}

async function openWriters(
  store: EventStore,
  config: Parameters<typeof openTarget>[0],
): Promise<EventStore[]> {
  if (config.kind !== 'postgres') return Array.from({ length: 8 }, () => store)
  return Promise.all(Array.from({ length: 8 }, () => openTarget(config, { connections: 1 })))
}

/** The balances the events say, folded by hand. */
function expectedBalances(
  events: readonly RecordedEvent[],
): Map<string, { balance: number; events: number }> {
  const out = new Map<string, { balance: number; events: number }>()
  for (const e of events) {
    if (e.type !== 'Deposited' && e.type !== 'Withdrawn') continue
    const doc = out.get(e.streamId) ?? { balance: 0, events: 0 }
    const { amount } = e.data as { amount: number }
    out.set(e.streamId, {
      balance: doc.balance + (e.type === 'Deposited' ? amount : -amount),
      events: doc.events + 1,
    })
  }
  return out
}

export function subscriptionTests(harness: EventStoreHarness): void {
  describe('subscriptions', () => {
    test('catch-up then live: a subscriber that keeps up during 8 writers sees every event once, in order', async () => {
      const { store, target } = await freshStore(harness)
      for (let i = 0; i < 40; i++) await store.append(`before-${i % 4}`, [{ type: 'Early', data: { i } }])
      const seen: RecordedEvent[] = []
      const sub = subscribe(store, (events) => void seen.push(...events), { batchSize: 16, pollMs: 50 })
      await sub.caughtUp
      assert.equal(seen.length, 40, 'the catch-up delivered what was stored')
      const writers = await openWriters(store, target.config)
      let last: number
      try {
        last = await writeAccounts(store, writers)
      } finally {
        await Promise.all(writers.filter((w) => w !== store).map((w) => w.close()))
      }
      await sub.reached(last)
      await sub.stop()
      const all = await readEverything(store)
      assert.deepEqual(
        seen.map((e) => `${e.position}:${e.id}`),
        all.map((e) => `${e.position}:${e.id}`),
        'exactly the global order: nothing missed, nothing twice',
      )
    })

    test('a checkpointed subscription resumes after what it handled; filters apply', async () => {
      const { store } = await freshStore(harness)
      await store.append('a', [
        { type: 'Keep', data: 1 },
        { type: 'Skip', data: 2 },
        { type: 'Keep', data: 3 },
      ])
      const first: unknown[] = []
      const sub1 = subscribe(store, (events) => void first.push(...events.map((e) => e.data)), {
        checkpoint: 'keeper',
        types: ['Keep'],
        pollMs: 50,
      })
      await sub1.caughtUp
      await sub1.stop()
      assert.deepEqual(first, [1, 3])
      const stored = await store.readCheckpoint('keeper')
      assert.equal(stored, await store.headPosition(), 'the checkpoint moved past the skipped event too')
      const r = await store.append('a', [
        { type: 'Skip', data: 4 },
        { type: 'Keep', data: 5 },
      ])
      await caughtUp(store, r.lastPosition)
      const second: unknown[] = []
      const sub2 = subscribe(store, (events) => void second.push(...events.map((e) => e.data)), {
        checkpoint: 'keeper',
        types: ['Keep'],
        pollMs: 50,
      })
      await sub2.reached(r.lastPosition)
      await sub2.stop()
      assert.deepEqual(second, [5], 'only what came after the checkpoint')
    })

    test("a handler's error stops the subscription without moving its checkpoint", async () => {
      const { store } = await freshStore(harness)
      await store.append('a', [{ type: 'Boom', data: 1 }])
      const sub = subscribe(
        store,
        () => {
          throw new Error('handler failed')
        },
        { checkpoint: 'failing' },
      )
      await assert.rejects(sub.done, /handler failed/)
      await assert.rejects(sub.caughtUp, /handler failed/)
      assert.equal(await store.readCheckpoint('failing'), undefined)
    })
  })

  describe('projections', () => {
    test('live during 8 writers: every event applied exactly once; a rebuild from 0 equals the live projection', async () => {
      const { store, target } = await freshStore(harness)
      const live = startProjection(store, balances, { batchSize: 20, pollMs: 50 })
      // A second runner of the same projection races the first: positions are compared at
      // every commit, so each batch is still applied once.
      const rival = startProjection(store, balances, { batchSize: 7, pollMs: 50 })
      const writers = await openWriters(store, target.config)
      let last: number
      try {
        last = await writeAccounts(store, writers)
      } finally {
        await Promise.all(writers.filter((w) => w !== store).map((w) => w.close()))
      }
      await live.reached(last)
      await rival.reached(last)
      await live.stop()
      await rival.stop()
      const projections = store.projections()
      const liveDocs = await projections.entries('balances')
      const expected = expectedBalances(await readEverything(store))
      assert.deepEqual(liveDocs, expected, 'the live projection applied each event once')

      const progress: number[] = []
      const result = await rebuildProjection(store, balances, {
        batchSize: 25,
        onProgress: (p) => progress.push(p.position),
      })
      assert.ok(result.position >= last, 'the rebuild reached the head')
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
        'progress only moves forward',
      )
      assert.ok(progress.length > 3, 'progress was reported batch by batch')
      assert.deepEqual(await projections.entries('balances'), liveDocs, 'rebuilt equals live')
      assert.equal(await projections.position('balances'), result.position)
    })

    test('an apply that throws stops the runner and commits nothing of its batch', async () => {
      const { store } = await freshStore(harness)
      const r = await store.append('account-1', [
        { type: 'Deposited', data: { amount: 5 } },
        { type: 'Deposited', data: { amount: -1 } },
      ])
      await caughtUp(store, r.lastPosition)
      const strict: Projection = {
        name: 'strict',
        async apply(events, tx) {
          for (const e of events) {
            if ((e.data as { amount: number }).amount < 0) throw new Error('negative amount')
            await tx.put(e.id, e.data)
          }
        },
      }
      const running = startProjection(store, strict)
      await assert.rejects(running.done, /negative amount/)
      const projections = store.projections()
      assert.equal(await projections.position('strict'), 0)
      assert.deepEqual(
        await projections.entries('strict'),
        new Map(),
        'the first event of the batch was undone',
      )
      await assert.rejects(
        (async () => {
          await projections.commit('strict', 0, 1, async (tx) => {
            await tx.put('bad', { when: new Date() })
          })
        })(),
        /documents are JSON/,
      )
      await assert.rejects(
        projections.commit('strict', 5, 6, () => {}),
        /at position 0, not 5/,
        'a stale position is refused',
      )
    })
  })
}
