/**
 * A task: one subtopology on one partition. It owns the fused chain, the state stores, the
 * watermark channels and the outputs waiting for the next commit. It does no I/O itself: the
 * runner (embedded log, Kafka) or the test driver feeds it records and commits what
 * `collect()` returns — so every backend runs exactly the same processing code.
 */
import type { ByteWriter } from '../dsl/binary/io.ts'
import { utf8 } from '../dsl/codec.ts'
import { formatIssues } from '../dsl/schema.ts'
import type { Bytes } from '../log/bytes.ts'
import { BatchRecord } from '../log/embedded/batch-codec.ts'
import type { RecordFrames } from '../log/embedded/frames.ts'
import { partitionForStringKey } from '../log/partitioner.ts'
import type { Headers, LogRecord, ProducerRecord } from '../log/types.ts'
import type { Subtopology, Topology } from '../topology/compile.ts'
import { parseDuration } from '../util/duration.ts'
import { ChainBuilder, type ChainHost, type Push, type StepCount } from './chain.ts'
import { type Exchange, ExchangedRecord } from './exchange.ts'
import type { GlobalTables } from './global-tables.ts'
import { jsonCopy } from './json-copy.ts'
import { TaskMetrics } from './metrics/task-metrics.ts'
import { FramedOutputs, OutputBuffer } from './outputs.ts'
import { PoisonRecords } from './poison.ts'
import { OperatorError, type RecordOrigin, type StreamRecord } from './record.ts'
import { KeyValueStore, type StateBackend, type TaskStore } from './state.ts'
import { Channel, type ChannelSnapshot, WatermarkTracker } from './watermarks.ts'
import type { WindowOperator } from './window-operator.ts'
import { WindowStore } from './window-store.ts'

export const WATERMARK_HEADER = 'sluice-watermark'

export interface TaskOptions {
  topology: Topology
  subtopology: Subtopology
  partition: number
  backend: StateBackend
  /** Partition count of every topic the task writes with an explicit partition. */
  partitionsOf(topic: string): number
  /** How many tasks write each repartition topic this task reads (its watermark channels). */
  upstreamTasks(subtopology: number): number
  now(): number
  /** The process's global tables (needed when the pipeline joins one). */
  globals?: GlobalTables
  /** Record latency histograms (default true; off only to measure what they cost). */
  metrics?: boolean
  /**
   * The runner can rebuild this task from committed state (dead-letter error policy): a step
   * failure in a task that holds state stops the task and asks for a rewind (`rewindFor`)
   * instead of committing the state the failed record changed. Default false: the failure is
   * only dead-lettered, its outputs dropped (the `stop` policy, and stateless tasks, need no more).
   */
  rewindOnFailure?: boolean
  /** Poison records of the task this one replaces: dead-lettered, not processed, when the replay meets them. */
  poison?: PoisonRecords
  /** Repartition topics handed over in memory (runtime/exchange.ts): the EmbeddedRunner's. */
  exchange?: Exchange | undefined
  /**
   * Topics whose outputs are written in the embedded log's batch format as they come
   * (FramedOutputs), collected as `TaskCommit.frames`, and where their buffers come from: the
   * EmbeddedRunner's, for its topics of one partition. Default: none (every output is a
   * ProducerRecord).
   */
  framed?: { readonly of: (topic: string) => boolean; readonly take: (bytes: number) => Buffer }
}

/** What one commit of a task holds. */
export interface TaskCommit {
  outputs: Map<string, ProducerRecord[]>
  /** Outputs of the topics `TaskOptions.framed` names, as frames of the embedded log. */
  frames: Map<string, RecordFrames>
  state: Map<string, unknown>
  /** Next offset to read per input (topic → offset, for this task's partition). */
  positions: Map<string, number>
}

interface SourceRuntime {
  topic: string
  internal: boolean
  /** Log timestamp of the last record read from it (for lag in seconds). */
  lastLogTime: number
  push: Push
  decode: (record: LogRecord) => StreamRecord | string
  channels: Channel[]
}

export interface DeadLetter {
  origin: RecordOrigin | null
  error: Error
  operator: string
}

interface AsyncSlot {
  done: boolean
  ok: boolean
  value: unknown
  error: unknown
  record: StreamRecord
  origin: RecordOrigin | null
  next: Push
  name: string
}

