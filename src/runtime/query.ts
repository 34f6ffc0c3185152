/**
 * Queryable state: read a pipeline's named state while it runs, from the tasks this process
 * holds — `runner.store('spend').get('card-1')`.
 *
 * What a step's store answers, by the step's kind:
 * - a table (`p.table`, `toTable`, a table–table join): the key's current value;
 * - a running aggregate (`keyed().aggregate`): the aggregate's result for the key;
 * - a windowed aggregate: the key's open windows, `[{ start, end, value }]` by start;
 * - `process()`: the key's state value;
 * - `dedupe`: the event time the id was first seen at.
 * Reads see what the tasks have processed, including changes not committed yet (as Kafka
 * Streams' interactive queries do); after a crash, those are redone identically.
 *
 * On a consumer group a process holds only its tasks' keys: `get` answers undefined for a key
 * another worker holds, and `holds(key)` tells which.
 */
import type { Aggregator } from '../dsl/aggregations.ts'
import type { WindowAggregateNode } from '../dsl/nodes.ts'
import { SluiceError } from '../errors.ts'
import type { PhysicalNode, Topology } from '../topology/compile.ts'
import { openWindowsOfPanes, panesFit } from './paned-window-operator.ts'
import type { KeyValueStore } from './state.ts'
import type { Task } from './task.ts'
import type { WindowStore } from './window-store.ts'

export interface WindowValue<R = unknown> {
  start: number
  end: number
  value: R
}

export interface QueryableStore<V = unknown> {
  /** The step's name and its store. */
  readonly step: string
  readonly store: string
  /** The kind of step it belongs to. */
  readonly kind: string
  get(key: string): V | undefined
  /** Entries with `from ≤ key < to` (either bound optional), sorted by key, at most `limit`. */
  range(options?: { from?: string; to?: string; limit?: number }): Array<[string, V]>
}

const QUERYABLE = ['table', 'to-table', 'table-join', 'aggregate', 'window-aggregate', 'process', 'dedupe']

/** Finds a step by name in a topology. */
function findStep(topology: Topology, step: string): PhysicalNode | undefined {
  const seen = new Set<PhysicalNode>()
  const walk = (n: PhysicalNode): PhysicalNode | undefined => {
    if (seen.has(n)) return undefined
    seen.add(n)
    if (n.name === step) return n
    for (const c of n.children) {
      const found = walk(c)
      if (found) return found
    }
    return undefined
  }
  for (const sub of topology.subtopologies) {
    for (const source of sub.sources) {
      const found = walk(source.root)
      if (found) return found
    }
  }
  return undefined
}

/**
 * The store of `step` among several pipelines' (topology, tasks): the named pipeline's, or
 * the one pipeline that has such a step. Used by the runners' `store()`.
 */
export function findQueryableStore(
  pipelines: ReadonlyArray<{ topology: Topology; tasks: readonly Task[] }>,
  step: string,
  pipeline?: string,
): QueryableStore {
  const candidates = pipelines.filter((p) =>
    pipeline === undefined ? findStep(p.topology, step) !== undefined : p.topology.pipeline === pipeline,
  )
  if (candidates.length === 1) return queryableStore(candidates[0]!.topology, candidates[0]!.tasks, step)
  const names = pipelines.map((p) => p.topology.pipeline).join(', ')
  if (pipeline !== undefined) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `no pipeline "${pipeline}" runs here (running: ${names})`,
    )
  }
  throw new SluiceError(
    'SLUICE_INVALID_ARGUMENT',
    candidates.length === 0
      ? `no running pipeline has a step "${step}" (running: ${names})`
      : `several pipelines have a step "${step}": say which, store('${step}', { pipeline })`,
  )
}

/** The names of a topology's queryable steps. */
export function queryableSteps(topology: Topology): string[] {
  return topology.stores
    .map((s) => s.slice(topology.pipeline.length + 1))
    .filter((step) => {
      const node = findStep(topology, step)
      return node !== undefined && QUERYABLE.includes(node.op.kind)
    })
}

