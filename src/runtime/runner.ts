/**
 * Runs pipelines on the embedded log. The main loop fits on a screen:
 *
 *   loop: read a batch per task input → process (fused chain) → tick (watermarks, timers)
 *         → when drained or every commitIntervalMs: commit → when nothing arrived: wait
 *
 * Commit = one log transaction per pipeline, all queued in one event turn, so lmdb-js writes
 * them as ONE LMDB transaction holding outputs, state writes and input offsets: exactly-once.
 * Inputs are read as soon as their batch is queued to LMDB (`readQueued`), so a record's
 * output usually commits in the same LMDB transaction as the record itself. Processing
 * continues while commits flush; up to MAX_COMMITS_IN_FLIGHT are queued at once.
 */

import type { Pipeline } from '../dsl/pipeline.ts'
import { isSluiceError, SluiceError } from '../errors.ts'
import type { EmbeddedLog } from '../log/embedded/embedded-log.ts'
import type { PartitionState } from '../log/embedded/partition-state.ts'
import type { EmbeddedTransaction } from '../log/embedded/transaction.ts'
import { compile, type Subtopology, type Topology } from '../topology/compile.ts'
import { Exchange, ExchangedRecord } from './exchange.ts'
import { GlobalTables } from './global-tables.ts'
import { Histogram } from './metrics/histogram.ts'
import { type PipelineMetrics, taskSnapshot } from './metrics/snapshot.ts'
import type { PoisonRecords } from './poison.ts'
import { PURGE_EVERY_MS, RepartitionPurger } from './purge.ts'
import { findQueryableStore, type QueryableStore, queryableSteps } from './query.ts'
import type { StateBackend } from './state.ts'
import { DELETED, snapshotWrites } from './state.ts'
import { type DeadLetter, Task } from './task.ts'
import { prepareTopics, restoredPosition } from './topics.ts'

/**
 * Commits queued and not landed at once. More than one, so a commit need not wait for the
 * previous one's fsync (bench:engine measured that wait in the latency tail); a few, because
 * commits queued while LMDB is busy join its next transaction anyway, and each one waiting
 * holds its outputs in memory.
 */
const MAX_COMMITS_IN_FLIGHT = 4

export interface RunnerOptions {
  /**
   * The longest a processed record's results wait for their commit while input keeps
   * arriving (default 100 ms). When the inputs are drained, the runner commits at once, so on
   * a light load results are visible within a commit's fsync; under a backlog, fewer and
   * larger commits write each changed state entry once per interval instead of once per
   * record batch.
   */
  commitIntervalMs?: number
  /**
   * Commit once this many output records are pending, even before the interval (default
   * 8,192): outputs are held as objects until their commit, and short-lived objects are far
   * cheaper for the garbage collector than ones that survive into the old generation.
   */
  commitMaxRecords?: number
  /** Records read per task input per loop turn (default 2,000). */
  maxBatch?: number
  /** Latency histograms per task (default true; off only to measure their cost). */
  metrics?: boolean
  /**
   * How often to delete the records of repartition topics the pipeline has committed past
   * (default 30,000 ms; 0 never: they then grow for ever). See runtime/purge.ts.
   */
  purgeIntervalMs?: number
  /**
   * Hand repartition records from task to task in memory (default true): this runner runs
   * every task in one thread and commits them together, so they need not go through the log
   * (runtime/exchange.ts). False sends them through the log, as the other runners do.
   */
  exchange?: boolean
}

export interface PipelineStatus {
  pipeline: string
  tasks: number
  recordsIn: number
  recordsOut: number
  deadLetters: number
  lateRecords: number
  /** Records appended to the inputs and not yet processed. */
  lag: number
  /** Lowest task watermark (ms; -Infinity before any event time). */
  watermark: number
  openWindows: number
  commits: number
  state: 'running' | 'stopped' | 'failed'
}

/** Committed state in the log's LMDB environment (the embedded runners' state backend). */
export class LmdbBackend implements StateBackend {
  readonly #log: EmbeddedLog