export class Task implements ChainHost {
  readonly id: string
  readonly pipeline: string
  readonly partition: number
  readonly topology: Topology
  readonly subtopology: Subtopology
  readonly tracker = new WatermarkTracker()
  readonly windows: WindowOperator[] = []
  /** Late records dropped by steps without a late output (patterns, stream–stream joins). */
  lateDropped = 0
  readonly stores = new Map<string, TaskStore>()
  readonly positions = new Map<string, number>()
  /** Output records (sinks and repartitions) since the last `collect`. */
  pendingOutputs = 0
  /**
   * The output buffer (or exchange queue) of each output of the record being processed, for a
   * rollback: the first `#journaled` slots. A count, not the array's length: setting an
   * array's length is a runtime call, and it was 2% of a pass-through pipeline's thread.
   */
  readonly #journal: Array<OutputBuffer | FramedOutputs | unknown[]> = []
  #journaled = 0
  /** Per output topic, the bytes its last OutputBuffer's writer held (binary codecs). */
  readonly #writtenBytes = new Map<string, number>()
  readonly #sources = new Map<string, SourceRuntime>()
  readonly #options: TaskOptions
  /** The runner's in-memory exchange, until the task is discarded (see `discard`). */
  #exchange: Exchange | undefined
  #outputs = new Map<string, OutputBuffer | FramedOutputs>()
  /** The output `#output` gave last, and its topic (null after a collect). */
  #lastTopic: string | null = null
  #lastOutput: OutputBuffer | FramedOutputs | null = null
  readonly #watermarkHooks: Array<(wm: number) => void> = []
  readonly #timeHooks: Array<(now: number) => void> = []
  /** The repartition topics this task writes (its keyBys), from the topology. */
  readonly #repartitionOutputs: readonly string[]
  #lastMarker = ''
  #lastExchangedMarker = ''
  #origin: RecordOrigin | null = null
  now: number
  /** Figures for status and metrics. */
  readonly metrics: TaskMetrics
  recordsIn = 0
  recordsOut = 0

  dropLate(): void {
    this.lateDropped++
  }

  /** Late records of every step: windows' (dropped or sent to their late output) and the rest. */
  lateRecords(): number {
    let n = this.lateDropped
    for (const w of this.windows) n += w.lateRecords
    return n
  }
  /** Records into each step (none when metrics are off). */
  readonly steps: readonly StepCount[]
  deadLetters = 0
  /** Dead letters of this task since the last collect (the runner writes them to the DLQ topic). */
  readonly failures: DeadLetter[] = []
  // mapAsync: slots in input order; results re-enter the chain from the head only.
  readonly #asyncQueue: AsyncSlot[] = []
  #asyncWaiters: Array<() => void> = []
  #asyncConcurrency = Number.POSITIVE_INFINITY
  /** A step failure stops this task and asks its runner for a rewind (see TaskOptions). */
  readonly #rewinds: boolean
  readonly #poison: PoisonRecords | null
  /**
   * The record a step failed on, when this task holds state: the task processes nothing more,
   * and its runner must replace it by one rebuilt from committed state and positions, given
   * `poisonRecords()` (never `collect()` it: its state includes the failed record's writes).
   */
  rewindFor: DeadLetter | null = null
  /**
   * Records are refused without moving positions: a rewind is due, or a replay just
   * dead-lettered a known poison record and the runner should commit before feeding more (so
   * each poison record costs one replay of what came since the last commit, not more).
   */
  halted = false
  /** One flag for the hot path: halted, or known poison records may lie ahead. */
  #gated: boolean

