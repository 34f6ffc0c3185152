/**
 * Runs pipelines on the embedded log over worker threads: the tasks (one per subtopology and
 * input partition) are spread round-robin over the workers, which read the log and process in
 * parallel. The main thread is the log's only writer; every `commitIntervalMs` it gathers what
 * the workers processed and commits it, all workers' outputs, state and offsets in ONE LMDB
 * transaction, exactly as EmbeddedRunner commits its tasks (exactly-once is unchanged: a
 * round is committed whole or not at all).
 *
 *   main:    loop: wait commitIntervalMs → commit round (below) ;  on appends: wake workers
 *   workers: loop: read → process → tick; answer collects between passes (task-loop.ts)
 */

import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { Pipeline } from '../../dsl/pipeline.ts'
import { SluiceError } from '../../errors.ts'
import type { EmbeddedLog } from '../../log/embedded/embedded-log.ts'
import type { PartitionState } from '../../log/embedded/partition-state.ts'
import type { EmbeddedTransaction } from '../../log/embedded/transaction.ts'
import type { ProducerRecord } from '../../log/types.ts'
import { compile, type Topology } from '../../topology/compile.ts'
import { Alarm } from '../../util/alarm.ts'
import { GlobalTables } from '../global-tables.ts'
import { Histogram } from '../metrics/histogram.ts'
import type { PipelineMetrics } from '../metrics/snapshot.ts'
import { PURGE_EVERY_MS, RepartitionPurger } from '../purge.ts'
import { findQueryableStore, type QueryableStore, queryableSteps } from '../query.ts'
import type { PipelineStatus, RunnerOptions } from '../runner.ts'
import { LmdbBackend } from '../runner.ts'
import { Task } from '../task.ts'
import { prepareTopics, restoredPosition } from '../topics.ts'
import { RecordUnpacker } from './packed-records.ts'
import { type TaskFigures, type TaskReport, type TaskSpec, topologyFingerprint } from './protocol.ts'
import { type CollectReply, WorkerHandle } from './worker-handle.ts'

export interface ThreadedRunnerOptions extends RunnerOptions {
  /**
   * The module that declares the pipelines (a path or file URL). Each worker imports it and
   * picks the pipelines by name, so it must declare them at its top level, the same way on
   * every import, and do nothing else there (no log opening, no running).
   */
  module: string | URL
  /** Worker threads (default: the machine's cores); never more than there are tasks. */
  threads?: number
  /** Input records a worker processes between two commits at most (default 100,000). */
  maxUncollected?: number
}

/** A task as the main thread knows it: where it runs, what it last reported. */
interface TaskInfo {
  id: string
  spec: TaskSpec
  worker: number
  /** Next offset per input, as of the last collect. */
  positions: Map<string, number>
  /** Positions last committed, to skip transactions that would change nothing. */
  committed: Map<string, number> | null
  figures: TaskFigures
}

interface RunningPipeline {
  pipeline: Pipeline
  topology: Topology
  tasks: TaskInfo[]
  commits: number
  commitLatency: Histogram
}

/**
 * Round interval while there is nothing to do: a worker still ticks every 50 ms (timers,
 * idleness), so what a tick emits commits about as soon as with EmbeddedRunner.
 */
const IDLE_ROUND_MS = 50

const NO_FIGURES: TaskFigures = {
  recordsIn: 0,
  recordsOut: 0,
  deadLetters: 0,
  lateRecords: 0,
  openWindows: 0,
  watermark: Number.NEGATIVE_INFINITY,
  metrics: null,
}

/**
 * @example
 * const runner = new ThreadedRunner(log, pipelines, { module: 'pipelines.ts', threads: 4 })
 * await runner.start()
 * process.on('SIGINT', () => runner.stop())
 * await runner.run()
 */
export class ThreadedRunner {
  readonly #log: EmbeddedLog
  readonly #pipelines: RunningPipeline[]
  readonly #module: string
  readonly #threads: number
  readonly #commitIntervalMs: number
  readonly #purgeIntervalMs: number
  readonly #maxBatch: number
  readonly #maxUncollected: number
  #workers: WorkerHandle[] = []
  /** Every task in a fixed order (pipeline, subtopology, partition): the staging order. */
  #tasks: TaskInfo[] = []
  #inputs: PartitionState[] = []
  #round = 0
  #inflight: Promise<unknown> | null = null
  #started = false
  #stopping = false
  #failure: Error | null = null
  readonly #alarm = new Alarm()
  /** The last round found nothing to commit and every worker idle: rounds slow down. */
  #idle = false

