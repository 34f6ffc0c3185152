/**
 * One pipeline in one worker of a consumer group: the tasks this worker owns right now, their
 * state (in memory, restored from changelog topics) and their commits.
 *
 *   loop: follow the assignment → poll the owned partitions → process (fused chains) → tick
 *         → commit when the input is drained, or every commitIntervalMs / commitMaxRecords
 *
 * The group is `<pipeline>` (the same group the embedded runner commits its positions to),
 * and the assignor hands out whole tasks (assignor.ts), so every worker started with the same
 * pipeline file shares the tasks.
 */
import type { Pipeline } from '../../dsl/pipeline.ts'
import { isSluiceError, SluiceError } from '../../errors.ts'
import type {
  Consumer,
  Log,
  ProducerRecord,
  RecordMetadata,
  TopicPartition,
  TopicPartitionOffset,
} from '../../log/types.ts'
import type { Topology } from '../../topology/compile.ts'
import type { GlobalTables } from '../global-tables.ts'
import { Histogram } from '../metrics/histogram.ts'
import type { PoisonRecords } from '../poison.ts'
import { stopPolicyMessage } from '../runner.ts'
import { MemoryBackend } from '../state.ts'
import { Task } from '../task.ts'
import { restoredPosition } from '../topics.ts'
import { type TaskGroup, type TaskId, taskAssignor, taskKey, tasksForPartitions } from './assignor.ts'
import { changelogRecords, changelogTopic, restoreChangelog } from './changelog.ts'
import type { Checkpoints } from './checkpoint.ts'

export type Guarantee = 'exactly-once' | 'at-least-once'

export interface WorkerSettings {
  commitIntervalMs: number
  commitMaxRecords: number
  maxPoll: number
  guarantee: Guarantee
  /** Names this worker in the group and its transactional producer. */
  instanceId: string
  /** How long the broker may stay unreachable before the worker gives up. */
  outageLimitMs: number
  /** Told about each failed attempt while the broker is unreachable. */
  onOutage?: (error: Error) => void
  /** Local checkpoints of task state (null: restores replay whole changelogs). */
  checkpoints: Checkpoints | null
  /** How often to checkpoint the owned tasks while running (also on leaving a task, and at stop). */
  checkpointIntervalMs: number
  /** Told when the worker has restored the tasks it gained in a rebalance. */
  onRestore?: (report: RestoreReport) => void
  /** Told when a rebalance failed a commit and the tasks went back to the last one, from memory. */
  onRewind?: (report: { pipeline: string; tasks: number; ms: number }) => void
  /** Told when a checkpoint could not be written (processing goes on; the changelog has all). */
  onCheckpointError?: (error: Error) => void
}

export interface RestoreReport {
  pipeline: string
  /** Tasks built (gained, or rebuilt from committed state). */
  tasks: number
  /** State entries loaded from local checkpoints. */
  fromCheckpoints: number
  /** Changelog records replayed. */
  replayed: number
  ms: number
}

export interface WorkerTopology {
  topology: Topology
  /** Task count (input partitions) per subtopology id. */
  counts: Map<number, number>
  /** Partition count of every topic a task writes with an explicit partition. */
  partitions: Map<string, number>
  /** Store names per subtopology id. */
  stores: Map<number, string[]>
  /** The pipeline's global tables, bootstrapped; the worker keeps them caught up. */
  globals: GlobalTables
}

/** What one task brings to a commit. */
interface CommitPart {
  key: string
  task: Task
  /** Outputs and changelog records, by topic. */
  outputs: Map<string, ProducerRecord[]>
  /** State writes, applied to memory once the commit lands. */
  state: Map<string, unknown>
  offsets: TopicPartitionOffset[]
}

/** Commits of one batch of work: the first, then again after each rebalance that failed it. */
const MAX_COMMIT_ATTEMPTS = 5
/** How long a commit a rebalance failed waits for this member's sync of the new generation. */
const SETTLE_WAIT_MS = 15_000

/** What restoring a task gained: where its inputs resume, and per store partition its changelog position. */
interface Restored {
  positions: Array<[TopicPartition, number]>
  /** `<store>\0<partition>`, the changelog offset the state is complete up to, the checkpoint position when it was used as is. */
  changelogs: Array<[string, number, number | null]>
}