  constructor(options: TaskOptions) {
    this.#options = options
    this.#exchange = options.exchange
    this.topology = options.topology
    this.subtopology = options.subtopology
    this.#repartitionOutputs = options.topology.repartitionTopics
      .filter((r) => r.from === options.subtopology.id)
      .map((r) => r.topic)
    this.pipeline = options.topology.pipeline
    this.partition = options.partition
    this.id = `${this.pipeline}/${options.subtopology.id}/${options.partition}`
    this.now = options.now()
    this.metrics = new TaskMetrics(options.metrics ?? true)
    // One builder for all sources: a step reached from two sources (after a merge) is one
    // step with one state index, not two.
    const chains = new ChainBuilder(this, this.metrics.enabled)
    this.steps = chains.steps
    for (const source of options.subtopology.sources) {
      const push = chains.build(source.root)
      const wm = source.watermark
      const internal = source.def === null
      const channelOptions = {
        maxOutOfOrder: parseDuration(wm.maxOutOfOrder ?? 0, 'maxOutOfOrder'),
        // Tables are mostly quiet reference data: idle soon, so they do not hold joins back.
        idleAfter: internal ? 0 : parseDuration(wm.idleAfter ?? (source.table ? '1s' : '30s'), 'idleAfter'),
        advanceWithProcessingTime: wm.advance === 'processing-time',
      }
      const channelCount = source.upstream === null ? 1 : options.upstreamTasks(source.upstream)
      const channels = Array.from({ length: channelCount }, (_, i) =>
        this.tracker.add(
          new Channel(
            `${source.topic}/${options.partition}${internal ? `#${i}` : ''}`,
            channelOptions,
            this.now,
          ),
        ),
      )
      this.#sources.set(source.topic, {
        topic: source.topic,
        internal,
        push,
        decode: internal ? decodeInternal : decoderFor(source.def!, source.table),
        channels,
        lastLogTime: Number.NaN,
      })
    }
    chains.finish()
    // Before the watermark store: only the steps' stores count. A stateless task that writes a
    // repartition topic rewinds too: its watermark markers carry the failed record's event time
    // into the downstream tasks' state.
    this.#rewinds =
      (options.rewindOnFailure ?? false) && (this.stores.size > 0 || this.#repartitionOutputs.length > 0)
    this.#poison = options.poison !== undefined && options.poison.size > 0 ? options.poison : null
    this.#gated = this.#poison !== null
    // Event time survives restarts: without this, an input read to its end before a restart
    // would sit at −∞ forever after it and no window would close again.
    // One store per subtopology: on Kafka each store partition is one changelog partition, and
    // the tasks of two subtopologies on the same partition number may run on different workers.
    this.#channelStore = this.store<ChannelSnapshot[]>(`${this.pipeline}.__watermarks.${this.subtopology.id}`)
    const saved = this.#channelStore.get(String(this.subtopology.id))
    if (saved) {
      for (const s of saved) this.tracker.channels.find((c) => c.name === s.name)?.restore(s)
      this.#lastChannels = JSON.stringify(saved)
    }
  }

  readonly #channelStore: KeyValueStore<ChannelSnapshot[]>
  #lastChannels = ''

  #saveChannels(): void {
    const snapshot = this.tracker.channels.map((c) => c.snapshot())
    const json = JSON.stringify(snapshot)
    if (json === this.#lastChannels) return
    this.#lastChannels = json
    this.#channelStore.put(String(this.subtopology.id), snapshot)
  }

  // ------------------------------------------------------------ ChainHost

  store<V>(name: string, options: { ttl?: number } = {}): KeyValueStore<V> {
    let store = this.stores.get(name)
    if (!store) {
      store = new KeyValueStore(name, this.partition, this.#options.backend, {
        ...options,
        now: () => this.now,
      })
      this.stores.set(name, store)
    }
    if (!(store instanceof KeyValueStore)) throw new Error(`store ${name} is not a key-value store`)
    return store as KeyValueStore<V>
  }

  windowStore(name: string): WindowStore {
    let store = this.stores.get(name)
    if (!store) {
      store = new WindowStore(name, this.partition, this.#options.backend)
      this.stores.set(name, store)
    }
    if (!(store instanceof WindowStore)) throw new Error(`store ${name} is not a window store`)
    return store
  }

  sink(topic: string, record: StreamRecord, encode: (value: unknown) => Bytes): void {
    // Encoded before anything is noted: a value that fails to encode leaves no output behind
    // for the rollback to take (it would take the one before).
    // Strings go to the log as they are: it writes them into its batch as UTF-8.
    const value = record.value === null || record.value === undefined ? null : encode(record.value)
    const list = this.#output(topic)
    list.push(record.key, value, record.timestamp)
    this.#journal[this.#journaled++] = list
    this.pendingOutputs++
    this.recordsOut++
  }

  /** `sink` for a codec that writes into the output buffer (`Codec.encodeInto`). */
  sinkInto(
    topic: string,
    record: StreamRecord,
    encodeInto: (value: unknown, writer: ByteWriter) => void,
  ): void {
    const list = this.#output(topic)
    if (record.value === null || record.value === undefined) list.push(record.key, null, record.timestamp)
    else {
      const writer = list.beginValue(record.key, record.timestamp)
      try {
        encodeInto(record.value, writer)
      } catch (e) {
        list.abortValue()
        throw e
      }
      list.endValue()
    }
    this.#journal[this.#journaled++] = list
    this.pendingOutputs++
    this.recordsOut++
  }

  repartition(topic: string, record: StreamRecord): void {
    const partitions = this.#options.partitionsOf(topic)
    const queues = this.#exchange?.queues(topic)
    if (queues) {
      // In memory, what the JSON round trip of the log would make of the value, minus the text.
      const data = jsonCopy(record.value)
      if (data === undefined) throw notJson(record.value)
      // Not a pending output: the downstream task takes it in this turn of the loop, and
      // counting it would make commits come sooner (more state written) for nothing.
      const partition = partitionForStringKey(record.key!, partitions)
      const queue = queues[partition]!
      this.#journal[this.#journaled++] = queue
      queue.push(new ExchangedRecord(topic, partition, record.key, data, record.timestamp, null))
      return
    }
    const json = JSON.stringify(record.value)
    if (json === undefined) throw notJson(record.value)
    this.pendingOutputs++
    const key = record.key!
    const list = this.#output(topic)
    list.push(key, json, record.timestamp, partitionForStringKey(key, partitions))
    // Noted once pushed: a push that throws leaves nothing for the rollback to take.
    this.#journal[this.#journaled++] = list
  }

  onWatermark(fn: (watermark: number) => void): void {
    this.#watermarkHooks.push(fn)
  }

  onProcessingTime(fn: (now: number) => void): void {
    this.#timeHooks.push(fn)
  }

  get watermark(): number {
    return this.tracker.watermark
  }

  globalTable(store: string): ReadonlyMap<string, unknown> {
    const globals = this.#options.globals
    if (!globals) throw new Error(`this runner gives its tasks no global tables (needed for ${store})`)
    return globals.table(store)
  }

  /** How far event time is known on these source topics: +∞ while they are idle (nothing pending). */
  sourceWatermark(topics: readonly string[]): number {
    let wm = Number.POSITIVE_INFINITY
    for (const topic of topics) {
      for (const c of this.#sources.get(topic)?.channels ?? [])
        if (!c.idle && c.watermark < wm) wm = c.watermark
    }
    return wm
  }

  async(name: string, fn: (value: unknown) => Promise<unknown>, concurrency: number, next: Push): Push {
    this.#asyncConcurrency = Math.min(this.#asyncConcurrency, concurrency)
    return (record) => {
      const slot: AsyncSlot = {
        done: false,
        ok: false,
        value: undefined,
        error: undefined,
        record,
        origin: this.#origin,
        next,
        name,
      }
      this.#asyncQueue.push(slot)
      const settle = () => {
        slot.done = true
        this.#drainAsync()
      }
      callWithRetries(fn, record.value, this.topology.retries).then(
        (value) => {
          slot.ok = true
          slot.value = value
          settle()
        },
        (error) => {
          slot.error = error
          settle()
        },
      )
    }
  }

  /** Emits finished async results from the head of the queue, keeping input order. */
  #drainAsync(): void {
    const queue = this.#asyncQueue
    while (queue.length > 0 && queue[0]!.done) {
      const slot = queue.shift()!
      const previous = this.#origin
      this.#origin = slot.origin
      this.#journaled = 0
      try {
        if (!slot.ok) throw new OperatorError(slot.name, slot.error)
        slot.next({ key: slot.record.key, value: slot.value, timestamp: slot.record.timestamp })
      } catch (error) {
        // What the record's result produced before a later step failed goes too, as in process().
        this.#rollbackOutputs()
        if (this.#rewinds && slot.origin !== null) this.#requestRewind(error)
        else this.#fail(error)
      } finally {
        this.#origin = previous
      }
    }
    const waiters = this.#asyncWaiters
    this.#asyncWaiters = []
    for (const w of waiters) w()
  }

  /** Async calls in flight (the runner waits for them before committing). */
  get asyncInFlight(): number {
    return this.#asyncQueue.length
  }

  /** True when an async step is at its concurrency limit: stop feeding records. */
  get asyncFull(): boolean {
    return this.#asyncQueue.length >= this.#asyncConcurrency
  }

  /** Resolves when some async call finishes. */
  asyncProgress(): Promise<void> {
    if (this.#asyncQueue.length === 0) return Promise.resolve()
    return new Promise((r) => this.#asyncWaiters.push(r))
  }

  // ------------------------------------------------------------ processing

  sourceTopics(): string[] {
    return [...this.#sources.keys()]
  }

  /** Log timestamp of the last record processed from an input (NaN before any). */
  lastLogTime(topic: string): number {
    return this.#sources.get(topic)?.lastLogTime ?? Number.NaN
  }

  /**
   * Processes one record from an input topic. Failures of decoding, validation or a step go
   * to the dead-letter list (the record counts as consumed); `stop` policies are enforced by
   * the runner, which sees the failure. A step failure in a task that rewinds stops it instead
   * (`rewindFor`): the record is dead-lettered by the task rebuilt to replace this one.
   */
  process(topic: string, record: LogRecord): void {
    if (this.#gated && this.#gate(topic, record)) return
    this.positions.set(topic, record.offset + 1)
    this.#processFrom(this.#sources.get(topic)!, topic, record)
  }

  /**
   * `process` for the records of one read, from `records[from]` on: returns where it stopped,
   * after the last record or after one that left an async step full (`asyncFull`; at least one
   * record is processed). The input is looked up once and its position set once, not per
   * record (two map operations a record, 3% of a pass-through pipeline's thread).
   */
  processRun(topic: string, records: readonly LogRecord[], from: number): number {
    const n = records.length
    let i = from
    if (!this.#gated) {
      const source = this.#sources.get(topic)!
      let last = -1
      while (i < n) {
        const record = records[i++]!
        last = record.offset
        this.#processFrom(source, topic, record)
        // A step failure may have halted the task: the rest goes through #gate.
        if (this.#gated || this.#asyncQueue.length >= this.#asyncConcurrency) break
      }
      // As `process` does before each record: a record counts as consumed even if it failed.
      if (last >= 0) this.positions.set(topic, last + 1)
      if (!this.#gated) return i
    }
    while (i < n) {
      this.process(topic, records[i++]!)
      if (this.asyncFull) break
    }
    return i
  }

  #processFrom(source: SourceRuntime, topic: string, record: LogRecord): void {
    // Text first: on the embedded log, `value` may be an accessor that makes a view (BatchRecord).
    if (source.internal && record.valueText === undefined && record.value === null) {
      const marker = record.headers[WATERMARK_HEADER]
      if (marker !== undefined) {
        const [task, wm, idle] = marker.split(':')
        source.channels[Number(task)]?.mark(Number(wm), idle === '1', this.now)
        return
      }
    }
    this.recordsIn++
    source.lastLogTime = record.timestamp
    // A LogRecord is a RecordOrigin: no per-record copy (async slots and failures keep it).
    this.#origin = record
    const decoded = source.decode(record)
    if (typeof decoded === 'string') {
      this.#fail(new OperatorError(`source ${topic}`, new Error(decoded)))
      return
    }
    if (!source.internal) source.channels[0]!.observe(decoded.timestamp, this.now)
    if (this.metrics.enabled) {
      // From when the log stored the record; Kafka gives no append time: its timestamp then.
      const appended = source.internal ? Number.NaN : (record.appendTime ?? record.timestamp)
      this.metrics.observe(appended, decoded.timestamp)
    }
    this.#push(source, decoded)
  }

  /**
   * Processes one record an upstream task of this runner handed over in memory (see
   * runtime/exchange.ts). Like `process` on a repartition topic, except that the input
   * position does not move: the record is not in the log.
   */
  processExchanged(topic: string, record: ExchangedRecord): void {
    // Halted for a rewind: the runner rebuilds every task of the pipeline, and the upstream
    // task sends this record again (the exchange keeps nothing across a rewind).
    if (this.halted) return
    const source = this.#sources.get(topic)!
    if (record.marker !== null) {
      const [task, wm, idle] = record.marker.split(':')
      source.channels[Number(task)]?.mark(Number(wm), idle === '1', this.now)
      return
    }
    this.recordsIn++
    source.lastLogTime = record.timestamp
    this.#origin = record
    if (this.metrics.enabled) this.metrics.observe(Number.NaN, record.timestamp)
    this.#push(source, { key: record.keyString, value: record.data, timestamp: record.timestamp })
  }

  #push(source: SourceRuntime, record: StreamRecord): void {
    this.#journaled = 0
    try {
      source.push(record)
    } catch (error) {
      this.#rollbackOutputs()
      if (this.#rewinds) this.#requestRewind(error)
      else this.#fail(error)
    }
  }

  /** True when the record must not be processed: the task is halted, or it is a known poison record. */
  #gate(topic: string, record: LogRecord): boolean {
    if (this.halted) return true
    const known = this.#poison?.get(topic, record.offset)
    if (known === undefined) return false
    // The replay reached a record that failed before the rewind: dead-letter it with its
    // first error, unprocessed, and stop until the runner has committed past it.
    this.positions.set(topic, record.offset + 1)
    this.recordsIn++
    this.deadLetters++
    this.failures.push(known)
    this.halted = true
    return true
  }

  /**
   * A step failed on the record being processed, in a task that holds state: what the record
   * wrote cannot be told apart from the rest (state is changed in place), so the task stops
   * here and its runner rebuilds it from committed state (see poison.ts).
   */
  #requestRewind(error: unknown): void {
    if (this.rewindFor !== null) return
    const err = error instanceof Error ? error : new Error(String(error))
    const operator = err instanceof OperatorError ? err.operator : 'unknown'
    this.rewindFor = { origin: this.#origin, error: err, operator }
    this.halted = true
    this.#gated = true
  }

  /** The poison records for the task rebuilt to replace this one: the known ones and `rewindFor`. */
  poisonRecords(): PoisonRecords {
    const poison = this.#poison ?? new PoisonRecords()
    if (this.rewindFor) poison.add(this.rewindFor)
    return poison
  }

  /**
   * The runner replaced this task (a rewind): async calls still out may finish and emit, but
   * nothing of it may reach the exchange, where the replacement's downstream tasks read. (Its
   * log outputs are dropped with it.)
   */
  discard(): void {
    this.#exchange = undefined
  }

  /**
   * Keeps the figures of the task this one replaces (records replayed since its last commit
   * count again: they were processed again), so that no counter or histogram of /metrics
   * goes back after a rewind. Both tasks run the same subtopology: their steps and windows
   * come in the same order.
   */
  inheritFigures(from: Task): void {
    this.recordsIn += from.recordsIn
    this.recordsOut += from.recordsOut
    this.deadLetters += from.deadLetters
    this.lateDropped += from.lateDropped
    this.metrics.inherit(from.metrics)
    for (let i = 0; i < this.steps.length; i++) this.steps[i]!.n += from.steps[i]?.n ?? 0
    for (let i = 0; i < this.windows.length; i++)
      this.windows[i]!.lateRecords += from.windows[i]?.lateRecords ?? 0
  }

  #fail(error: unknown): void {
    const err = error instanceof Error ? error : new Error(String(error))
    const operator = err instanceof OperatorError ? err.operator : 'unknown'
    this.deadLetters++
    this.failures.push({ origin: this.#origin, error: err, operator })
  }

  /**
   * Moves processing time and event time forward: idle detection, watermark, window closes,
   * timers. Call after each batch of records (and on a timer when input is quiet).
   */
  tick(now: number): void {
    this.now = now
    for (const c of this.tracker.channels) c.tick(now)
    const before = this.tracker.watermark
    const wm = this.tracker.current()
    if (wm > before) this.advanceWatermark(wm)
    for (const hook of this.#timeHooks) this.#guard(() => hook(now))
    // In memory, a marker right behind the records: the downstream task sees event time move
    // in this turn, as it would reading both from the log, and closes windows no later. Not
    // while async calls are out: their records are behind this watermark and not sent yet.
    if (this.#exchange && this.#asyncQueue.length === 0) this.#sendMarkers(true)
  }

  /** Fires event-time work up to `watermark` (the test driver calls this directly). */
  advanceWatermark(watermark: number): void {
    for (const hook of this.#watermarkHooks) this.#guard(() => hook(watermark))
  }

  #guard(fn: () => void): void {
    const previous = this.#origin
    this.#origin = null
    try {
      fn()
    } catch (error) {
      this.#fail(error)
    } finally {
      this.#origin = previous
    }
  }

  // ------------------------------------------------------------ commit

  #output(topic: string): OutputBuffer | FramedOutputs {
    // Most tasks write one topic: the last one asked for is kept at hand (a map lookup per
    // output was 1.5% of a pass-through pipeline's thread).
    if (topic === this.#lastTopic) return this.#lastOutput!
    let list = this.#outputs.get(topic)
    if (!list) {
      const bytes = this.#writtenBytes.get(topic)
      const framed = this.#options.framed
      list = framed?.of(topic) ? new FramedOutputs(bytes, framed.take) : new OutputBuffer(bytes)
      this.#outputs.set(topic, list)
    }
    this.#lastTopic = topic
    this.#lastOutput = list
    return list
  }

  /** Drops what a failed record produced, so a dead-lettered record has no partial output. */
  #rollbackOutputs(): void {
    const journal = this.#journal
    for (let i = this.#journaled - 1; i >= 0; i--) {
      const list = journal[i]!
      list.pop()
      if (list instanceof OutputBuffer || list instanceof FramedOutputs) this.pendingOutputs--
    }
    this.#journaled = 0
  }

  /**
   * Everything to commit now: outputs (with watermark markers for downstream tasks), state
   * writes and input positions. The caller commits it atomically or not at all; a task whose
   * commit failed must be rebuilt from committed state.
   */
  collect(): TaskCommit {
    if (this.rewindFor !== null) throw new Error(`task ${this.id} is waiting for a rewind: it cannot commit`)
    if (this.#poison !== null) {
      this.#poison.forgetBelow(this.positions)
      this.halted = false
      this.#gated = this.#poison.size > 0
    }
    this.#appendWatermarkMarkers()
    this.#saveChannels()
    if (this.failures.length > 0) {
      const dlq = this.#output(this.topology.deadLetterTopic)
      for (const f of this.failures.splice(0)) dlq.add(deadLetterRecord(f, this.pipeline, this.now))
    }
    const state = new Map<string, unknown>()
    for (const store of this.stores.values()) store.takeWrites(state)
    const outputs = new Map<string, ProducerRecord[]>()
    const frames = new Map<string, RecordFrames>()
    for (const [topic, buffer] of this.#outputs) {
      // A buffer per commit: binary values (and frames) go into a writer that starts as big as
      // the last one for the topic got, instead of doubling its way up again at every commit.
      if (buffer.written > 0) this.#writtenBytes.set(topic, buffer.written)
      if (buffer instanceof FramedOutputs) frames.set(topic, buffer.frames())
      else outputs.set(topic, buffer.records())
    }
    this.#outputs = new Map()
    this.#lastTopic = null
    this.#lastOutput = null
    this.pendingOutputs = 0
    // The slots too: they would keep this commit's buffers alive.
    this.#journal.length = 0
    this.#journaled = 0
    this.metrics.collected()
    return { outputs, frames, state, positions: new Map(this.positions) }
  }

  /** The oldest collected commit has landed: stores may forget what it deleted. */
  committed(): void {
    for (const store of this.stores.values()) store.committed()
    this.metrics.landed(Date.now())
  }

  /** Tells every partition of each repartition topic this task writes where its event time is. */
  #appendWatermarkMarkers(): void {
    this.#sendMarkers(false)
    // Also in memory: a task whose async calls are out at every tick sends them here (the
    // commit has waited for those calls).
    if (this.#exchange) this.#sendMarkers(true)
  }

  /**
   * Markers into the repartition topics written through the log (at collect: they are
   * outputs of the commit), or into the exchange's queues (`exchanged`, at every tick).
   */
  #sendMarkers(exchanged: boolean): void {
    if (this.#repartitionOutputs.length === 0) return
    const wm = this.tracker.watermark
    const idle = this.tracker.allIdle
    const marker = `${this.partition}:${wm}:${idle ? 1 : 0}`
    // An upstream task with no event time yet still says so when it is idle: otherwise a
    // partition that never had a record would hold the downstream watermark at −∞ for good.
    if (marker === (exchanged ? this.#lastExchangedMarker : this.#lastMarker)) return
    if (wm === Number.NEGATIVE_INFINITY && !idle) return
    if (exchanged) this.#lastExchangedMarker = marker
    else this.#lastMarker = marker
    const headers: Headers = { [WATERMARK_HEADER]: marker }
    for (const topic of this.#repartitionOutputs) {
      const queues = this.#exchange?.queues(topic)
      if (queues === undefined ? exchanged : !exchanged) continue
      if (queues) {
        for (let p = 0; p < queues.length; p++)
          queues[p]!.push(new ExchangedRecord(topic, p, null, undefined, this.now, marker))
        continue
      }
      const n = this.#options.partitionsOf(topic)
      const list = this.#output(topic)
      for (let p = 0; p < n; p++)
        list.add({ key: null, value: null, headers, timestamp: this.now, partition: p })
    }
  }
}

/** The original bytes, with what failed, where and why in the headers. */
export function deadLetterRecord(f: DeadLetter, pipeline: string, now: number): ProducerRecord {
  const headers: Headers = {
    'sluice-error': f.error.message.slice(0, 2000),
    'sluice-error-stack':
      (f.error.cause instanceof Error ? f.error.cause.stack : f.error.stack)?.slice(0, 4000) ?? '',
    'sluice-operator': f.operator,
    'sluice-pipeline': pipeline,
  }
  if (f.origin) {
    headers['sluice-source-topic'] = f.origin.topic
    headers['sluice-source-partition'] = String(f.origin.partition)
    headers['sluice-source-offset'] = String(f.origin.offset)
  }
  return { key: f.origin?.key ?? null, value: f.origin?.value ?? null, headers, timestamp: now }
}

function notJson(value: unknown): TypeError {
  return new TypeError(`a value that crosses a keyBy must be JSON data, not ${typeof value}`)
}

function decodeInternal(record: LogRecord): StreamRecord | string {
  try {
    return {
      key: record.keyText ?? (record.key === null ? null : utf8(record.key)),
      value: JSON.parse(record.valueText ?? utf8(record.value!)),
      timestamp: record.timestamp,
    }
  } catch (e) {
    return `internal record could not be decoded: ${(e as Error).message}`
  }
}

export function decoderFor(
  def: NonNullable<Subtopology['sources'][number]['def']>,
  table: boolean,
): (r: LogRecord) => StreamRecord | string {
  const { codec, schema, key: keyOf, timestamp: timeOf } = def
  const decodeText = codec.decodeText
  const decodeAt = codec.decodeAt
  return (record) => {
    // Where the value lies in its batch, for a codec that reads it there (a BatchRecord's
    // `value` would make a view of it).
    const inBatch = decodeAt !== undefined && record instanceof BatchRecord ? record : null
    // The text first (see Task.process): a record with text has a value.
    if (record.valueText === undefined && (inBatch ? inBatch.valueLength < 0 : record.value === null)) {
      if (!table) return 'tombstone (null value) on a stream source'
      // A table's delete: its key and log time are all there is.
      if (record.key === null) return 'tombstone (null value) without a key on a table topic'
      return { key: utf8(record.key), value: null, timestamp: record.timestamp }
    }
    let value: unknown
    try {
      // The log's text of the value when it has it (LogRecord.valueText): no string made here.
      const text = record.valueText
      // Not null: a record without text and without a value returned above.
      if (text !== undefined && decodeText !== undefined) value = decodeText(text)
      else if (inBatch)
        value = decodeAt!(inBatch.batch, inBatch.valueAt, inBatch.valueAt + inBatch.valueLength)
      else value = codec.decode(record.value!)
    } catch (e) {
      return `value could not be decoded: ${(e as Error).message}`
    }
    if (schema) {
      const result = schema['~standard'].validate(value)
      if (result instanceof Promise)
        return 'the topic schema validates asynchronously; Sluice needs a synchronous schema'
      if (result.issues) return `schema validation failed: ${formatIssues(result.issues)}`
      value = result.value
    }
    let key: string | null = record.keyText ?? (record.key === null ? null : utf8(record.key))
    let timestamp = record.timestamp
    try {
      if (key === null && keyOf) key = String(keyOf(value))
      if (timeOf) {
        const t = timeOf(value)
        timestamp = typeof t === 'number' ? t : new Date(t).getTime()
      }
    } catch (e) {
      return `key or timestamp could not be read: ${(e as Error).message}`
    }
    if (!Number.isFinite(timestamp)) return `event time ${String(timestamp)} is not a number of ms`
    return { key, value, timestamp }
  }
}

/**
 * A mapAsync call, retried when it rejects (or throws): `count` more times, waiting
 * `backoffMs` and then twice as long each time. Only async calls are retried — a lookup in a
 * database or a service can fail for a moment; a synchronous step given the same record fails
 * the same way again.
 */
async function callWithRetries(
  fn: (value: unknown) => Promise<unknown>,
  value: unknown,
  retries: { count: number; backoffMs: number },
): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(value)
    } catch (error) {
      if (attempt >= retries.count) throw error
      await new Promise((resolve) => setTimeout(resolve, retries.backoffMs * 2 ** attempt))
    }
  }
}
