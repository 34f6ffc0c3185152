/**
 * Tables and stream–table joins inside a task.
 *
 * A table's state is a versioned key-value store: per key, its values by event time
 * (`[{ t, v }]`, ascending; `v: null` = deleted at t). A join looks up the value valid at a
 * record's event time: the newest version with `t ≤` the record's time.
 *
 * Which versions are kept: every version newer than the task watermark W, plus the newest one
 * at or before W — all that an on-time record (event time ≥ W) can still need. Older versions
 * are dropped when the key is next updated, so a key holds its updates of the last
 * maxOutOfOrder or so, and one version once quiet. A record behind W (late) joins the oldest
 * version kept, which is the value as of W.
 *
 * Event-time joins (Flink's event-time temporal join, in spirit): a record whose event time t
 * is ahead of what the table's input has shown — its watermark — could still see a table
 * update with a time ≤ t arrive. It waits in the join's store (exactly-once, like all state)
 * until the table's watermark reaches t, or the table's input goes idle (nothing pending:
 * `idleAfter`, 1 s by default for tables), or the task watermark passes t. Then it joins the
 * version valid at t. Records that need not wait join at once, in arrival order; waiting
 * records are released in event-time order, each before any later arrival is joined.
 */
import type { PhysicalNode, StreamTableJoinOp, TableJoinOp } from '../topology/compile.ts'
import type { ChainHost, Push } from './chain.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

interface Version {
  t: number
  v: unknown
  /** On the oldest version kept: older versions were dropped (so it stands for the value as of W). */
  h?: true
}

export class VersionedTable {
  readonly #store: KeyValueStore<Version[]>

  constructor(store: KeyValueStore<Version[]>) {
    this.#store = store
  }

  /** Applies an upsert (or, with `value` null, a delete) at event time `t`. */
  update(key: string, t: number, value: unknown, watermark: number): void {
    const old = this.#store.get(key) ?? []
    const versions: Version[] = []
    // Keep what an on-time record can need: the newest version at or before W, and later ones.
    let firstKept = 0
    for (let i = 0; i < old.length; i++) if (old[i]!.t <= watermark) firstKept = i
    const dropped = firstKept > 0 || old[0]?.h === true
    for (let i = firstKept; i < old.length; i++)
      if (old[i]!.t !== t) versions.push({ t: old[i]!.t, v: old[i]!.v })
    let at = versions.length
    while (at > 0 && versions[at - 1]!.t > t) at--
    versions.splice(at, 0, { t, v: value })
    if (dropped) versions[0]!.h = true
    // Once the newest version at or before W is a delete with nothing after it, the key is gone.
    if (versions.length === 1 && value === null && t <= watermark) this.#store.delete(key)
    else this.#store.put(key, versions)
  }

  /** The value valid at event time `t` (undefined: none, or deleted). */
  at(key: string, t: number): unknown {
    const versions = this.#store.get(key)
    if (!versions || versions.length === 0) return undefined
    let found: Version | undefined
    for (const v of versions) {
      if (v.t > t) break
      found = v
    }
    // Behind everything kept: when older versions were dropped, a late record joins the oldest
    // version kept (the value as of W); when none were, the key had no value yet at `t`.
    found ??= versions[0]!.t <= t || versions[0]!.h !== true ? undefined : versions[0]
    return found?.v ?? undefined
  }

  /** The newest value. */
  latest(key: string): unknown {
    const versions = this.#store.get(key)
    return versions?.[versions.length - 1]?.v ?? undefined
  }
}

/** The step that materializes a table's topic into its store. */
export function tableStep(node: PhysicalNode, host: ChainHost, next: Push): Push {
  const table = new VersionedTable(host.store<Version[]>(`${host.pipeline}.${node.name}`))
  return (r) => {
    if (r.key === null) {
      throw new OperatorError(
        node.name,
        new Error('a table record needs a key: set the record key, or give the topic a key function'),
      )
    }
    table.update(r.key, r.timestamp, r.value ?? null, host.watermark)
    next(r)
  }
}

interface Waiting {
  k: string
  v: unknown
  t: number
}