/** A task being restored in the background. */
interface Restore {
  id: TaskId
  /** The generation it started in, and the outage count then (an outage voids it). */
  generation: number
  outages: number
  done: boolean
  restored?: Restored
  error?: unknown
  promise: Promise<void>
}

interface OwnedTask {
  id: TaskId
  task: Task
  /** The consumer-group generation the task was last confirmed in. */
  generation: number
}

export class PipelineWorker {
  readonly pipeline: Pipeline
  /** How long each commit took, from the transaction's start to its acknowledgement. */
  readonly commitLatency = new Histogram()
  readonly #log: Log
  readonly #shape: WorkerTopology
  readonly #settings: WorkerSettings
  readonly #groups: TaskGroup[]
  readonly #backend = new MemoryBackend()
  readonly #tasks = new Map<string, OwnedTask>()
  /** `<topic>\0<partition>` → the task reading it. */
  readonly #byInput = new Map<string, Task>()
  #consumer: Consumer | null = null
  #generation = -1
  /**
   * `<store>\0<partition>` → the changelog offset the in-memory state of that store partition
   * is complete up to: the restore's end, then one past each committed changelog write.
   */
  readonly #changelogPositions = new Map<string, number>()
  /** `<store>\0<partition>` → the position of its last checkpoint written. */
  readonly #checkpointed = new Map<string, number>()
  /** Changelog topic → its store. */
  readonly #storeOf = new Map<string, string>()
  #lastCheckpoint = Date.now()
  /** Tasks gained and being restored, by task key (never also in #tasks). */
  readonly #restoring = new Map<string, Restore>()
  /** What the restores since the last onRestore report did, from their start. */
  #restoreReport: { tasks: number; loaded: number; replayed: number; started: number } | null = null
  /** Times the broker went away: restores begun before the last one are void. */
  #outages = 0
  #stopping = false
  commits = 0
  restoredRecords = 0
  /** Tasks rebuilt in place from committed memory after a commit a rebalance failed. */
  rewound = 0
  /** State entries loaded from local checkpoints. */
  checkpointEntries = 0
  /** Records appended to the owned inputs and not yet processed, as of the last lag check. */
  lag = 0
  failed: Error | null = null

