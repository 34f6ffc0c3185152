/**
 * Concurrency conformance: 8 writers on the same streams (on PostgreSQL, 8 stores with one
 * connection each), while readers poll the global order. Conflicts must be detected, no event
 * lost or duplicated, and every reader must see exactly the final order: never an event
 * skipped because it committed after a later one was already readable.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ConcurrencyError } from '../../src/eventstore/errors.ts'
import type { EventStore, RecordedEvent } from '../../src/eventstore/types.ts'
import {
  Barrier,
  caughtUp,
  type EventStoreHarness,
  freshStore,
  readEverything,
  type StoreTarget,
} from './event-store-helpers.ts'
import { openTarget } from './event-store-target.ts'

const WRITERS = 8

/**
 * One store per writer where the backend allows several (PostgreSQL: separate connections);
 * the embedded store belongs to one process, so its writers share the instance.
 */
async function openWriters(target: StoreTarget, store: EventStore): Promise<EventStore[]> {
  if (target.config.kind !== 'postgres') return Array.from({ length: WRITERS }, () => store)
  return Promise.all(Array.from({ length: WRITERS }, () => openTarget(target.config, { connections: 1 })))
}

async function closeWriters(writers: EventStore[], store: EventStore): Promise<void> {
  await Promise.all(writers.filter((w) => w !== store).map((w) => w.close()))
}

/**
 * Follows the global order until `final()` names a position and the reader got there,
 * asserting that every page continues exactly where the previous one ended.
 */
async function follow(
  store: EventStore,
  final: () => number | undefined,
  dense: boolean,
): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = []
  let after = 0
  const deadline = Date.now() + 120_000
  for (;;) {
    const page = await store.readAll({ after, limit: 37 })
    for (const e of page.events) {
      assert.ok(e.position > after, `reader went backwards: ${e.position} after ${after}`)
      if (dense) assert.equal(e.position, after + 1, `reader skipped from ${after} to ${e.position}`)
      after = e.position
      seen.push(e)
    }
    after = Math.max(after, page.position)
    const target = final()
    if (target !== undefined && after >= target) return seen
    if (Date.now() > deadline) assert.fail(`reader stuck at ${after}, waiting for ${target}`)
    if (page.events.length === 0) await store.waitForEvents(after, { timeoutMs: 50 })
  }
}

