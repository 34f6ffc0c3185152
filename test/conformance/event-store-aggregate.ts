/**
 * The aggregate helper on each store: decide/evolve, handle with retry on conflicts, snapshots
 * (and their schemaVersion), and time travel by version and by time.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { aggregate } from '../../src/eventstore/aggregate.ts'
import { ConcurrencyError } from '../../src/eventstore/errors.ts'
import type { Event } from '../../src/eventstore/types.ts'
import { Barrier, type EventStoreHarness, freshStore } from './event-store-helpers.ts'

type CartEvent =
  | Event<'Opened', { owner: string }>
  | Event<'ItemAdded', { sku: string; price: number }>
  | Event<'CheckedOut', { total: number }>

interface Cart {
  owner: string | null
  items: string[]
  total: number
  checkedOut: boolean
}

type CartCommand = { open: string } | { add: string; price: number } | { checkout: true }

/** A cart whose evolve counts its calls, so a test can tell a fold from a snapshot load. */
function cartAggregate(snapshot?: { every: number; schemaVersion: number }) {
  const calls = { evolve: 0 }
  const cart = aggregate<Cart, CartEvent, CartCommand>({
    name: 'cart',
    initialState: () => ({ owner: null, items: [], total: 0, checkedOut: false }),
    evolve(state, event) {
      calls.evolve++
      switch (event.type) {
        case 'Opened':
          return { ...state, owner: event.data.owner }
        case 'ItemAdded':
          return { ...state, items: [...state.items, event.data.sku], total: state.total + event.data.price }
        case 'CheckedOut':
          return { ...state, checkedOut: true }
      }
    },
    decide(command, state) {
      if ('open' in command) {
        if (state.owner !== null) throw new Error('the cart is open already')
        return { type: 'Opened', data: { owner: command.open } }
      }
      if (state.owner === null) throw new Error('open the cart first')
      if (state.checkedOut) throw new Error('the cart is checked out')
      if ('add' in command) return [{ type: 'ItemAdded', data: { sku: command.add, price: command.price } }]
      return state.items.length === 0 ? [] : [{ type: 'CheckedOut', data: { total: state.total } }]
    },
    ...(snapshot ? { snapshot } : {}),
  })
  return { cart, calls }
}