/**
 * A read view over one step's state in `tasks` (the tasks of one pipeline this process runs).
 * Throws when the pipeline has no such step, naming the steps it has.
 */
export function queryableStore(topology: Topology, tasks: readonly Task[], step: string): QueryableStore {
  const node = findStep(topology, step)
  if (!node || !QUERYABLE.includes(node.op.kind)) {
    const have = queryableSteps(topology)
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `pipeline "${topology.pipeline}" has no queryable step "${step}"` +
        (have.length > 0 ? `; its queryable steps: ${have.join(', ')}` : ' (it keeps no queryable state)'),
    )
  }
  const storeName = `${topology.pipeline}.${step}`
  const kind = node.op.kind
  const stores = () => {
    const out: Array<KeyValueStore<unknown> | WindowStore> = []
    for (const t of tasks) {
      const s = t.stores.get(storeName)
      if (s) out.push(s as KeyValueStore<unknown> | WindowStore)
    }
    return out
  }
  const aggregator =
    kind === 'aggregate' || kind === 'window-aggregate'
      ? (node.op as { aggregator: Aggregator<unknown, unknown, unknown> }).aggregator
      : null
  const result = (acc: unknown) => (aggregator?.result ? aggregator.result(acc) : acc)

  /** Every entry as the user sees it, by user key. */
  const entries = (): Map<string, unknown> => {
    const out = new Map<string, unknown>()
    for (const store of stores()) {
      const op = node.op as WindowAggregateNode
      if (kind === 'window-aggregate' && op.window.kind !== 'session' && panesFit(op, store as WindowStore)) {
        // Panes (paned-window-operator.ts): the windows are made from them.
        for (const [key, windows] of openWindowsOfPanes(op, store as WindowStore)) {
          const list = (out.get(key) as WindowValue[] | undefined) ?? []
          for (const w of windows) list.push({ start: w.start, end: w.end, value: result(w.acc) })
          out.set(key, list)
        }
        continue
      }
      for (const [k, v] of store.entries()) {
        if (kind === 'window-aggregate') {
          const sep = k.lastIndexOf('\0')
          const key = k.slice(0, sep)
          const w = v as { end: number; acc: unknown }
          const list = (out.get(key) as WindowValue[] | undefined) ?? []
          list.push({ start: Number(k.slice(sep + 1)), end: w.end, value: result(w.acc) })
          out.set(key, list)
        } else if (kind === 'table' || kind === 'to-table' || kind === 'table-join') {
          const versions = v as Array<{ v: unknown }>
          const latest = versions[versions.length - 1]?.v
          if (latest !== null && latest !== undefined) out.set(k, latest)
        } else {
          out.set(k, kind === 'aggregate' ? result(v) : v)
        }
      }
    }
    for (const list of out.values()) {
      if (kind === 'window-aggregate') (list as WindowValue[]).sort((a, b) => a.start - b.start)
    }
    return out
  }

  return {
    step,
    store: storeName,
    kind,
    get(key) {
      if (kind === 'window-aggregate') return entries().get(key)
      for (const store of stores()) {
        const v = (store as KeyValueStore<unknown>).get(key)
        if (v === undefined) continue
        if (kind === 'table' || kind === 'to-table' || kind === 'table-join') {
          const versions = v as Array<{ v: unknown }>
          const latest = versions[versions.length - 1]?.v
          return latest === null ? undefined : latest
        }
        return kind === 'aggregate' ? result(v) : v
      }
      return undefined
    },
    range(options = {}) {
      const { from, to, limit = Number.POSITIVE_INFINITY } = options
      const out: Array<[string, unknown]> = []
      for (const [k, v] of entries()) {
        if (from !== undefined && k < from) continue
        if (to !== undefined && k >= to) continue
        out.push([k, v])
      }
      out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      return out.slice(0, limit)
    },
  }
}