/** The stream side of a stream–table join. */
export function streamTableJoinStep(
  node: PhysicalNode & { op: StreamTableJoinOp },
  host: ChainHost,
  next: Push,
  hooks: Array<() => void>,
): Push {
  const { joiner, type, version, tableTopics } = node.op
  if (node.op.global) return globalJoinStep(node, host, next)
  const table = new VersionedTable(host.store<Version[]>(node.op.tableStore))
  // Records waiting for the table's event time: store key = arrival sequence (zero-padded, so
  // the store's order is arrival order), mirrored in memory sorted by (event time, sequence).
  const store = host.store<Waiting>(`${host.pipeline}.${node.name}`)
  const waiting: Array<{ id: string; w: Waiting }> = []
  let sequence = 0
  for (const [id, w] of store.entries()) {
    waiting.push({ id, w })
    sequence = Math.max(sequence, Number(id) + 1)
  }
  waiting.sort((a, b) => a.w.t - b.w.t || (a.id < b.id ? -1 : 1))

  const join = (key: string, value: unknown, timestamp: number) => {
    const row = version === 'latest' ? table.latest(key) : table.at(key, timestamp)
    if (row === undefined && type === 'inner') return
    let joined: unknown
    try {
      joined = joiner(value, row)
    } catch (e) {
      throw new OperatorError(node.name, e)
    }
    next({ key, value: joined, timestamp })
  }
  const known = () => Math.max(host.sourceWatermark(tableTopics), host.watermark)
  /** Joins the waiting records the table has caught up with (or the watermark `at` passed). */
  const release = (at = Number.NEGATIVE_INFINITY) => {
    if (waiting.length === 0) return
    const upTo = Math.max(known(), at)
    let n = 0
    while (n < waiting.length && waiting[n]!.w.t <= upTo) n++
    if (n === 0) return
    for (const { id, w } of waiting.splice(0, n)) {
      store.delete(id)
      join(w.k, w.v, w.t)
    }
  }
  if (version === 'event-time') {
    hooks.push(() => {
      host.onWatermark((wm) => release(wm))
      host.onProcessingTime(() => release())
    })
  }
  return (r: StreamRecord) => {
    const key = r.key
    if (key === null) {
      throw new OperatorError(node.name, new Error('a record joined with a table needs a key: keyBy first'))
    }
    if (version === 'latest') return join(key, r.value, r.timestamp)
    release()
    if (r.timestamp <= known()) return join(key, r.value, r.timestamp)
    const w: Waiting = { k: key, v: r.value, t: r.timestamp }
    const id = String(sequence++).padStart(12, '0')
    store.put(id, w)
    let at = waiting.length
    while (at > 0 && waiting[at - 1]!.w.t > w.t) at--
    waiting.splice(at, 0, { id, w })
  }
}

/**
 * One side of a table–table join: an update of this side's table (already applied to its
 * store) recomputes the key's result from both tables' newest values and passes it to the
 * join node, which stores the result table. A key without a result is deleted (null) — only
 * if it had one.
 */
export function tableJoinSide(joinNode: PhysicalNode, host: ChainHost, next: Push): Push {
  const op = joinNode.op as TableJoinOp
  const left = new VersionedTable(host.store<Version[]>(op.stores[0]))
  const right = new VersionedTable(host.store<Version[]>(op.stores[1]))
  const result = new VersionedTable(host.store<Version[]>(`${host.pipeline}.${joinNode.name}`))
  // Either side's update is handled alike: both tables are read by key.
  return (r) => {
    const key = r.key!
    const l = left.latest(key)
    const rt = right.latest(key)
    const has =
      op.type === 'inner'
        ? l !== undefined && rt !== undefined
        : op.type === 'left'
          ? l !== undefined
          : l !== undefined || rt !== undefined
    if (!has) {
      if (result.latest(key) !== undefined) next({ key, value: null, timestamp: r.timestamp })
      return
    }
    let value: unknown
    try {
      value = op.joiner(l, rt)
    } catch (e) {
      throw new OperatorError(joinNode.name, e)
    }
    next({ key, value, timestamp: r.timestamp })
  }
}

/** A stream joined with a global table: a lookup by the record key, or by the join's `key`. */
function globalJoinStep(node: PhysicalNode & { op: StreamTableJoinOp }, host: ChainHost, next: Push): Push {
  const { joiner, type, lookup, tableStore } = node.op
  return (r: StreamRecord) => {
    let key: string | null
    let joined: unknown
    try {
      key = lookup ? String(lookup(r.value)) : r.key
      const row = key === null ? undefined : host.globalTable(tableStore).get(key)
      if (row === undefined && type === 'inner') return
      joined = joiner(r.value, row)
    } catch (e) {
      throw new OperatorError(node.name, e)
    }
    next({ key: r.key, value: joined, timestamp: r.timestamp })
  }
}
