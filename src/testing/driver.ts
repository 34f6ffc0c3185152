/**
 * `sluice/testing`: run a pipeline without a log, a disk or threads. Records are piped in,
 * time is virtual, and outputs, dead letters and state can be read back — the same Task code
 * as production, fed synchronously. Like Kafka Streams' TopologyTestDriver.
 *
 * @example
 * const driver = new TestDriver(p)
 * driver.pipe(clicks, { user: 'a' }, { timestamp: 1_000 })
 * driver.advanceWatermark(60_000)
 * assert.deepEqual(driver.output(counts), [...])
 */
import type { Pipeline } from '../dsl/pipeline.ts'
import type { TopicDef } from '../dsl/topic.ts'
import { toBytes } from '../log/bytes.ts'
import { partitionForAnyKey } from '../log/partitioner.ts'
import type { Headers, LogRecord, ProducerRecord } from '../log/types.ts'
import { GlobalTables } from '../runtime/global-tables.ts'
import type { PoisonRecords } from '../runtime/poison.ts'
import { type QueryableStore, queryableStore } from '../runtime/query.ts'
import { MemoryBackend } from '../runtime/state.ts'
import { Task, WATERMARK_HEADER } from '../runtime/task.ts'
import { compile, type Topology } from '../topology/compile.ts'
import { describe } from '../topology/describe.ts'

export interface TestDriverOptions {
  /** Partitions of every topic (default 1). */
  partitions?: number
  /** Start of virtual processing time (default 0). */
  startTime?: number
}

export interface OutputRecord<T = unknown> {
  key: string | null
  value: T
  timestamp: number
  partition: number
  headers: Headers
}

const utf8 = new TextDecoder()

export class TestDriver {
  readonly topology: Topology
  readonly #partitions: number
  readonly #backend = new MemoryBackend()
  readonly #tasks: Task[] = []
  /** Per task (same index): its input positions as of its last commit, where a rewind resumes. */
  readonly #committed: Array<ReadonlyMap<string, number>> = []
  /** The in-memory log: topic → partition → records. */
  readonly #topics = new Map<string, LogRecord[][]>()
  readonly #defs = new Map<string, TopicDef<unknown>>()
  readonly #globals: GlobalTables
  readonly #rewindOnFailure: boolean
  /** The highest watermark forced by `advanceWatermark` (a rebuilt task gets it again). */
  #forced = Number.NEGATIVE_INFINITY
  #now: number

  constructor(pipeline: Pipeline, options: TestDriverOptions = {}) {
    this.topology = compile(pipeline)
    this.#partitions = options.partitions ?? 1
    this.#now = options.startTime ?? 0
    this.#globals = new GlobalTables(this.topology.globalTables)
    this.#rewindOnFailure = pipeline.options.errors.afterRetries !== 'stop'
    for (const n of pipeline.nodes) {
      if (
        n.op.kind === 'source' ||
        n.op.kind === 'table' ||
        n.op.kind === 'global-table' ||
        n.op.kind === 'sink'
      )
        this.#defs.set(n.op.topic.name, n.op.topic)
      if (n.op.kind === 'window-aggregate' && n.op.late) this.#defs.set(n.op.late.name, n.op.late)
    }
    for (const sub of this.topology.subtopologies) {
      for (let p = 0; p < this.#partitions; p++) {
        this.#tasks.push(this.#newTask(sub, p))
        this.#committed.push(new Map())
      }
    }
  }