export function aggregateTests(harness: EventStoreHarness): void {
  describe('aggregates', () => {
    test('handle decides from the loaded state and appends; load folds the same state back', async () => {
      const { store } = await freshStore(harness)
      const { cart } = cartAggregate()
      const opened = await cart.handle(store, 'cart-1', { open: 'ada' })
      assert.equal(opened.version, 1)
      assert.equal(opened.attempts, 1)
      await cart.handle(store, 'cart-1', { add: 'book', price: 12 })
      const added = await cart.handle(store, 'cart-1', { add: 'pen', price: 3 })
      assert.deepEqual(added.state, { owner: 'ada', items: ['book', 'pen'], total: 15, checkedOut: false })
      const loaded = await cart.load(store, 'cart-1')
      assert.deepEqual(loaded.state, added.state)
      assert.equal(loaded.version, 3)
      await assert.rejects(cart.handle(store, 'cart-1', { open: 'bob' }), /open already/)
      assert.equal(await store.streamVersion('cart-1'), 3, 'a refused command appends nothing')
      const none = await cart
        .handle(store, 'cart-2', { open: 'cy' })
        .then(() => cart.handle(store, 'cart-2', { checkout: true }))
      assert.deepEqual(none.events, [], 'deciding no events appends nothing')
      assert.equal(none.appended, undefined)
      const fresh = await cart.load(store, 'never-written')
      assert.deepEqual(
        [fresh.state.owner, fresh.version],
        [null, 0],
        'an unknown stream loads the initial state',
      )
    })

    test('concurrent handles on one stream: conflicts are retried with fresh state, none lost', async () => {
      const { store } = await freshStore(harness)
      const { cart } = cartAggregate()
      await cart.handle(store, 'cart-1', { open: 'ada' })
      const start = new Barrier(6)
      const results = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          await start.wait()
          return cart.handle(store, 'cart-1', { add: `sku-${i}`, price: i }, { maxAttempts: 20 })
        }),
      )
      assert.ok(
        results.some((r) => r.attempts > 1),
        'some handles met a conflict and retried',
      )
      const { state, version } = await cart.load(store, 'cart-1')
      assert.equal(version, 7)
      assert.deepEqual([...state.items].sort(), ['sku-0', 'sku-1', 'sku-2', 'sku-3', 'sku-4', 'sku-5'])
      assert.equal(state.total, 15)

      const racing = new Barrier(2)
      const once = await Promise.allSettled(
        [0, 1].map(async (i) => {
          await racing.wait()
          return cart.handle(store, 'cart-1', { add: `once-${i}`, price: 1 }, { maxAttempts: 1 })
        }),
      )
      const rejected = once.filter((r) => r.status === 'rejected')
      assert.equal(rejected.length, 1, 'without retries, the loser of a race gets the conflict')
      assert.ok((rejected[0] as PromiseRejectedResult).reason instanceof ConcurrencyError)
    })

    test('snapshots every N events: load starts from the latest and folds only what came after', async () => {
      const { store } = await freshStore(harness)
      const { cart, calls } = cartAggregate({ every: 3, schemaVersion: 1 })
      await cart.handle(store, 'cart-1', { open: 'ada' })
      for (let i = 0; i < 6; i++) await cart.handle(store, 'cart-1', { add: `sku-${i}`, price: 10 })
      const snap = await store.readSnapshot<Cart>('cart-1', 'cart')
      assert.equal(snap?.version, 6, 'written when the stream passed version 6')
      assert.equal(snap?.schemaVersion, 1)
      assert.deepEqual(snap?.state.items, ['sku-0', 'sku-1', 'sku-2', 'sku-3', 'sku-4'])
      calls.evolve = 0
      const loaded = await cart.load(store, 'cart-1')
      assert.equal(loaded.snapshotVersion, 6)
      assert.equal(loaded.replayed, 1)
      assert.equal(calls.evolve, 1, 'one event folded on top of the snapshot')
      assert.equal(loaded.version, 7)
      assert.equal(loaded.state.total, 60)
      assert.equal(loaded.state.items.length, 6)
    })

    test('a snapshot of another schemaVersion is ignored, not loaded; the new shape writes its own', async () => {
      const { store } = await freshStore(harness)
      const { cart } = cartAggregate({ every: 2, schemaVersion: 1 })
      await cart.handle(store, 'cart-1', { open: 'ada' })
      await cart.handle(store, 'cart-1', { add: 'a', price: 1 })
      assert.equal((await store.readSnapshot('cart-1', 'cart'))?.schemaVersion, 1)
      // The same aggregate with a changed state shape (items are counted, not listed).
      const v2 = aggregate<{ count: number }, CartEvent, CartCommand>({
        name: 'cart',
        initialState: () => ({ count: 0 }),
        evolve: (state, event) => (event.type === 'ItemAdded' ? { count: state.count + 1 } : state),
        decide: (command) =>
          'add' in command ? [{ type: 'ItemAdded', data: { sku: command.add, price: 0 } }] : [],
        snapshot: { every: 2, schemaVersion: 2 },
      })
      const loaded = await v2.load(store, 'cart-1')
      assert.equal(loaded.snapshotVersion, undefined, 'the v1 snapshot is not used')
      assert.deepEqual(loaded.state, { count: 1 }, 'folded from the events in the new shape')
      await v2.handle(store, 'cart-1', { add: 'b', price: 1 })
      await v2.handle(store, 'cart-1', { add: 'c', price: 1 })
      const snap = await store.readSnapshot('cart-1', 'cart')
      assert.deepEqual([snap?.schemaVersion, snap?.version, snap?.state], [2, 4, { count: 3 }])
      const again = await v2.load(store, 'cart-1')
      assert.equal(again.snapshotVersion, 4)
      assert.deepEqual(again.state, { count: 3 })
    })

    test('time travel: the state as of a version and as of a time', async () => {
      const { store } = await freshStore(harness)
      const { cart } = cartAggregate({ every: 2, schemaVersion: 1 })
      await cart.handle(store, 'cart-1', { open: 'ada' })
      await cart.handle(store, 'cart-1', { add: 'a', price: 1 })
      await new Promise((resolve) => setTimeout(resolve, 30))
      await cart.handle(store, 'cart-1', { add: 'b', price: 2 })
      await new Promise((resolve) => setTimeout(resolve, 30))
      await cart.handle(store, 'cart-1', { add: 'c', price: 4 })
      await cart.handle(store, 'cart-1', { checkout: true })
      const events = await store.readStream('cart-1')

      const atTwo = await cart.load(store, 'cart-1', { asOf: { version: 2 } })
      assert.deepEqual([atTwo.version, atTwo.state.items], [2, ['a']])
      assert.equal(
        atTwo.snapshotVersion,
        undefined,
        'the latest snapshot (version 4) is past it: folded from 0',
      )
      const atFour = await cart.load(store, 'cart-1', { asOf: { version: 4 } })
      assert.deepEqual([atFour.version, atFour.state.items, atFour.snapshotVersion], [4, ['a', 'b', 'c'], 4])
      const atThree = await cart.load(store, 'cart-1', { asOf: { version: 3 } })
      assert.deepEqual([atThree.version, atThree.state.items], [3, ['a', 'b']])
      const atZero = await cart.load(store, 'cart-1', { asOf: { version: 0 } })
      assert.deepEqual([atZero.version, atZero.state.owner], [0, null])

      const t = events[2]!.timestamp
      assert.ok(events[3]!.timestamp > t, 'the test spaced its appends in time')
      const atTime = await cart.load(store, 'cart-1', { asOf: { time: new Date(t) } })
      assert.deepEqual([atTime.version, atTime.state.items, atTime.state.checkedOut], [3, ['a', 'b'], false])
      const beforeAll = await cart.load(store, 'cart-1', { asOf: { time: events[0]!.timestamp - 1 } })
      assert.equal(beforeAll.version, 0)
      const now = await cart.load(store, 'cart-1', { asOf: { time: Date.now() + 60_000 } })
      assert.deepEqual([now.version, now.state.checkedOut], [5, true])
    })
  })
}