  constructor(log: EmbeddedLog) {
    this.#log = log
  }

  get(key: string): unknown {
    return this.#log.storage.state.get(key)
  }

  *scan(prefix: string): Iterable<[string, unknown]> {
    for (const { key, value } of this.#log.storage.state.getRange({
      start: prefix,
      end: `${prefix}\uffff`,
    })) {
      yield [key, value]
    }
  }

  /** Runs during the log's commit(): its puts and removes join the commit's LMDB transaction. */
  write(writes: Map<string, unknown>): void {
    const db = this.#log.storage.state
    for (const [k, v] of writes) {
      if (v === DELETED) db.remove(k)
      else db.put(k, v)
    }
  }
}

interface RunningPipeline {
  pipeline: Pipeline
  topology: Topology
  tasks: Task[]
  commits: number
  /** How long each commit took, from queueing its transaction to its landing (fsync included). */
  commitLatency: Histogram
  /** Its global tables, bootstrapped at start and caught up between batches. */
  globals: GlobalTables
  /** Task count per subtopology id (each downstream task's watermark channel count). */
  counts: Map<number, number>
}

export class EmbeddedRunner {
  readonly #log: EmbeddedLog
  readonly #pipelines: RunningPipeline[]
  readonly #commitIntervalMs: number
  readonly #maxBatch: number
  readonly #commitMaxRecords: number
  readonly #purgeIntervalMs: number
  readonly #backend: LmdbBackend
  readonly #metrics: boolean
  /** Time the loop waited for a commit slot: the log is the bottleneck (backpressure). */
  #blockedMs = 0
  #inputs: PartitionState[] = []
  #stopping = false
  #failure: Error | null = null
  /** Settles when every commit queued so far has landed. */
  #inflight: Promise<unknown> | null = null
  /** Commits queued and not landed yet (committed and, in `sync` durability, fsynced). */
  #inflightCommits = 0
  /** The first commit that failed: every later commit fails too (the log is failed). */
  #commitFailure: Error | null = null
  #wake: (() => void) | null = null
  /** commit() calls waiting for a commit slot. */
  readonly #landings: Array<() => void> = []
  /** Repartition records handed over in memory; undefined when they go through the log. */
  readonly #exchange: Exchange | undefined