  #newTask(subtopology: Task['subtopology'], partition: number, poison?: PoisonRecords): Task {
    return new Task({
      topology: this.topology,
      subtopology,
      partition,
      backend: this.#backend,
      partitionsOf: () => this.#partitions,
      upstreamTasks: () => this.#partitions,
      now: () => this.#now,
      globals: this.#globals,
      rewindOnFailure: this.#rewindOnFailure,
      ...(poison ? { poison } : {}),
    })
  }

  /**
   * A step failed in a task holding state: rebuild the task from committed state (the backend
   * holds exactly what was committed) and its committed positions, as every runner does. The
   * replay dead-letters the failed record without processing it.
   */
  #rewind(i: number): Task {
    const old = this.#tasks[i]!
    const task = this.#newTask(old.subtopology, old.partition, old.poisonRecords())
    for (const [topic, offset] of this.#committed[i]!) task.positions.set(topic, offset)
    task.inheritFigures(old)
    if (this.#forced > Number.NEGATIVE_INFINITY) {
      for (const c of task.tracker.channels) if (!c.name.includes('#')) c.mark(this.#forced, false, this.#now)
    }
    this.#tasks[i] = task
    return task
  }

  /** The topology, as `sluice describe` prints it. */
  describe(): string {
    return describe(this.topology)
  }

  /** Virtual processing time (ms). */
  get now(): number {
    return this.#now
  }

  #log(topic: string): LogRecord[][] {
    let parts = this.#topics.get(topic)
    if (!parts) {
      parts = Array.from({ length: this.#partitions }, () => [])
      this.#topics.set(topic, parts)
    }
    return parts
  }

  #append(topic: string, record: ProducerRecord, partition: number): void {
    const list = this.#log(topic)[partition]!
    const appended: LogRecord = {
      topic,
      partition,
      offset: list.length,
      timestamp: record.timestamp ?? this.#now,
      key: record.key == null ? null : toBytes(record.key),
      value: record.value === null ? null : toBytes(record.value),
      headers: record.headers ?? {},
    }
    list.push(appended)
    // Global tables are read as soon as a record reaches their topic (a runner catches up
    // between batches).
    this.#globals.apply(topic, appended)
  }

  /**
   * Appends a record to a source topic and processes everything it causes.
   * `timestamp` is the record's log time (and its event time unless the topic says otherwise).
   */
  pipe<T>(
    topic: TopicDef<T>,
    value: NoInfer<T>,
    options: { key?: string; timestamp?: number; headers?: Headers } = {},
  ): this {
    const key = options.key === undefined ? null : Buffer.from(options.key)
    const bytes = topic.codec.encode(value)
    this.pipeRaw(topic.name, bytes, { ...options, key })
    return this
  }

  /** Appends raw bytes (e.g. malformed JSON, to test dead letters). */
  pipeRaw(
    topic: string,
    value: Uint8Array | null,
    options: { key?: Uint8Array | null; timestamp?: number; headers?: Headers } = {},
  ): this {
    const partition = options.key ? partitionForAnyKey(options.key, this.#partitions) : 0
    this.#append(
      topic,
      {
        key: options.key ?? null,
        value,
        timestamp: options.timestamp ?? this.#now,
        ...(options.headers ? { headers: options.headers } : {}),
      },
      partition,
    )
    this.#run()
    return this
  }

  /** Moves virtual processing time forward: idle partitions, processing-time timers, TTLs. */
  advanceTime(ms: number): this {
    this.#now += ms
    this.#run()
    return this
  }

  /**
   * Forces event time forward on every source partition, as if records up to `watermark`
   * had arrived everywhere: windows and event-time timers up to it fire.
   */
  advanceWatermark(watermark: number): this {
    if (watermark > this.#forced) this.#forced = watermark
    for (const task of this.#tasks) {
      for (const c of task.tracker.channels) {
        if (!c.name.includes('#')) c.mark(watermark, false, this.#now)
      }
    }
    this.#run()
    return this
  }

  #run(): void {
    for (let round = 0; round < 1000; round++) {
      let moved = 0
      for (let t = 0; t < this.#tasks.length; t++) {
        let task = this.#tasks[t]!
        do {
          if (task.rewindFor) task = this.#rewind(t)
          for (const topic of task.sourceTopics()) {
            const records = this.#log(topic)[task.partition]!
            // A halted task has passed a poison record (or waits for its rewind): commit first.
            for (let i = task.positions.get(topic) ?? 0; i < records.length && !task.halted; i++) {
              task.process(topic, records[i]!)
              moved++
            }
          }
        } while (task.rewindFor)
        task.tick(this.#now)
        const commit = task.collect()
        for (const [topic, records] of commit.outputs) {
          for (const r of records) {
            const partition = r.partition ?? (r.key == null ? 0 : partitionForAnyKey(r.key, this.#partitions))
            this.#append(topic, r, partition)
          }
        }
        this.#backend.write(commit.state)
        this.#committed[t] = commit.positions
        task.committed()
      }
      if (moved === 0) return
    }
    throw new Error('the pipeline did not settle after 1000 rounds: does it feed its own input?')
  }

  /** Records written to a topic, decoded with the topic's codec (JSON by default), in order. */
  output<T>(topic: TopicDef<T> | string): Array<OutputRecord<T>> {
    const name = typeof topic === 'string' ? topic : topic.name
    const def = typeof topic === 'string' ? this.#defs.get(name) : topic
    const decode = (b: Uint8Array) => (def ? def.codec.decode(b) : JSON.parse(utf8.decode(b))) as T
    const out: Array<OutputRecord<T>> = []
    for (const records of this.#log(name)) {
      for (const r of records) {
        if (r.headers[WATERMARK_HEADER] !== undefined) continue
        out.push({
          key: r.key === null ? null : utf8.decode(r.key),
          value: (r.value === null ? null : decode(r.value)) as T,
          timestamp: r.timestamp,
          partition: r.partition,
          headers: r.headers,
        })
      }
    }
    return out
  }

  /** Just the values written to a topic. */
  values<T>(topic: TopicDef<T> | string): T[] {
    return this.output(topic).map((r) => r.value)
  }

  /** Records that failed, with the error, step and origin in their headers. */
  deadLetters(): Array<OutputRecord<string | null>> {
    const out: Array<OutputRecord<string | null>> = []
    for (const records of this.#log(this.topology.deadLetterTopic)) {
      for (const r of records) {
        out.push({
          key: r.key === null ? null : utf8.decode(r.key),
          value: r.value === null ? null : utf8.decode(r.value),
          timestamp: r.timestamp,
          partition: r.partition,
          headers: r.headers,
        })
      }
    }
    return out
  }

  /** The committed entries of a state store (`<step name>`), keyed as the store keys them. */
  state(step: string): Map<string, unknown> {
    const result = new Map<string, unknown>()
    const name = `${this.topology.pipeline}.${step}`
    for (const task of this.#tasks) {
      const store = task.stores.get(name)
      if (!store) continue
      for (const [k, v] of store.entries()) result.set(k, v)
    }
    return result
  }

  /** A step's state as `runner.store()` reads it (runtime/query.ts): tables' values, aggregates' results, windows. */
  store(step: string): QueryableStore {
    return queryableStore(this.topology, this.#tasks, step)
  }

  /** Current watermark of each task (`pipeline/subtopology/partition` → ms). */
  watermarks(): Record<string, number> {
    return Object.fromEntries(this.#tasks.map((t) => [t.id, t.watermark]))
  }

  /** Late records: dropped or diverted by window steps, dropped by patterns and stream–stream joins. */
  lateRecords(): number {
    return this.#tasks.reduce((n, t) => n + t.lateRecords(), 0)
  }
}
