/**
 * Fusion: turns a subtopology's physical nodes into plain functions that call each other.
 * "Where does a record go after `filter`?" — into the `next` captured below, synchronously,
 * with no queue in between. Stateful steps also register with the task so that watermarks,
 * timers and commits reach them.
 */

import type { ByteWriter } from '../dsl/binary/io.ts'
import type { Codec } from '../dsl/codec.ts'
import type { StreamJoinNode } from '../dsl/nodes.ts'
import type { ProcessContext } from '../dsl/processor.ts'
import { SluiceError } from '../errors.ts'
import type { Bytes } from '../log/bytes.ts'
import type { PhysicalNode } from '../topology/compile.ts'
import { dedupeStep } from './dedupe-operator.ts'
import { holdsPanes, PanedWindowOperator, panesFit } from './paned-window-operator.ts'
import { patternStep } from './pattern-operator.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import { SessionWindowOperator } from './session-window-operator.ts'
import type { KeyValueStore } from './state.ts'
import { StreamJoinOperator } from './stream-join-operator.ts'
import { streamTableJoinStep, tableJoinSide, tableStep } from './table-operator.ts'
import { type Timer, TimerQueue } from './timers.ts'
import {
  FixedWindowOperator,
  type WindowOperator,
  type WindowOutput,
  type WindowState,
} from './window-operator.ts'
import type { WindowStore } from './window-store.ts'

export type Push = (record: StreamRecord) => void

/** What fused steps need from their task. */
export interface ChainHost {
  readonly pipeline: string
  store<V>(name: string, options?: { ttl?: number }): KeyValueStore<V>
  windowStore(name: string): WindowStore
  /** Queue a record for a topic in the next commit. */
  sink(topic: string, record: StreamRecord, encode: (value: unknown) => Bytes): void
  sinkInto(
    topic: string,
    record: StreamRecord,
    encodeInto: (value: unknown, writer: ByteWriter) => void,
  ): void
  repartition(topic: string, record: StreamRecord): void
  /** Event-time and processing-time hooks of stateful steps, in upstream-first order. */
  onWatermark(fn: (watermark: number) => void): void
  onProcessingTime(fn: (now: number) => void): void
  /** Async steps: start work whose result re-enters the chain later, in input order. */
  async(name: string, fn: (value: unknown) => Promise<unknown>, concurrency: number, next: Push): Push
  readonly watermark: number
  /** How far event time is known on these source topics: +∞ while they are idle. */
  sourceWatermark(topics: readonly string[]): number
  /** A global table's current values (runtime/global-tables.ts). */
  globalTable(store: string): ReadonlyMap<string, unknown>
  readonly now: number
  windows: WindowOperator[]
  /** A step without a late output (a pattern, a stream–stream join) dropped a late record. */
  dropLate(): void
}

/** Records into one step of a task (a node of its subtopology), for the per-step figures. */
export interface StepCount {
  readonly step: string
  readonly kind: string
  n: number
}

/** Steps that only pass records on: their figures would repeat their parent's. */
const UNCOUNTED = new Set(['source', 'merge', 'stream-join'])

/**
 * Builds the fused functions of one task. Call `build` for each source root, then `finish`
 * once: nodes reached from several sources (after a merge) are built once and shared.
 */
export class ChainBuilder {
  readonly #host: ChainHost
  readonly #built = new Map<PhysicalNode, Push>()
  readonly #hooks: Array<() => void> = []
  /** Operators shared by several physical nodes (the two sides of a stream–stream join). */
  readonly #shared = new Map<PhysicalNode, unknown>()

  /** Per-step record counts, in build order; empty when the task does not count. */
  readonly steps: StepCount[] = []
  readonly #count: boolean

  /** `count`: wrap each step to count the records into it (the per-step figures). */
  constructor(host: ChainHost, count = true) {
    this.#host = host
    this.#count = count
  }

