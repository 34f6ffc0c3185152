/**
 * The foreign-key join of two partitioned tables — orders (by order id) with customers (by
 * customer id), on `order.customerId` — built from the DSL's own parts, the way Kafka Streams
 * builds its own (KIP-213):
 *
 * 1. `<name>-subscribe` (with the left table, by left key): on each change of a left row it
 *    sends a subscription for the row's foreign key — and an unsubscription for the key it had
 *    before — and a version number for the row.
 * 2. `<name>-match` (by foreign key; the right table's changes are re-keyed there too): holds
 *    the right row and the left rows subscribed to it; answers each subscription, and each
 *    change of the right row, with `joiner(left, right)` for every subscribed left row, tagged
 *    with the left row's version.
 * 3. `<name>-result` (by left key): keeps the newest version of each left row and lets through
 *    only the answer for it. An answer computed for an older value of the row (its foreign key
 *    changed while the answer was on its way) is dropped; an answer that overtakes the news of
 *    its own version waits for it.
 *
 * The result is a table by left key: inner join — a row only while its foreign key has a right
 * row; left join — `joiner(left, null)` without one. Deleting a left row deletes its result.
 */
import type { Stream } from './stream.ts'
import type { Table } from './table.ts'

type ToMatch<L, R> =
  | { t: 'sub'; k: string; f: string; l: L; v: number }
  | { t: 'unsub'; k: string; f: string }
  | { t: 'right'; f: string; r: R | null }
type ToResult<U> =
  | { t: 'cur'; k: string; v: number; del: boolean }
  | { t: 'resp'; k: string; v: number; j: U | null }

export interface ForeignKeyJoinOptions {
  /** The result table's name; its steps and internal topics are named from it. */
  name: string
}

export function foreignKeyJoin<L, R, U>(
  left: Table<L>,
  right: Table<R>,
  foreignKey: (left: L) => string | number,
  joiner: (left: L, right: R | null) => U,
  type: 'inner' | 'left',
  options: ForeignKeyJoinOptions,
): Table<NonNullable<U>> {
  const { name } = options
  if (left.pipeline !== right.pipeline) {
    throw new TypeError(`pipeline "${left.pipeline.name}": cannot join a table of another pipeline`)
  }
  // 1. Subscriptions by foreign key, and each left row's version by left key.
  const changes = left.toStream().process<ToMatch<L, R> | ToResult<U>, { f: string | null; v: number }>({
    name: `${name}-subscribe`,
    process(row, ctx) {
      const before = ctx.state.get()
      const v = (before?.v ?? 0) + 1
      const f = row === null ? null : String(foreignKey(row))
      if (before?.f != null && before.f !== f) ctx.emit({ t: 'unsub', k: ctx.key, f: before.f })
      if (row !== null && f !== null) ctx.emit({ t: 'sub', k: ctx.key, f, l: row, v })
      ctx.emit({ t: 'cur', k: ctx.key, v, del: row === null })
      ctx.state.set({ f, v })
    },
  })
  const subscriptions = (changes.filter((m) => m.t !== 'cur') as Stream<ToMatch<L, R>>).keyBy(
    (m) => (m as { f: string }).f,
    {
      name: `${name}-by-fk`,
    },
  )
  const rightChanges = right
    .toStream()
    .process<ToMatch<L, R>>({
      name: `${name}-right`,
      process(row, ctx) {
        ctx.emit({ t: 'right', f: ctx.key, r: row })
      },
    })
    .keyBy((m) => (m as { f: string }).f, { name: `${name}-right-by-fk` })
  // 2. The match, by foreign key.
  const answers = subscriptions
    .merge(rightChanges)
    .process<ToResult<U>, { r: R | null; subs: Record<string, { l: L; v: number }> }>({
      name: `${name}-match`,
      process(m, ctx) {
        const state = ctx.state.get() ?? { r: null, subs: {} }
        const answer = (k: string, l: L, v: number) => {
          const j = state.r === null && type === 'inner' ? null : joiner(l, state.r)
          ctx.emit({ t: 'resp', k, v, j }, { key: k })
        }
        if (m.t === 'sub') {
          state.subs[m.k] = { l: m.l, v: m.v }
          answer(m.k, m.l, m.v)
        } else if (m.t === 'unsub') {
          delete state.subs[m.k]
        } else {
          state.r = m.r
          for (const [k, { l, v }] of Object.entries(state.subs)) answer(k, l, v)
        }
        if (state.r === null && Object.keys(state.subs).length === 0) ctx.state.delete()
        else ctx.state.set(state)
      },
    })
    .keyBy((m) => m.k, { name: `${name}-answers` })
  const versions = (changes.filter((m) => m.t === 'cur') as Stream<ToResult<U>>).keyBy((m) => m.k, {
    name: `${name}-versions`,
  })
  // 3. Only the answer for a row's newest version becomes its result.
  return answers
    .merge(versions)
    .process<U | null, { v: number; shown: boolean; waiting?: { v: number; j: U | null } }>({
      name: `${name}-result`,
      process(m, ctx) {
        const state = ctx.state.get() ?? { v: 0, shown: false }
        // A delete only for a row that has a result: no tombstones for rows never joined.
        const show = (j: U | null) => {
          if (j === null && !state.shown) return
          ctx.emit(j)
          state.shown = j !== null
        }
        if (m.t === 'cur') {
          state.v = m.v
          if (m.del) show(null)
          else if (state.waiting?.v === m.v) show(state.waiting.j)
          if (state.waiting && state.waiting.v <= m.v) delete state.waiting
        } else if (m.v === state.v) {
          show(m.j)
        } else if (m.v > state.v) {
          // The answer overtook the news of its version: hold it until that arrives.
          state.waiting = { v: m.v, j: m.j }
        }
        ctx.state.set(state)
      },
    })
    .toTable({ name })
}