  constructor(log: EmbeddedLog, pipelines: readonly Pipeline[], options: ThreadedRunnerOptions) {
    if (pipelines.length === 0) throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'no pipelines to run')
    const threads = options.threads ?? availableParallelism()
    if (!Number.isInteger(threads) || threads < 1) {
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `threads must be a whole number ≥ 1, got ${threads}`)
    }
    this.#log = log
    this.#module = options.module instanceof URL ? fileURLToPath(options.module) : options.module
    this.#threads = threads
    this.#purgeIntervalMs = options.purgeIntervalMs ?? PURGE_EVERY_MS
    this.#commitIntervalMs = options.commitIntervalMs ?? 5
    this.#maxBatch = options.maxBatch ?? 2_000
    this.#maxUncollected = options.maxUncollected ?? 100_000
    this.#pipelines = pipelines.map((pipeline) => ({
      pipeline,
      topology: compile(pipeline),
      tasks: [],
      commits: 0,
      commitLatency: new Histogram(),
    }))
  }

  /**
   * A read view of a step's **committed** state. The tasks run in worker threads; their
   * commits land here, in LMDB, so the main thread reads what has committed (not, as
   * EmbeddedRunner does, what is processed and not yet committed: at most one commit
   * interval behind). Each call reads afresh.
   */
  store(step: string, options: { pipeline?: string } = {}): QueryableStore {
    const backend = new LmdbBackend(this.#log)
    const views = this.#pipelines.map((p) => ({
      topology: p.topology,
      // A task built over committed state and never fed: its stores read through to LMDB.
      tasks: p.tasks.map(
        (t) =>
          new Task({
            topology: p.topology,
            subtopology: p.topology.subtopologies.find((s) => s.id === t.spec.subtopology)!,
            partition: t.spec.partition,
            backend,
            partitionsOf: () => 1,
            upstreamTasks: () => 1,
            now: Date.now,
            globals: new GlobalTables(p.topology.globalTables),
            metrics: false,
          }),
      ),
    }))
    return findQueryableStore(views, step, options.pipeline)
  }

  /** The queryable steps of each pipeline. */
  queryableSteps(): Record<string, string[]> {
    return Object.fromEntries(this.#pipelines.map((p) => [p.pipeline.name, queryableSteps(p.topology)]))
  }

  get topologies(): Topology[] {
    return this.#pipelines.map((p) => p.topology)
  }

  /** Worker threads started (at most `threads`, at most one per task). */
  get threads(): number {
    return this.#workers.length
  }

  get failure(): Error | null {
    return this.#failure
  }

  /**
   * Creates missing topics, plans the tasks with their restored positions, starts the workers
   * and waits until each has built its tasks.
   */
  async start(): Promise<void> {
    const pipelineSpecs = []
    for (let i = 0; i < this.#pipelines.length; i++) {
      const running = this.#pipelines[i]!
      const { topology } = running
      const counts = await prepareTopics(this.#log, running.pipeline, topology)
      for (const sub of topology.subtopologies) {
        for (let p = 0; p < counts.get(sub.id)!; p++) {
          const positions = new Map<string, number>()
          for (const { topic } of sub.sources) {
            const tp = { topic, partition: p }
            positions.set(topic, await restoredPosition(this.#log, topology.pipeline, tp))
            this.#inputs.push(this.#log.partition(tp))
          }
          const task: TaskInfo = {
            id: `${topology.pipeline}/${sub.id}/${p}`,
            spec: { pipeline: i, subtopology: sub.id, partition: p, positions: [...positions] },
            worker: this.#tasks.length % this.#threads,
            positions,
            committed: null,
            figures: NO_FIGURES,
          }
          this.#tasks.push(task)
          running.tasks.push(task)
        }
      }
      pipelineSpecs.push({
        name: running.pipeline.name,
        fingerprint: topologyFingerprint(topology),
        tasksPerSubtopology: [...counts],
      })
    }
    const workers = Math.min(this.#threads, this.#tasks.length)
    for (let w = 0; w < workers; w++) {
      const mine = this.#tasks.filter((t) => t.worker === w)
      const setup = {
        index: w,
        module: this.#module,
        pipelines: pipelineSpecs,
        tasks: mine.map((t) => t.spec),
        dataDir: this.#log.dataDir,
        durability: this.#log.durability,
        maxBatch: this.#maxBatch,
        maxUncollected: this.#maxUncollected,
      }
      this.#workers.push(
        new WorkerHandle(
          setup,
          mine.map((t) => t.id),
          (error) => this.#fail(error),
        ),
      )
    }
    try {
      await Promise.all(this.#workers.map((w) => w.ready()))
    } catch (error) {
      await this.#terminate()
      throw error
    }
    for (const w of this.#workers) w.unref()
    this.#started = true
  }

  /** Runs until `stop()`, a worker failure, or a failure under the `stop` error policy. */
  async run(): Promise<void> {
    if (!this.#started) throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'call start() before run()')
    for (const w of this.#workers) {
      w.ref()
      w.post({ type: 'run' })
    }
    const watching = this.#wakeWorkersOnAppend()
    const purger = new RepartitionPurger(this.#log, this.topologies, this.#purgeIntervalMs).start()
    try {
      let last = Date.now()
      while (!this.#stopping) {
        await this.#pause(last + (this.#idle ? IDLE_ROUND_MS : this.#commitIntervalMs) - Date.now())
        if (this.#failure) throw this.#failure
        if (this.#stopping) break
        last = Date.now()
        await this.#commit(false)
      }
      await this.#commit(true)
      await this.#inflight
      this.#stopping = true
      await Promise.all(this.#workers.map((w) => w.stop()))
    } catch (error) {
      this.#fail(error as Error)
      // A round already queued is whole: let it land before the caller closes the log.
      await this.#inflight?.catch(() => {})
      await this.#terminate()
      throw this.#failure
    } finally {
      this.#stopping = true
      this.#alarm.wake()
      await watching
      await purger.stop()
    }
  }

  /** Stops the loop after a final commit; `run()` resolves when the workers have exited. */
  stop(): void {
    this.#stopping = true
    this.#alarm.wake()
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#alarm.wake()
  }

  #pause(ms: number): Promise<void> {
    if (ms <= 0 || this.#stopping || this.#failure) return Promise.resolve()
    return this.#alarm.sleep(ms)
  }

  async #terminate(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()))
  }

  /**
   * Wakes the workers when an input partition gets new committed records (producers, and
   * this runner's own commits into repartition topics): a worker with nothing to read
   * sleeps until then.
   */
  async #wakeWorkersOnAppend(): Promise<void> {
    const end = () => this.#inputs.reduce((n, p) => n + p.highWatermark, 0)
    let seen = end()
    while (!this.#stopping && !this.#failure) {
      await this.#log.waitForAppend(this.#inputs, 100)
      const now = end()
      if (now === seen) continue
      seen = now
      for (const w of this.#workers) w.post({ type: 'appended' })
      // New input ends an idle stretch: the next round is due at the normal interval.
      if (this.#idle) {
        this.#idle = false
        this.#alarm.wake()
      }
    }
  }

  /**
   * The commit protocol, one round (exactly-once on the embedded log):
   * 1. Every worker collects: it waits for its async steps, then hands over each task's
   *    outputs (incl. watermark markers and dead letters), state changes and input positions.
   *    A worker that fails meanwhile rejects the round: nothing of it is staged.
   * 2. Wait for the previous round's commit (it flushed while the workers collected): rounds
   *    are applied in order, and a worker drops a round's state overlay only once every
   *    earlier round is in LMDB.
   * 3. Under the `stop` policy, a failure reported by any worker stops here: nothing of this
   *    round commits, and a restart reprocesses the failing record.
   * 4. Stage all of it, in task order, in one log transaction per pipeline (outputs as appends,
   *    positions as group offsets, state via addWrite), all queued in this event turn with no
   *    await in between, so LMDB commits them as ONE transaction.
   * 5. When it is committed, tell the workers: their state changes of this round are in LMDB.
   * A crash before the commit loses nothing: the restarted tasks read from the last committed
   * offsets with the last committed state and produce the same outputs again.
   */
  async #commit(final: boolean): Promise<void> {
    // 1.
    const round = ++this.#round
    const replies = await Promise.all(this.#workers.map((w) => w.collect(round, final)))
    // 2.
    await this.#inflight
    if (this.#failure) throw this.#failure
    // 3.
    for (const reply of replies) {
      if (reply.type === 'stopped') {
        const cause = Object.assign(new Error(reply.cause.message), { stack: reply.cause.stack })
        throw new SluiceError('SLUICE_INVALID_INPUT', reply.message, { cause })
      }
    }
    // 4.
    const reports = this.#inTaskOrder(replies)
    const commits: Promise<unknown>[] = []
    for (const running of this.#pipelines) {
      const { pipeline, topology } = running
      const tx = this.#log.transaction({ id: pipeline.name, metadata: false }) as EmbeddedTransaction
      let touched = false
      for (const task of running.tasks) {
        const report = reports.get(task)
        if (!report) continue
        for (const [topic, records] of report.outputs) {
          tx.send(topic, records)
          touched = true
        }
        const { puts, deletes } = report.report
        if (puts.length > 0 || deletes.length > 0) {
          tx.addWrite(() => {
            const db = this.#log.storage.state
            for (const [k, v] of puts) db.put(k, v)
            for (const k of deletes) db.remove(k)
          })
          touched = true
        }
        const offsets = report.report.positions.map(([topic, offset]) => ({
          topic,
          partition: task.spec.partition,
          offset,
        }))
        if (offsets.length > 0) tx.commitOffsets(topology.pipeline, offsets)
        if (moved(task.committed, task.positions)) touched = true
        task.committed = task.positions
      }
      if (!touched) {
        tx.abort()
        continue
      }
      running.commits++
      const commitStarted = performance.now()
      commits.push(tx.commit().then(() => running.commitLatency.record(performance.now() - commitStarted)))
    }
    this.#idle = commits.length === 0 && replies.every((r) => r.type === 'collected' && r.idle)
    if (commits.length === 0) return
    // 5.
    const committed = Promise.all(commits).then(() => {
      for (const w of this.#workers) w.post({ type: 'committed', round })
    })
    committed.catch((error: Error) => this.#fail(error))
    this.#inflight = committed
  }

  /** Unpacks the replies and files each task's report, updating positions and figures. */
  #inTaskOrder(
    replies: CollectReply[],
  ): Map<TaskInfo, { report: TaskReport; outputs: Array<[string, ProducerRecord[]]> }> {
    const out = new Map<TaskInfo, { report: TaskReport; outputs: Array<[string, ProducerRecord[]]> }>()
    for (let w = 0; w < replies.length; w++) {
      const reply = replies[w]!
      if (reply.type !== 'collected') continue
      const mine = this.#tasks.filter((t) => t.worker === w)
      const unpacker = new RecordUnpacker(reply.records)
      for (const report of reply.tasks) {
        const task = mine[report.task]!
        task.positions = new Map(report.positions)
        task.figures = report.figures
        out.set(task, {
          report,
          outputs: report.outputs.map(([topic, n]) => [topic, unpacker.next(n)]),
        })
      }
    }
    return out
  }

  /** Per pipeline and task, as of each worker's last collect (lag as of now). */
  metrics(): PipelineMetrics[] {
    const state = this.#failure ? 'failed' : this.#stopping ? 'stopped' : 'running'
    return this.#pipelines.map(({ pipeline, tasks, commits, commitLatency }) => ({
      pipeline: pipeline.name,
      state,
      commits,
      commitLatency: commitLatency.data(),
      tasks: tasks.flatMap((t) => {
        const m = t.figures.metrics
        if (!m) return []
        const positions = m.positions.map((p) => ({
          ...p,
          position: t.positions.get(p.topic) ?? p.position,
          lag: Math.max(
            0,
            this.#log.partition({ topic: p.topic, partition: p.partition }).highWatermark -
              (t.positions.get(p.topic) ?? p.position),
          ),
        }))
        return [{ ...m, positions }]
      }),
    }))
  }

  status(): PipelineStatus[] {
    return this.#pipelines.map(({ pipeline, tasks, commits }) => {
      let lag = 0
      for (const task of tasks) {
        for (const [topic, position] of task.positions) {
          lag += this.#log.partition({ topic, partition: task.spec.partition }).highWatermark - position
        }
      }
      const sum = (f: (t: TaskFigures) => number) => tasks.reduce((n, t) => n + f(t.figures), 0)
      return {
        pipeline: pipeline.name,
        tasks: tasks.length,
        recordsIn: sum((f) => f.recordsIn),
        recordsOut: sum((f) => f.recordsOut),
        deadLetters: sum((f) => f.deadLetters),
        lateRecords: sum((f) => f.lateRecords),
        lag,
        watermark: Math.min(...tasks.map((t) => t.figures.watermark)),
        openWindows: sum((f) => f.openWindows),
        commits,
        state: this.#failure ? 'failed' : this.#stopping ? 'stopped' : 'running',
      }
    })
  }
}

function moved(last: Map<string, number> | null, positions: Map<string, number>): boolean {
  if (!last) return positions.size > 0
  for (const [t, o] of positions) if (last.get(t) !== o) return true
  return false
}