export function concurrencyTests(harness: EventStoreHarness): void {
  const dense = harness.capabilities.densePositions

  describe('8 concurrent writers on the same streams', () => {
    test('the same append sent by 8 writers at once is written once; the others get the original result', async () => {
      const { store, target } = await freshStore(harness)
      const writers = await openWriters(target, store)
      try {
        for (const expectedVersion of ['any', 'noStream'] as const) {
          const stream = `retry-${expectedVersion}`
          const events = [0, 1, 2].map((i) => ({ id: `${stream}-${i}`, type: 'Retried', data: { i } }))
          const start = new Barrier(WRITERS)
          const results = await Promise.all(
            writers.map(async (writer) => {
              await start.wait()
              return writer.append(stream, events, { expectedVersion })
            }),
          )
          assert.equal(results.filter((r) => !r.duplicate).length, 1, `${expectedVersion}: one append wrote`)
          const original = results.find((r) => !r.duplicate)!
          for (const r of results) assert.deepEqual({ ...r, duplicate: false }, original)
          assert.deepEqual(
            (await store.readStream(stream)).map((e) => e.id),
            events.map((e) => e.id),
          )
        }
      } finally {
        await closeWriters(writers, store)
      }
    })

    test('racing on one expected version: exactly one append per stream wins each round, the rest conflict', async () => {
      const { store, target } = await freshStore(harness)
      const writers = await openWriters(target, store)
      const ROUNDS = 12
      const streamOf = (w: number) => (w < WRITERS / 2 ? 'race-a' : 'race-b')
      const start = new Barrier(WRITERS)
      const end = new Barrier(WRITERS)
      const wins: Array<{ stream: string; ids: string[]; version: number; last: number }> = []
      const losses: string[] = []
      let final: number | undefined
      const readers = [follow(store, () => final, dense), follow(store, () => final, dense)]
      // Awaited at the end; a failure before then must not count as unhandled.
      for (const r of readers) r.catch(() => {})
      try {
        await Promise.all(
          writers.map(async (writer, w) => {
            const stream = streamOf(w)
            for (let round = 0; round < ROUNDS; round++) {
              const version = await writer.streamVersion(stream)
              const ids = [`${w}-${round}-a`, `${w}-${round}-b`]
              await start.wait()
              try {
                const r = await writer.append(
                  stream,
                  ids.map((id) => ({ id, type: 'Raced', data: { w, round } })),
                  { expectedVersion: version === 0 ? 'noStream' : version },
                )
                wins.push({ stream, ids, version: r.nextExpectedVersion, last: r.lastPosition })
              } catch (error) {
                assert.ok(error instanceof ConcurrencyError, String(error))
                assert.equal(error.actual, version + 2, 'the conflict reports the version the winner made')
                losses.push(...ids)
              }
              await end.wait()
            }
          }),
        )
      } finally {
        final = Math.max(0, ...wins.map((w) => w.last))
        await closeWriters(writers, store)
      }
      for (const stream of ['race-a', 'race-b']) {
        const streamWins = wins.filter((w) => w.stream === stream)
        assert.equal(streamWins.length, ROUNDS, `${stream}: one winner per round`)
        const events = await store.readStream(stream)
        assert.deepEqual(
          events.map((e) => e.version),
          events.map((_, i) => i + 1),
          `${stream}: versions without gaps`,
        )
        assert.deepEqual(
          events.map((e) => e.id),
          streamWins.sort((a, b) => a.version - b.version).flatMap((w) => w.ids),
          `${stream}: exactly the winners' events, in order`,
        )
      }
      assert.equal(losses.length, ROUNDS * 2 * (WRITERS - 2), 'every other append conflicted')
      await caughtUp(store, final)
      const all = await readEverything(store)
      const stored = new Set(all.map((e) => e.id))
      assert.equal(stored.size, all.length, 'no event twice')
      for (const id of losses) assert.ok(!stored.has(id), `conflicting append ${id} wrote nothing`)
      for (const seen of await Promise.all(readers)) {
        assert.deepEqual(
          seen.map((e) => `${e.position}:${e.id}`),
          all.map((e) => `${e.position}:${e.id}`),
          'a reader polling during the writes saw exactly the final order',
        )
      }
    })

    test("appending with 'any' under contention: nothing lost, nothing twice, streams and order gap-free", async () => {
      const { store, target } = await freshStore(harness)
      const writers = await openWriters(target, store)
      const APPENDS = 30
      const acked: Array<{ stream: string; ids: string[]; first: number; last: number; version: number }> = []
      let final: number | undefined
      const readers = [follow(store, () => final, dense), follow(store, () => final, dense)]
      // Awaited at the end; a failure before then must not count as unhandled.
      for (const r of readers) r.catch(() => {})
      try {
        await Promise.all(
          writers.map(async (writer, w) => {
            for (let i = 0; i < APPENDS; i++) {
              const stream = `busy-${(w + i) % 3}`
              const ids = Array.from({ length: 1 + ((w + i) % 3) }, (_, k) => `${w}-${i}-${k}`)
              const r = await writer.append(
                stream,
                ids.map((id) => ({ id, type: 'Busy', data: { w, i } })),
              )
              acked.push({
                stream,
                ids,
                first: r.firstPosition,
                last: r.lastPosition,
                version: r.nextExpectedVersion,
              })
            }
          }),
        )
      } finally {
        final = Math.max(0, ...acked.map((a) => a.last))
        await closeWriters(writers, store)
      }
      await caughtUp(store, final)
      const all = await readEverything(store)
      const expectedIds = acked.flatMap((a) => a.ids)
      assert.equal(all.length, expectedIds.length, 'every acknowledged event, and nothing else')
      assert.deepEqual(new Set(all.map((e) => e.id)), new Set(expectedIds))
      const byId = new Map(all.map((e) => [e.id, e]))
      for (const a of acked) {
        const events = a.ids.map((id) => byId.get(id)!)
        assert.deepEqual(
          events.map((e) => [e.streamId, e.version, e.position]),
          events.map((_, k) => [a.stream, a.version - a.ids.length + 1 + k, a.first + k]),
          'an append is contiguous in its stream and in the global order',
        )
      }
      for (let s = 0; s < 3; s++) {
        const events = await store.readStream(`busy-${s}`)
        assert.deepEqual(
          events.map((e) => e.version),
          events.map((_, i) => i + 1),
          `busy-${s}: versions without gaps`,
        )
      }
      if (dense) {
        assert.deepEqual(
          all.map((e) => e.position),
          all.map((_, i) => i + 1),
        )
      }
      for (const seen of await Promise.all(readers)) {
        assert.deepEqual(
          seen.map((e) => `${e.position}:${e.id}`),
          all.map((e) => `${e.position}:${e.id}`),
          'a reader polling during the writes saw exactly the final order',
        )
      }
    })
  })
}