  constructor(log: EmbeddedLog, pipelines: readonly Pipeline[], options: RunnerOptions = {}) {
    if (pipelines.length === 0) throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'no pipelines to run')
    this.#log = log
    this.#commitIntervalMs = options.commitIntervalMs ?? 100
    this.#maxBatch = options.maxBatch ?? 2_000
    this.#commitMaxRecords = options.commitMaxRecords ?? 8_192
    this.#purgeIntervalMs = options.purgeIntervalMs ?? PURGE_EVERY_MS
    this.#backend = new LmdbBackend(log)
    this.#metrics = options.metrics ?? true
    this.#exchange = (options.exchange ?? true) ? new Exchange() : undefined
    this.#pipelines = pipelines.map((pipeline) => ({
      pipeline,
      topology: compile(pipeline),
      tasks: [],
      commits: 0,
      commitLatency: new Histogram(),
      globals: new GlobalTables(compile(pipeline).globalTables),
      counts: new Map(),
    }))
  }

  get topologies(): Topology[] {
    return this.#pipelines.map((p) => p.topology)
  }

  get tasks(): Task[] {
    return this.#pipelines.flatMap((p) => p.tasks)
  }

  /**
   * Reads a step's state while the pipelines run (see runtime/query.ts). `pipeline` picks
   * the pipeline when several have the step.
   */
  store(step: string, options: { pipeline?: string } = {}): QueryableStore {
    return findQueryableStore(this.#pipelines, step, options.pipeline)
  }

  /** The queryable steps of each pipeline. */
  queryableSteps(): Record<string, string[]> {
    return Object.fromEntries(this.#pipelines.map((p) => [p.pipeline.name, queryableSteps(p.topology)]))
  }

  /** Creates missing topics, checks co-partitioning, builds tasks and restores positions. */
  async start(): Promise<void> {
    for (const running of this.#pipelines) {
      const { topology } = running
      running.counts = await prepareTopics(this.#log, running.pipeline, topology)
      await running.globals.bootstrap(this.#log)
      // Upstream tasks first: one pass of the loop then carries a record through every
      // in-memory exchange of the pipeline.
      for (const sub of upstreamFirst(topology)) {
        const n = running.counts.get(sub.id)!
        for (let p = 0; p < n; p++) {
          const task = await this.#restoredTask(running, sub, p)
          for (const topic of task.sourceTopics())
            this.#inputs.push(this.#log.partition({ topic, partition: p }))
          running.tasks.push(task)
        }
      }
      if (this.#exchange) this.#fuse(running)
    }
  }

  /** A task over the committed state, reading its inputs from the committed offsets. */
  async #restoredTask(
    running: RunningPipeline,
    subtopology: Task['subtopology'],
    partition: number,
    poison?: PoisonRecords,
  ): Promise<Task> {
    const { topology, counts, pipeline } = running
    const task = new Task({
      topology,
      subtopology,
      partition,
      backend: this.#backend,
      partitionsOf: (topic) => this.#log.partitionsOf(topic).length,
      // Outputs to a topic of one partition are written as batches as they come (FramedOutputs).
      framed: {
        of: (topic) => this.#log.partitionsOf(topic).length === 1,
        take: (n) => this.#log.takeBuffer(n),
      },
      upstreamTasks: (id) => counts.get(id)!,
      now: Date.now,
      globals: running.globals,
      metrics: this.#metrics,
      rewindOnFailure: pipeline.options.errors.afterRetries !== 'stop',
      exchange: this.#exchange,
      ...(poison ? { poison } : {}),
    })
    for (const topic of task.sourceTopics()) {
      task.positions.set(topic, await restoredPosition(this.#log, topology.pipeline, { topic, partition }))
    }
    return task
  }

  /**
   * Replaces each task that a step failure stopped (`Task.rewindFor`) by one rebuilt from
   * committed state and offsets, which dead-letters the failed record when its replay reaches
   * it (runtime/poison.ts). The commits in flight hold the task's earlier work: they must land
   * first, so that LMDB holds all of it.
   */
  async #rewind(): Promise<void> {
    await this.#inflight
    for (const running of this.#pipelines) {
      const { tasks } = running
      const failed = tasks.filter((t) => t.rewindFor !== null)
      if (failed.length === 0) continue
      // With an in-memory exchange, the tasks downstream have seen what the failed task sent
      // since the last commit, and its replay sends it again: every task of the pipeline goes
      // back to that commit together. A failure of a record taken from the exchange also sends
      // the pipeline's keyBys through the log from now on (see Exchange.unfuse).
      const fused = running.topology.repartitionTopics
        .map((r) => r.topic)
        .filter((topic) => this.#exchange?.queues(topic) !== undefined)
      const whole = fused.length > 0
      if (whole) {
        const exchanged = failed.some((t) => t.rewindFor!.origin instanceof ExchangedRecord)
        for (const topic of fused) {
          if (exchanged) this.#exchange!.unfuse(topic)
          else this.#exchange!.clear(topic)
        }
      }
      for (let i = 0; i < tasks.length; i++) {
        const old = tasks[i]!
        if (old.rewindFor === null && !whole) continue
        const task = await this.#restoredTask(running, old.subtopology, old.partition, old.poisonRecords())
        task.inheritFigures(old)
        old.discard()
        tasks[i] = task
        this.rewound++
      }
    }
  }

  /** Tasks rebuilt from committed state after a step failed in them (status figure). */
  rewound = 0

  /** Some task stopped: a step failed in it (rewind), or its replay passed a poison record (commit). */
  #halted(): boolean {
    for (const { tasks } of this.#pipelines) for (const task of tasks) if (task.halted) return true
    return false
  }

  #rewindDue(): boolean {
    for (const { tasks } of this.#pipelines)
      for (const task of tasks) if (task.rewindFor !== null) return true
    return false
  }

  /** Exchanges in memory each repartition topic the log holds nothing unread of. */
  #fuse(running: RunningPipeline): void {
    for (const { topic } of running.topology.repartitionTopics) {
      const partitions = this.#log.partitionsOf(topic)
      const readers = running.tasks.filter((t) => t.positions.has(topic))
      const unread = readers.some(
        (t) => this.#log.partition({ topic, partition: t.partition }).nextOffset > t.positions.get(topic)!,
      )
      if (!unread) this.#exchange!.fuse(topic, partitions.length)
    }
  }

  /** Hands every record waiting in the exchange to its task, upstream tasks first. */
  async #drainExchange(): Promise<number> {
    let processed = 0
    for (const task of this.tasks) {
      for (const topic of task.sourceTopics()) processed += await this.#drainQueue(task, topic)
    }
    return processed
  }

  /** Processes what the exchange holds for `task` on `topic` (0 when it goes through the log). */
  async #drainQueue(task: Task, topic: string): Promise<number> {
    const queue = this.#exchange?.queues(topic)?.[task.partition]
    if (queue === undefined || queue.length === 0) return 0
    const started = performance.now()
    // Upstream async results may append while this awaits: the loop takes them too.
    for (let i = 0; i < queue.length; i++) {
      task.processExchanged(topic, queue[i]!)
      if (task.asyncFull) {
        const waited = performance.now()
        await task.asyncProgress()
        task.metrics.blockedMs += performance.now() - waited
      }
    }
    const processed = queue.length
    queue.length = 0
    task.metrics.busyMs += performance.now() - started
    return processed
  }

  /** Runs until `stop()` (or a failure under the `stop` error policy). */
  async run(): Promise<void> {
    let lastCommit = Date.now()
    // Records processed since the last commit: their outputs are not visible yet.
    let uncommitted = false
    const purger = new RepartitionPurger(this.#log, this.topologies, this.#purgeIntervalMs).start()
    try {
      let lastGlobals = 0
      while (!this.#stopping) {
        // Global tables follow their topics between batches (at most every 100 ms).
        if (Date.now() - lastGlobals >= 100) {
          lastGlobals = Date.now()
          for (const { globals } of this.#pipelines) if (globals.size > 0) await globals.catchUp(this.#log)
        }
        const processed = await this.#processOnce()
        if (processed > 0) uncommitted = true
        // A halted task waits for a rewind or a commit; rare, so looked for once per pass.
        const halted = this.#halted()
        if (halted && this.#rewindDue()) await this.#rewind()
        let now = Date.now()
        // Commit when the interval is due or the inputs are drained: on a light load a
        // record's output commits as soon as it exists, queued right behind the record's own
        // batch, so both usually land in one LMDB transaction (latency); under a backlog
        // commits come at most every interval or commitMaxRecords outputs (throughput).
        // Commits land in the order they were queued, so there is no need to wait for the
        // previous one; past MAX_COMMITS_IN_FLIGHT keep processing instead (the next commit
        // then holds more records), which bounds what waits in memory for LMDB.
        const due =
          halted ||
          now - lastCommit >= this.#commitIntervalMs ||
          this.#pendingOutputs() >= this.#commitMaxRecords
        const canCommit = this.#inflightCommits < MAX_COMMITS_IN_FLIGHT
        if (canCommit && (due || (uncommitted && !this.#inputWaiting()))) {
          await this.commit()
          lastCommit = now
          uncommitted = false
          now = Date.now()
        }
        if (processed > 0 || this.#stopping || this.#inputWaiting()) {
          // A busy loop would never leave the microtask queue: LMDB's commit callbacks (which
          // let the next commit start), timers and signals would starve until input ran out.
          await yieldToEventLoop()
          continue
        }
        // Nothing to read. Sleep until an append is queued, but never past the next commit
        // that is due (waiting the full poll interval with outputs uncommitted was most of
        // the p99 latency); if that commit waits for a slot, a landing wakes us.
        const wait =
          !uncommitted || this.#inflightCommits >= MAX_COMMITS_IN_FLIGHT
            ? 50
            : Math.max(0, lastCommit + this.#commitIntervalMs - now)
        if (wait === 0) continue
        await Promise.race([
          this.#log.waitForQueue(this.#inputs, wait),
          new Promise<void>((r) => {
            this.#wake = r
          }),
        ])
        this.#wake = null
      }
      await this.commit()
      await this.#inflight
    } catch (error) {
      this.#failure = error as Error
      throw error
    } finally {
      await purger.stop()
    }
  }

  #pendingOutputs(): number {
    let n = 0
    for (const { tasks } of this.#pipelines) for (const task of tasks) n += task.pendingOutputs
    return n
  }

  /**
   * True when some input has records (queued or committed) past its task's position. Appends
   * queued while the loop awaits a commit would not wake a wait that starts afterwards, so
   * look before waiting.
   */
  #inputWaiting(): boolean {
    if (this.#exchange?.pending()) return true
    for (const { tasks } of this.#pipelines) {
      for (const task of tasks) {
        for (const topic of task.sourceTopics()) {
          const part = this.#log.partition({ topic, partition: task.partition })
          if (part.nextOffset > task.positions.get(topic)!) return true
        }
      }
    }
    return false
  }

  async #processOnce(): Promise<number> {
    const log = this.#log
    let processed = 0
    const now = Date.now()
    for (const { tasks } of this.#pipelines) {
      for (const task of tasks) {
        // Waiting for its rewind or commit: what it would read now is read after that.
        if (task.halted) continue
        task.now = now
        for (const topic of task.sourceTopics()) {
          const tp = { topic, partition: task.partition }
          let position = task.positions.get(topic)!
          let records: ReturnType<EmbeddedLog['read']>
          try {
            // Past the high watermark too: this runner's commit queues behind those batches
            // and lands only if they did (see readQueued).
            records = log.readQueued(tp, position, { maxRecords: this.#maxBatch })
          } catch (error) {
            if (!isSluiceError(error, 'SLUICE_OFFSET_OUT_OF_RANGE')) throw error
            // Retention removed records this pipeline had not read: continue from what is left.
            position = log.partition(tp).startOffset
            task.positions.set(topic, position)
            records = log.readQueued(tp, position, { maxRecords: this.#maxBatch })
          }
          const started = performance.now()
          for (let i = 0; i < records.length; ) {
            i = task.processRun(topic, records, i)
            if (task.asyncFull) {
              const waited = performance.now()
              await task.asyncProgress()
              task.metrics.blockedMs += performance.now() - waited
            }
          }
          if (records.length > 0) task.metrics.busyMs += performance.now() - started
          processed += records.length + (await this.#drainQueue(task, topic))
        }
        task.tick(now)
      }
    }
    return processed
  }

  /**
   * The commit protocol (exactly-once on the embedded log):
   * 1. Wait for async steps in flight, so every consumed record's results are in this commit;
   *    and hand what waits in the in-memory exchange to its tasks (runtime/exchange.ts).
   * 2. Wait while MAX_COMMITS_IN_FLIGHT commits are queued. No need to wait for the previous
   *    one: commits land in the order they are queued (the log grants their reservations in
   *    call order and stages them in it), and one that fails fails every later one.
   * 3. Per task: collect outputs (incl. watermark markers and dead letters), state writes and
   *    input positions. Under the `stop` policy, a failure stops here: nothing of it commits,
   *    and a restart reprocesses the failing record.
   * 4. Stage all of it in one log transaction per pipeline; state writes join the same
   *    LMDB transaction. All transactions are queued in this event turn, so LMDB commits them
   *    together, after (or with) the batches the inputs were read from.
   * A crash before the commit loses nothing: the restarted tasks read from the last
   * committed offsets with the last committed state and produce the same outputs again.
   */
  async commit(): Promise<void> {
    // 1. (The exchange is drained too: what an upstream task sent must be in this commit.)
    do {
      for (const task of this.tasks) while (task.asyncInFlight > 0) await task.asyncProgress()
    } while ((await this.#drainExchange()) > 0)
    if (this.#rewindDue()) await this.#rewind()
    // 2.
    const waited = performance.now()
    while (this.#inflightCommits >= MAX_COMMITS_IN_FLIGHT && !this.#commitFailure) {
      await new Promise<void>((r) => this.#landings.push(r))
    }
    this.#blockedMs += performance.now() - waited
    if (this.#commitFailure) throw this.#commitFailure
    // 3. + 4.
    const commits: Promise<unknown>[] = []
    for (const running of this.#pipelines) {
      const { pipeline, topology, tasks } = running
      const tx = this.#log.transaction({ id: pipeline.name, metadata: false }) as EmbeddedTransaction
      let touched = false
      for (const task of tasks) {
        if (pipeline.options.errors.afterRetries === 'stop' && task.failures.length > 0) {
          const f = task.failures[0]!
          throw new SluiceError('SLUICE_INVALID_INPUT', stopPolicyMessage(pipeline.name, f), {
            cause: f.error,
          })
        }
        const c = task.collect()
        for (const [topic, records] of c.outputs) {
          if (records.length === 0) continue
          tx.send(topic, records)
          touched = true
        }
        for (const [topic, frames] of c.frames) {
          if (frames.count === 0) continue
          tx.sendFrames(topic, frames)
          touched = true
        }
        if (c.state.size > 0) {
          const state = snapshotWrites(c.state)
          tx.addWrite(() => this.#backend.write(state))
          touched = true
        }
        const offsets = [...c.positions].map(([topic, offset]) => ({
          topic,
          partition: task.partition,
          offset,
        }))
        if (offsets.length > 0) tx.commitOffsets(topology.pipeline, offsets)
        // Evaluated for every task (not short-circuited), so each task's last positions are kept.
        const moved = this.#positionsMoved(task, c.positions)
        touched ||= moved
      }
      // Each store's taken writes are committed() oldest first, so a collect that wrote
      // nothing is also answered only after the commits queued before it have landed.
      const landing = { tasks, landed: false }
      this.#landingOrder.push(landing)
      if (!touched) {
        tx.abort()
        this.#land(landing)
        continue
      }
      running.commits++
      const commitStarted = performance.now()
      commits.push(
        tx.commit().then(() => {
          running.commitLatency.record(performance.now() - commitStarted)
          this.#land(landing)
        }),
      )
    }
    if (commits.length > 0) {
      const inflight = Promise.all(commits)
      const previous = this.#inflight
      // Resolves once this commit and every earlier one have landed.
      const all = (previous ? Promise.all([previous, inflight]) : inflight).then(() => undefined)
      all.catch(() => {})
      this.#inflight = all
      this.#inflightCommits++
      // Failures surface at the next commit, or where #inflight is awaited (the final one).
      const landed = (error?: unknown) => {
        this.#inflightCommits--
        if (error && !this.#commitFailure) this.#commitFailure = error as Error
        for (const r of this.#landings.splice(0)) r()
        this.#wake?.()
      }
      inflight.then(() => landed(), landed)
    }
  }

  /** Collects in the order they were taken, until they and every earlier one have landed. */
  readonly #landingOrder: Array<{ tasks: Task[]; landed: boolean }> = []

  #land(landing: { tasks: Task[]; landed: boolean }): void {
    landing.landed = true
    const order = this.#landingOrder
    while (order.length > 0 && order[0]!.landed) {
      for (const task of order.shift()!.tasks) task.committed()
    }
  }

  readonly #lastPositions = new WeakMap<Task, Map<string, number>>()

  #positionsMoved(task: Task, positions: Map<string, number>): boolean {
    const last = this.#lastPositions.get(task)
    this.#lastPositions.set(task, positions)
    if (!last) return positions.size > 0
    for (const [t, o] of positions) if (last.get(t) !== o) return true
    return false
  }

  /** Stops the loop after a final commit; resolves when `run()` has returned. */
  stop(): void {
    this.#stopping = true
    this.#wake?.()
  }

  get failure(): Error | null {
    return this.#failure
  }

  /** Per pipeline and task: positions and lag, watermarks per input, windows, latency histograms. */
  metrics(): PipelineMetrics[] {
    const now = Date.now()
    const endOf = (topic: string, partition: number) => this.#log.partition({ topic, partition }).nextOffset
    const state = this.#failure ? 'failed' : this.#stopping ? 'stopped' : 'running'
    return this.#pipelines.map(({ pipeline, tasks, commits, commitLatency }) => ({
      pipeline: pipeline.name,
      state,
      commits,
      commitLatency: commitLatency.data(),
      blockedMs: this.#blockedMs,
      tasks: tasks.map((t) => taskSnapshot(t, now, endOf)),
    }))
  }

  status(): PipelineStatus[] {
    return this.#pipelines.map(({ pipeline, tasks, commits }) => {
      let lag = 0
      for (const task of tasks) {
        for (const topic of task.sourceTopics()) {
          lag +=
            this.#log.partition({ topic, partition: task.partition }).nextOffset - task.positions.get(topic)!
        }
      }
      return {
        pipeline: pipeline.name,
        tasks: tasks.length,
        recordsIn: sum(tasks, (t) => t.recordsIn),
        recordsOut: sum(tasks, (t) => t.recordsOut),
        deadLetters: sum(tasks, (t) => t.deadLetters),
        lateRecords: sum(tasks, (t) => t.lateRecords()),
        lag,
        watermark: Math.min(...tasks.map((t) => t.watermark)),
        openWindows: sum(tasks, (t) => t.windows.reduce((n, w) => n + w.openWindows, 0)),
        commits,
        state: this.#failure ? 'failed' : this.#stopping ? 'stopped' : 'running',
      }
    })
  }
}

/** Why a pipeline under the `stop` error policy stopped: the first failure, and where it was. */
export function stopPolicyMessage(pipeline: string, f: DeadLetter): string {
  return (
    `pipeline "${pipeline}" stopped (error policy "stop"): ${f.error.message}` +
    (f.origin ? ` at ${f.origin.topic}/${f.origin.partition}@${f.origin.offset}` : '')
  )
}

/** The subtopologies of a topology, each after the ones whose repartition topics it reads. */
function upstreamFirst(topology: Topology): Subtopology[] {
  const done = new Set<number>()
  const order: Subtopology[] = []
  const visit = (sub: Subtopology) => {
    if (done.has(sub.id)) return
    done.add(sub.id)
    for (const source of sub.sources)
      if (source.upstream !== null) visit(topology.subtopologies[source.upstream]!)
    order.push(sub)
  }
  for (const sub of topology.subtopologies) visit(sub)
  return order
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  let n = 0
  for (const i of items) n += f(i)
  return n
}

/**
 * Runs pipelines on an embedded log until `signal` aborts; resolves after the final commit.
 * @example
 * const log = await openEmbeddedLog()
 * const ac = new AbortController()
 * process.on('SIGINT', () => ac.abort())
 * await runPipelines(log, [p], { signal: ac.signal })
 */
export async function runPipelines(
  log: EmbeddedLog,
  pipelines: readonly Pipeline[],
  options: RunnerOptions & { signal?: AbortSignal } = {},
): Promise<EmbeddedRunner> {
  const runner = new EmbeddedRunner(log, pipelines, options)
  await runner.start()
  const done = runner.run()
  if (options.signal) {
    if (options.signal.aborted) runner.stop()
    else options.signal.addEventListener('abort', () => runner.stop(), { once: true })
  }
  await done
  return runner
}