  constructor(log: Log, pipeline: Pipeline, shape: WorkerTopology, settings: WorkerSettings) {
    this.#log = log
    this.pipeline = pipeline
    this.#shape = shape
    this.#settings = settings
    this.#groups = shape.topology.subtopologies.map((s) => ({
      id: s.id,
      topics: s.sources.map((x) => x.topic),
    }))
    for (const names of shape.stores.values())
      for (const store of names) this.#storeOf.set(changelogTopic(store), store)
  }

  get tasks(): Task[] {
    return [...this.#tasks.values()].map((t) => t.task)
  }

  /** Task counts and stores per subtopology (to find which task holds a key). */
  get shape(): Pick<WorkerTopology, 'counts' | 'stores'> {
    return this.#shape
  }

  get topology(): Topology {
    return this.#shape.topology
  }

  get group(): string {
    return this.#shape.topology.pipeline
  }

  get #txnId(): string {
    return `${this.group}-${this.#settings.instanceId}`
  }

  async run(): Promise<void> {
    const topics = this.#groups.flatMap((g) => g.topics)
    this.#consumer = this.#log.consumer({
      group: this.group,
      topics,
      memberId: this.#txnId,
      assignor: taskAssignor(this.#groups),
    })
    const consumer = this.#consumer
    let lastCommit = Date.now()
    let uncommitted = false
    let lastLag = 0
    let lastGlobals = 0
    let outageSince: number | null = null
    // Partitions of tasks still restoring are not read: their positions stay at the committed
    // offsets the restore started from, so the task's first poll after it joins starts there.
    const restoring = (tp: TopicPartition) => !this.#byInput.has(`${tp.topic}\0${tp.partition}`)
    try {
      while (!this.#stopping) {
        try {
          if (this.#follow()) uncommitted = this.#hasUncommittedWork()
          // Global tables follow their topics between batches (at most every 100 ms).
          if (this.#shape.globals.size > 0 && Date.now() - lastGlobals >= 100) {
            lastGlobals = Date.now()
            await this.#shape.globals.catchUp(this.#log)
          }
          const records = await consumer.poll({
            maxRecords: this.#settings.maxPoll,
            waitMs: uncommitted ? 0 : 100,
            skip: restoring,
          })
          // The poll may have spanned a rebalance: records of partitions now owned by another
          // worker are not ours to process (that worker reads them from the committed offsets).
          if (records.length > 0 && this.#follow()) uncommitted = this.#hasUncommittedWork()
          let processed = 0
          // Busy time goes to a task per run of its records (a poll returns them grouped by
          // partition), so the clock is read at task switches, not per record.
          let timing: Task | null = null
          let since = 0
          for (const r of records) {
            const task = this.#byInput.get(`${r.topic}\0${r.partition}`)
            if (!task || r.offset < task.positions.get(r.topic)!) continue
            if (task !== timing) {
              const t = performance.now()
              if (timing) timing.metrics.busyMs += t - since
              timing = task
              since = t
            }
            task.process(r.topic, r)
            processed++
            if (task.asyncFull) {
              const waited = performance.now()
              await task.asyncProgress()
              task.metrics.blockedMs += performance.now() - waited
            }
          }
          if (timing) timing.metrics.busyMs += performance.now() - since
          // A task halts on a step failure (rewind it) or past a poison record (commit now);
          // either way it refused the rest of its records in this poll: read them again.
          let halted = false
          for (const owned of [...this.#tasks.values()]) {
            if (!owned.task.halted) continue
            halted = true
            if (owned.task.rewindFor !== null) await this.#rewindTask(owned)
            else this.#seekToTask(owned)
          }
          const now = Date.now()
          for (const { task } of this.#tasks.values()) {
            task.now = now
            task.tick(now)
          }
          if (processed > 0) uncommitted = true
          const drained = records.length < this.#settings.maxPoll
          const due =
            halted ||
            now - lastCommit >= this.#settings.commitIntervalMs ||
            this.#pending() >= this.#settings.commitMaxRecords
          if (due || (uncommitted && drained)) {
            await this.#commit()
            lastCommit = now
            uncommitted = false
          }
          if (now - lastLag >= 1_000) {
            lastLag = now
            void this.#measureLag()
          }
          outageSince = null
        } catch (error) {
          // The broker went away (a restart, a network cut). Whether the commit in flight
          // landed is unknown, so every task is rebuilt from what did commit — changelogs and
          // group offsets — once the broker answers again. Processing resumes exactly-once.
          if (!isTransient(error)) throw error
          outageSince ??= Date.now()
          if (Date.now() - outageSince > this.#settings.outageLimitMs) throw error
          this.#settings.onOutage?.(error as Error)
          for (const [key, owned] of [...this.#tasks]) this.#drop(key, owned)
          this.#generation = -1
          this.#outages++
          uncommitted = false
          await new Promise((resolve) => setTimeout(resolve, 1_000))
        }
      }
      await this.#commit()
      this.#checkpoint([...this.#tasks.values()])
      await this.#settings.checkpoints?.flush()
    } catch (error) {
      this.failed = error as Error
      throw error
    } finally {
      // Restores still running read the log: let them end before it closes.
      await Promise.allSettled([...this.#restoring.values()].map((r) => r.promise))
      await consumer.close().catch(() => {})
    }
  }

  stop(): void {
    this.#stopping = true
  }

  #pending(): number {
    let n = 0
    for (const { task } of this.#tasks.values()) n += task.pendingOutputs
    return n
  }

  #hasUncommittedWork(): boolean {
    return this.#pending() > 0
  }

  /**
   * Follows the group's assignment. Tasks this worker lost are dropped with their uncommitted
   * work (the new owner redoes it from the committed offsets and changelogs). Tasks it kept go
   * on untouched. Tasks it gained are restored in the background while the others run, and
   * join them once restored (#installRestored), before they process a record. A task it kept
   * across more than one generation may have been owned by another worker in between, unless
   * the consumer says it held the task's partitions throughout; such a task is rebuilt from
   * committed state too. Returns true when anything changed.
   */
  #follow(): boolean {
    const consumer = this.#consumer!
    let changed = false
    while (consumer.generation() !== this.#generation) {
      this.#followOnce(consumer.generation())
      changed = true
    }
    return this.#installRestored() || changed
  }

  #followOnce(generation: number): void {
    const consumer = this.#consumer!
    const previous = this.#generation
    this.#generation = generation
    const wanted = tasksForPartitions(this.#groups, consumer.assignment())
    const wantedKeys = new Set(wanted.map(taskKey))
    for (const [key, owned] of this.#tasks) {
      // Owned in the generation before this one and in this one, or held without a break since
      // (the consumer tracks every generation, also those this loop did not see: an
      // incremental rebalance runs two in a row): nobody else can have had it.
      const kept =
        wantedKeys.has(key) &&
        previous >= 0 &&
        owned.generation === previous &&
        (generation === previous + 1 || this.#heldThroughout(owned.id, previous))
      if (kept) {
        owned.generation = generation
        continue
      }
      this.#drop(key, owned)
    }
    for (const id of wanted) {
      const key = taskKey(id)
      if (!this.#tasks.has(key) && !this.#restoring.has(key)) this.#startRestore(id, generation)
    }
  }

  /** Whether the consumer has held every input partition of the task since `generation`. */
  #heldThroughout(id: TaskId, generation: number): boolean {
    const consumer = this.#consumer!
    if (!consumer.heldSince) return false
    const topics = this.#groups.find((g) => g.id === id.subtopology)?.topics ?? []
    return topics.every((topic) => {
      const since = consumer.heldSince!({ topic, partition: id.partition })
      return since !== undefined && since <= generation
    })
  }

  /**
   * Leaves a task: checkpoints its state (committed state: state writes reach memory only
   * after their commit), then forgets it. Its uncommitted work is lost on purpose — whoever
   * owns the task next redoes it from the committed offsets.
   */
  #drop(key: string, owned: OwnedTask): void {
    this.#checkpoint([owned])
    this.#tasks.delete(key)
    for (const topic of owned.task.sourceTopics()) this.#byInput.delete(`${topic}\0${owned.id.partition}`)
    for (const store of this.#shape.stores.get(owned.id.subtopology) ?? []) {
      this.#backend.dropPartition(store, owned.id.partition)
      this.#changelogPositions.delete(`${store}\0${owned.id.partition}`)
    }
  }

  /**
   * Writes the checkpoints of these tasks' stores whose state changed since their last one.
   * The entries are gathered in one pass over the state and encoded at once; the files are
   * written in the background.
   */
  #checkpoint(tasks: readonly OwnedTask[]): void {
    const checkpoints = this.#settings.checkpoints
    if (!checkpoints || tasks.length === 0) return
    const due = new Map<
      string,
      { store: string; partition: number; position: number; entries: Array<[string, unknown]> }
    >()
    for (const { id } of tasks) {
      for (const store of this.#shape.stores.get(id.subtopology) ?? []) {
        const key = `${store}\0${id.partition}`
        const position = this.#changelogPositions.get(key)
        if (position === undefined || this.#checkpointed.get(key) === position) continue
        due.set(`${key}\0`, { store, partition: id.partition, position, entries: [] })
      }
    }
    if (due.size === 0) return
    for (const [k, value] of this.#backend.data) {
      const b = k.indexOf('\0', k.indexOf('\0') + 1)
      const target = due.get(k.slice(0, b + 1))
      if (target) target.entries.push([k.slice(b + 1), value])
    }
    for (const { store, partition, position, entries } of due.values()) {
      this.#checkpointed.set(`${store}\0${partition}`, position)
      void checkpoints.save(store, partition, position, entries, (error) => {
        this.#checkpointed.delete(`${store}\0${partition}`)
        this.#settings.onCheckpointError?.(error)
      })
    }
  }

  /** Starts restoring a task this worker gained, in the background (see #restore). */
  #startRestore(id: TaskId, generation: number): void {
    this.#restoreReport ??= {
      tasks: 0,
      loaded: this.checkpointEntries,
      replayed: this.restoredRecords,
      started: Date.now(),
    }
    const restore: Restore = {
      id,
      generation,
      outages: this.#outages,
      done: false,
      promise: Promise.resolve(),
    }
    restore.promise = this.#restore(id)
      .then(
        (restored) => {
          restore.restored = restored
        },
        (error: unknown) => {
          restore.error = error
        },
      )
      .finally(() => {
        restore.done = true
      })
    this.#restoring.set(taskKey(id), restore)
  }

  /**
   * Restores a task this worker gained: its positions from the group's offsets, then its state
   * from its changelogs into memory — in that order. The previous owner may still be finishing
   * a transaction (its offsets were accepted just before the rebalance). Reading the committed
   * offsets waits for that transaction's outcome (pending offsets are "unstable" until it
   * ends), so the changelog read afterwards sees its changes too; restoring first would miss
   * them while taking its offsets — windows it had closed came back open and were emitted
   * twice (seen in the kill -9 test before this order). The store partitions it fills belong
   * to no running task, so the other tasks run on meanwhile.
   */
  async #restore(id: TaskId): Promise<Restored> {
    const { stores } = this.#shape
    const positions = await this.#committedPositionsOf(id)
    const changelogs: Restored['changelogs'] = []
    for (const store of stores.get(id.subtopology) ?? []) {
      this.#backend.dropPartition(store, id.partition)
      const checkpoint = (await this.#settings.checkpoints?.read(store, id.partition)) ?? null
      const r = await restoreChangelog(this.#log, store, id.partition, this.#backend.data, checkpoint)
      this.restoredRecords += r.replayed
      this.checkpointEntries += r.loaded
      // A checkpoint used as it is needs no rewrite until the state changes.
      const unchanged = r.loaded > 0 && r.replayed === 0 && checkpoint ? checkpoint.position : null
      changelogs.push([`${store}\0${id.partition}`, r.position, unchanged])
    }
    return { positions, changelogs }
  }

  /**
   * Installs the tasks whose restore finished, between two polls (their partitions were not
   * read meanwhile: `skip` in poll). A restore counts when the positions it read are still
   * this member's to go on from: read in the current generation, or the consumer held the
   * partitions since the generation it started in. Otherwise its state is dropped and, if the
   * task is still wanted, restored again. Tells onRestore once nothing is left restoring.
   */
  #installRestored(): boolean {
    if (this.#restoring.size === 0) return false
    let wanted: Set<string> | null = null
    let installed = false
    for (const [key, restore] of [...this.#restoring]) {
      if (!restore.done) continue
      this.#restoring.delete(key)
      if (restore.error !== undefined) throw restore.error
      const { id, restored } = restore
      wanted ??= new Set(tasksForPartitions(this.#groups, this.#consumer!.assignment()).map(taskKey))
      const valid =
        restore.outages === this.#outages &&
        wanted.has(key) &&
        !this.#tasks.has(key) &&
        (restore.generation === this.#generation || this.#heldThroughout(id, restore.generation))
      if (!valid || !restored) {
        for (const store of this.#shape.stores.get(id.subtopology) ?? [])
          this.#backend.dropPartition(store, id.partition)
        if (wanted.has(key) && !this.#tasks.has(key)) this.#startRestore(id, this.#generation)
        continue
      }
      this.#install(id, restored.positions, this.#generation)
      for (const [k, position, checkpointed] of restored.changelogs) {
        this.#changelogPositions.set(k, position)
        if (checkpointed === null) this.#checkpointed.delete(k)
        else this.#checkpointed.set(k, checkpointed)
      }
      this.#restoreReport!.tasks++
      installed = true
    }
    const report = this.#restoreReport
    if (this.#restoring.size === 0 && report) {
      this.#restoreReport = null
      if (report.tasks > 0) {
        this.#settings.onRestore?.({
          pipeline: this.pipeline.name,
          tasks: report.tasks,
          fromCheckpoints: this.checkpointEntries - report.loaded,
          replayed: this.restoredRecords - report.replayed,
          ms: Date.now() - report.started,
        })
      }
    }
    return installed
  }

  /** Where a task's inputs resume: the group's committed offsets (waiting for any open transaction's outcome). */
  async #committedPositionsOf(id: TaskId): Promise<Array<[TopicPartition, number]>> {
    const sub = this.#shape.topology.subtopologies.find((s) => s.id === id.subtopology)!
    const positions: Array<[TopicPartition, number]> = []
    for (const source of sub.sources) {
      const tp: TopicPartition = { topic: source.topic, partition: id.partition }
      positions.push([tp, await restoredPosition(this.#log, this.group, tp)])
    }
    return positions
  }

  /** A new Task over the committed state the backend holds for it, reading from `positions`. */
  #install(
    id: TaskId,
    positions: ReadonlyArray<[TopicPartition, number]>,
    generation: number,
    poison?: PoisonRecords,
  ): Task {
    const { topology, counts, partitions } = this.#shape
    const task = new Task({
      topology,
      subtopology: topology.subtopologies.find((s) => s.id === id.subtopology)!,
      partition: id.partition,
      backend: this.#backend,
      partitionsOf: (topic) => partitions.get(topic)!,
      upstreamTasks: (s) => counts.get(s)!,
      now: Date.now,
      globals: this.#shape.globals,
      rewindOnFailure: this.pipeline.options.errors.afterRetries !== 'stop',
      ...(poison ? { poison } : {}),
    })
    for (const [tp, position] of positions) {
      task.positions.set(tp.topic, position)
      this.#consumer!.seek(tp, position)
      this.#byInput.set(`${tp.topic}\0${id.partition}`, task)
    }
    this.#tasks.set(taskKey(id), { id, task, generation })
    return task
  }

  /**
   * A step failed in a task that holds state (`Task.rewindFor`): rebuild it in place from the
   * committed state in memory and its committed offsets, as `#rewind` does after a failed
   * commit. Commits are awaited one at a time, so none is in flight. The replay dead-letters
   * the failed record without processing it (runtime/poison.ts).
   */
  async #rewindTask(owned: OwnedTask): Promise<void> {
    const positions = await this.#committedPositionsOf(owned.id)
    for (const topic of owned.task.sourceTopics()) this.#byInput.delete(`${topic}\0${owned.id.partition}`)
    const task = this.#install(owned.id, positions, owned.generation, owned.task.poisonRecords())
    task.inheritFigures(owned.task)
    this.rewound++
  }

  /** The consumer reads a halted task's partitions again from where the task stopped. */
  #seekToTask({ id, task }: OwnedTask): void {
    for (const topic of task.sourceTopics())
      this.#consumer!.seek({ topic, partition: id.partition }, task.positions.get(topic)!)
  }

  /**
   * A commit failed because the group rebalanced: nothing of it landed, so every task goes
   * back to its last commit. The worker's memory holds exactly the committed state (writes
   * reach it only after their commit), so each task is rebuilt in place from it and its
   * committed offsets — no checkpoint, no changelog replay. The tasks this worker keeps go on
   * at once; `#follow()` drops the ones the new assignment took away. (Before, every task was
   * dropped and restored, kept ones from their checkpoints.)
   */
  async #rewind(): Promise<void> {
    const started = Date.now()
    let rewound = 0
    for (const [key, owned] of [...this.#tasks]) {
      const positions = await this.#committedPositionsOf(owned.id)
      // The new assignment may already be in: a task it took away is dropped, as #follow would.
      const assigned = this.#consumer!.assignment()
      const kept = positions.every(([tp]) =>
        assigned.some((a) => a.topic === tp.topic && a.partition === tp.partition),
      )
      if (!kept) {
        this.#drop(key, owned)
        continue
      }
      this.#tasks.delete(key)
      for (const topic of owned.task.sourceTopics()) this.#byInput.delete(`${topic}\0${owned.id.partition}`)
      this.#install(owned.id, positions, owned.generation, owned.task.poisonRecords())
      rewound++
    }
    this.rewound += rewound
    this.#settings.onRewind?.({ pipeline: this.pipeline.name, tasks: rewound, ms: Date.now() - started })
  }

  /**
   * The commit protocol on a consumer group:
   * 1. Wait for async steps in flight, so every consumed record's results are in this commit.
   * 2. Per task: collect outputs, state writes and input positions; under the `stop` policy a
   *    failure stops here and nothing of it commits. State writes become changelog records
   *    (encoded now: a snapshot) and update the in-memory committed state once the commit
   *    lands. Each task's part is kept apart until then (step 4 may drop some).
   * 3. exactly-once: one log transaction with outputs + changelog records + the group's input
   *    offsets. On Kafka the offsets carry this member's generation, so a worker that was
   *    rebalanced out meanwhile (a zombie) cannot commit: its transaction aborts and
   *    read_committed readers never see its records.
   *    at-least-once: send outputs and changelogs, wait for their acks, then commit the
   *    offsets. A crash in between replays the records since the last offsets: duplicates,
   *    never loss.
   * 4. A commit that fails because the group moved to a new generation landed nothing. The
   *    worker follows the group there (dropping the tasks it lost, restoring those it gained)
   *    and commits again, in the new generation, the parts of the tasks it held throughout:
   *    their work is still theirs alone, so they go on as if nothing happened — no rewind, no
   *    replay. The lost tasks' parts are dropped with them; their new owner redoes that work.
   *    When the group does not settle in time, every task goes back to its last commit
   *    (#rewind). Any other failure stops the worker.
   */
  async #commit(): Promise<void> {
    // 1. An async step that failed stops its task: rebuild it first (see #rewindTask).
    for (const { task } of this.#tasks.values()) while (task.asyncInFlight > 0) await task.asyncProgress()
    for (const owned of [...this.#tasks.values()])
      if (owned.task.rewindFor !== null) await this.#rewindTask(owned)
    // 2. The generation the collected work belongs to: its offsets commit only in it.
    let generation = this.#generation
    let parts: CommitPart[] = []
    let touched = false
    for (const { id, task } of this.#tasks.values()) {
      if (this.pipeline.options.errors.afterRetries === 'stop' && task.failures.length > 0) {
        const f = task.failures[0]!
        throw new SluiceError('SLUICE_INVALID_INPUT', stopPolicyMessage(this.pipeline.name, f), {
          cause: f.error,
        })
      }
      const c = task.collect()
      const outputs = new Map<string, ProducerRecord[]>()
      for (const [topic, records] of c.outputs) {
        if (records.length === 0) continue
        outputs.set(topic, records)
        touched = true
      }
      if (c.state.size > 0) {
        changelogRecords(c.state, outputs)
        touched = true
      }
      const offsets: TopicPartitionOffset[] = []
      for (let [topic, offset] of c.positions) {
        // Every polled record of an owned partition is processed by now, so the consumer's
        // position is ours — and it also steps over transaction markers after the last record.
        const polled = this.#consumer!.position({ topic, partition: id.partition })
        if (polled !== undefined && polled > offset) {
          offset = polled
          task.positions.set(topic, polled)
        }
        offsets.push({ topic, partition: id.partition, offset })
        touched ||= this.#moved(task, topic, offset)
      }
      parts.push({ key: taskKey(id), task, outputs, state: c.state, offsets })
    }
    if (!touched) return
    // 3.
    let written: Map<string, RecordMetadata[]> | null = null
    const commitStarted = performance.now()
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.#settings.guarantee === 'exactly-once') {
          const tx = this.#log.transaction({ id: this.#txnId })
          for (const part of parts) for (const [topic, records] of part.outputs) tx.send(topic, records)
          const offsets = parts.flatMap((p) => p.offsets)
          if (offsets.length > 0) tx.commitOffsets(this.group, offsets, { generation })
          written = await tx.commit()
        } else {
          // Outputs acknowledged by an earlier attempt are not sent again.
          written ??= await this.#sendAll(parts)
          const offsets = parts.flatMap((p) => p.offsets)
          if (offsets.length > 0) await this.#log.commitOffsets(this.group, offsets)
        }
        break
      } catch (error) {
        // 4.
        const rebalanced = this.#consumer!.generation() !== generation || isRebalanceError(error)
        if (rebalanced) {
          const kept = attempt < MAX_COMMIT_ATTEMPTS ? await this.#keptThrough(generation, parts) : null
          if (kept === null) {
            await this.#rewind()
            return
          }
          // Every task of the commit went elsewhere (a worker rebalanced out): nothing is left to commit.
          if (kept.length === 0) return
          parts = kept
          generation = this.#generation
          if (this.#settings.guarantee === 'exactly-once') written = null
          continue
        }
        if (this.#recoverableFence(error)) {
          for (const [key, owned] of [...this.#tasks]) this.#drop(key, owned)
          this.#generation = -1
          return
        }
        throw error
      }
    }
    this.commits++
    this.commitLatency.record(performance.now() - commitStarted)
    for (const { state } of parts) if (state.size > 0) this.#backend.write(state)
    for (const [topic, records] of written ?? []) {
      const store = this.#storeOf.get(topic)
      if (store === undefined) continue
      for (const { partition, offset } of records) {
        const key = `${store}\0${partition}`
        // Only stores of tasks still here (an at-least-once retry may carry a lost task's acks).
        const position = this.#changelogPositions.get(key)
        if (position !== undefined && offset + 1 > position) this.#changelogPositions.set(key, offset + 1)
      }
    }
    for (const { task } of parts) task.committed()
    const now = Date.now()
    if (now - this.#lastCheckpoint >= this.#settings.checkpointIntervalMs) {
      this.#lastCheckpoint = now
      this.#checkpoint([...this.#tasks.values()])
    }
  }

  /** at-least-once: sends every part's outputs and changelog records and waits for their acks. */
  async #sendAll(parts: readonly CommitPart[]): Promise<Map<string, RecordMetadata[]>> {
    const producer = this.#producer()
    const byTopic = new Map<string, ProducerRecord[]>()
    for (const part of parts) {
      for (const [topic, records] of part.outputs) {
        const list = byTopic.get(topic)
        if (list) for (const r of records) list.push(r)
        else byTopic.set(topic, [...records])
      }
    }
    const sends = [...byTopic].map(
      async ([topic, records]) => [topic, await producer.send(topic, records)] as const,
    )
    return new Map(await Promise.all(sends))
  }

  /**
   * After a commit in `generation` failed on a rebalance: waits for this member's sync of the
   * generation the group moved to (the refusal can come between the join and the sync), follows
   * it, and returns the parts of the tasks held throughout — the same Task objects, so nothing
   * was rebuilt under them. Null when the member does not get there in time.
   */
  async #keptThrough(generation: number, parts: readonly CommitPart[]): Promise<CommitPart[] | null> {
    const consumer = this.#consumer!
    const deadline = Date.now() + SETTLE_WAIT_MS
    while (consumer.generation() === generation) {
      if (Date.now() > deadline) return null
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    this.#follow()
    return parts.filter((part) => this.#tasks.get(part.key)?.task === part.task)
  }

  /** When this worker's producer was fenced recently (see #recoverableFence). */
  readonly #fences: number[] = []

  /**
   * A fenced transactional producer: either another worker runs with this worker's instance
   * id (a real zombie pair), or the broker's transaction coordinator bumped our producer's
   * epoch itself — it aborts a transaction that outlived its timeout that way, which is what
   * a broker restart mid-transaction ends in. The second is recovered from like a rebalance
   * (the next transaction's producer takes the new epoch, Kafka Streams does the same);
   * fenced over and over, it is the first, and the worker stops.
   */
  #recoverableFence(error: unknown): boolean {
    if (!isSluiceError(error, 'SLUICE_PRODUCER_FENCED')) return false
    const now = Date.now()
    this.#fences.push(now)
    while (this.#fences.length > 0 && now - this.#fences[0]! > 60_000) this.#fences.shift()
    return this.#fences.length <= 3
  }

  readonly #committedPositions = new WeakMap<Task, Map<string, number>>()

  #moved(task: Task, topic: string, offset: number): boolean {
    let last = this.#committedPositions.get(task)
    if (!last) {
      last = new Map()
      this.#committedPositions.set(task, last)
    }
    const moved = last.get(topic) !== offset
    last.set(topic, offset)
    return moved
  }

  #atLeastOnceProducer: ReturnType<Log['producer']> | null = null

  #producer(): ReturnType<Log['producer']> {
    this.#atLeastOnceProducer ??= this.#log.producer({ id: this.#txnId })
    return this.#atLeastOnceProducer
  }

  async close(): Promise<void> {
    await this.#atLeastOnceProducer?.close()
  }

  async #measureLag(): Promise<void> {
    let lag = 0
    try {
      for (const { id, task } of this.#tasks.values()) {
        for (const topic of task.sourceTopics()) {
          const end = await this.#log.resolveOffset({ topic, partition: id.partition }, 'latest')
          lag += Math.max(0, end - task.positions.get(topic)!)
        }
      }
      this.lag = lag
    } catch {
      // Lag is a status figure; a failed lookup keeps the last one.
    }
  }
}

/** Errors of an unreachable or restarting broker, as opposed to errors of the pipeline. */
function isTransient(error: unknown): boolean {
  if (error instanceof SluiceError) {
    return error.code === 'SLUICE_BROKER_UNAVAILABLE' || error.code === 'SLUICE_KAFKA_ERROR'
  }
  const e = error as { code?: unknown; message?: unknown } | null
  const text = `${String(e?.code ?? '')} ${String(e?.message ?? '')}`
  return /PLT_KFK_(NETWORK|TIMEOUT|MULTIPLE)|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket/i.test(text)
}

function isRebalanceError(error: unknown): boolean {
  return isSluiceError(error, 'SLUICE_REBALANCED')
}