  build(node: PhysicalNode): Push {
    const existing = this.#built.get(node)
    if (existing) return existing
    // Placeholder for a node reached again while its children are being built.
    let self: Push = () => {}
    this.#built.set(node, (r) => self(r))
    const kids = node.children.map((c) => this.build(c))
    const next: Push =
      kids.length === 0
        ? () => {}
        : kids.length === 1
          ? kids[0]!
          : (r) => {
              for (const k of kids) k(r)
            }
    self = step(node, next, this.#host, this.#hooks, this.#shared)
    if (this.#count && !UNCOUNTED.has(node.op.kind)) {
      // A wrapper rather than a counter in each step's body: one more call per step, which
      // V8 inlines; bench:engine --metrics-overhead measures it with the other metrics.
      const counted: StepCount = { step: node.name, kind: node.op.kind, n: 0 }
      this.steps.push(counted)
      const inner = self
      self = (r) => {
        counted.n++
        inner(r)
      }
    }
    this.#built.set(node, self)
    return self
  }

  /**
   * Registers the stateful steps' watermark and timer hooks. They were collected
   * children-first; they run upstream-first, so a window's results reach a downstream window
   * before that one sees the same watermark.
   */
  finish(): void {
    for (const register of this.#hooks.reverse()) register()
    this.#hooks.length = 0
  }
}

function step(
  node: PhysicalNode,
  next: Push,
  host: ChainHost,
  hooks: Array<() => void>,
  shared: Map<PhysicalNode, unknown>,
): Push {
  const name = node.name
  const op = node.op
  switch (op.kind) {
    case 'source':
    case 'merge':
      return next
    case 'map': {
      const fn = op.fn
      return (r) => {
        let value: unknown
        try {
          value = fn(r.value)
        } catch (e) {
          throw new OperatorError(name, e)
        }
        next({ key: r.key, value, timestamp: r.timestamp })
      }
    }
    case 'filter': {
      const fn = op.fn
      return (r) => {
        let keep: boolean
        try {
          keep = fn(r.value)
        } catch (e) {
          throw new OperatorError(name, e)
        }
        if (keep) next(r)
      }
    }
    case 'flatMap': {
      const fn = op.fn
      return (r) => {
        let values: Iterable<unknown>
        try {
          values = [...fn(r.value)]
        } catch (e) {
          throw new OperatorError(name, e)
        }
        for (const value of values) next({ key: r.key, value, timestamp: r.timestamp })
      }
    }
    case 'peek':
    case 'forEach': {
      const fn = op.fn
      return (r) => {
        try {
          fn(r.value)
        } catch (e) {
          throw new OperatorError(name, e)
        }
        next(r)
      }
    }
    case 'sink': {
      const topic = op.topic
      const keyOf = topic.key
      const into = topic.codec.encodeText ? undefined : (topic.codec.encodeInto as SinkInto | undefined)
      if (into) {
        return (r) => {
          const key = r.key ?? (keyOf ? String(keyOf(r.value)) : null)
          host.sinkInto(topic.name, key === r.key ? r : { key, value: r.value, timestamp: r.timestamp }, into)
        }
      }
      const encode = encoderOf(topic.codec)
      return (r) => {
        const key = r.key ?? (keyOf ? String(keyOf(r.value)) : null)
        host.sink(topic.name, key === r.key ? r : { key, value: r.value, timestamp: r.timestamp }, encode)
      }
    }
    case 'repartition': {
      const { fn, topic } = op
      return (r) => {
        let key: string
        try {
          key = String(fn(r.value))
        } catch (e) {
          throw new OperatorError(name, e)
        }
        host.repartition(topic, { key, value: r.value, timestamp: r.timestamp })
      }
    }
    case 'aggregate': {
      const agg = op.aggregator
      const store = host.store<unknown>(`${host.pipeline}.${name}`)
      return (r) => {
        const key = r.key ?? ''
        let acc: unknown
        try {
          acc = agg.add(store.get(key) ?? agg.init(), r.value)
        } catch (e) {
          throw new OperatorError(name, e)
        }
        store.put(key, acc)
        next({ key, value: { key, value: agg.result ? agg.result(acc) : acc }, timestamp: r.timestamp })
      }
    }
    case 'window-aggregate': {
      const late = op.late
      const out: WindowOutput = {
        emit: next,
        late: late ? (r) => host.sink(late.name, r, encoderOf(late.codec)) : () => {},
      }
      const storeName = `${host.pipeline}.${name}`
      let window: WindowOperator
      if (op.window.kind === 'session') {
        window = new SessionWindowOperator(op, host.store<WindowState>(storeName), out)
      } else {
        const store = host.windowStore(storeName)
        if (holdsPanes(op, store)) {
          throw new SluiceError(
            'SLUICE_INVALID_ARGUMENT',
            `window step "${name}" has state kept as panes (hopping windows with emit 'final' and an aggregation with merge), which it can no longer read: it now emits on every update or its aggregation has no merge. Give the step a new name (its windows start afresh), or keep emit 'final' and a merge.`,
          )
        }
        window = panesFit(op, store)
          ? new PanedWindowOperator(op, store, out)
          : new FixedWindowOperator(op, store, out)
      }
      host.windows.push(window)
      hooks.push(() => host.onWatermark((wm) => window.advance(wm)))
      return (r) => {
        try {
          window.process(r)
        } catch (e) {
          throw e instanceof OperatorError ? e : new OperatorError(name, e)
        }
      }
    }
    case 'process': {
      const processor = op.processor
      const store = host.store<unknown>(
        `${host.pipeline}.${name}`,
        processor.ttl ? { ttl: processor.ttl } : {},
      )
      const timers = new TimerQueue(host.store<Timer>(`${host.pipeline}.${name}.timers`))
      let key = ''
      let timestamp = 0
      const ctx: ProcessContext<unknown, unknown> = {
        get key() {
          return key
        },
        get timestamp() {
          return timestamp
        },
        get watermark() {
          return host.watermark
        },
        get processingTime() {
          return host.now
        },
        state: {
          get: () => store.get(key),
          set: (v) => store.put(key, v),
          delete: () => store.delete(key),
        },
        timers: {
          eventTime: (t) => timers.register('event', t, key),
          processingTime: (t) => timers.register('processing', t, key),
        },
        emit: (value, options) =>
          next({ key: options?.key ?? key, value, timestamp: options?.timestamp ?? timestamp }),
      }
      const fire = (kind: Timer['kind'], upTo: number) => {
        if (!processor.onTimer) return
        for (const t of timers.due(kind, upTo)) {
          key = t.key
          // A processing-time timer fires at "now" in event time: the watermark, or the clock
          // before there is any event time (never −∞, which no log accepts as a timestamp).
          timestamp = kind === 'event' ? t.time : Number.isFinite(host.watermark) ? host.watermark : host.now
          try {
            processor.onTimer({ kind, time: t.time }, ctx)
          } catch (e) {
            throw new OperatorError(name, e)
          }
        }
      }
      hooks.push(() => {
        host.onWatermark((wm) => fire('event', wm))
        host.onProcessingTime((now) => {
          fire('processing', now)
          store.expire(now)
        })
      })
      return (r) => {
        key = r.key ?? ''
        timestamp = r.timestamp
        try {
          processor.process(r.value, ctx)
        } catch (e) {
          throw e instanceof OperatorError ? e : new OperatorError(name, e)
        }
      }
    }
    case 'mapAsync':
      return host.async(name, op.fn, op.concurrency, next)
    case 'table':
    case 'to-table':
    case 'table-join':
      // Results of a table–table join arrive from its side nodes, as updates of its table.
      return tableStep(node, host, next)
    case 'stream-table-join':
      return streamTableJoinStep(node as PhysicalNode & { op: typeof op }, host, next, hooks)
    case 'dedupe':
      return dedupeStep(name, op, host, next, hooks)
    case 'match':
      return patternStep(name, op.pattern, { skip: op.skip }, host, next, hooks)
    case 'stream-join':
      // Records reach the join node only as its results (from the operator's side nodes).
      return next
    case 'join-side': {
      // Both sides share one operator, made by whichever side is built first; `next` is the
      // join node itself.
      const joinNode = node.children[0]!
      if (joinNode.op.kind === 'table-join') return tableJoinSide(joinNode, host, next)
      const joinOp = joinNode.op as StreamJoinNode
      let operator = shared.get(joinNode) as StreamJoinOperator | undefined
      if (!operator) {
        const made = new StreamJoinOperator(
          joinNode.name,
          joinOp,
          host.store(`${host.pipeline}.${joinNode.name}`),
          next,
          () => host.dropLate(),
        )
        shared.set(joinNode, made)
        hooks.push(() => host.onWatermark((wm) => made.advance(wm)))
        operator = made
      }
      const side = op.side
      const join = operator
      return (r) => join.process(side, r, host.watermark)
    }
    default:
      throw new TypeError(`unknown step kind ${(op as { kind: string }).kind}`)
  }
}

type SinkInto = (value: unknown, writer: ByteWriter) => void

/** What a sink encodes a topic's values with: the codec's text form when it has one (`Codec.encodeText`). */
function encoderOf<T>(codec: Codec<T>): (value: unknown) => Bytes {
  return (codec.encodeText ?? codec.encode) as (value: unknown) => Bytes
}
