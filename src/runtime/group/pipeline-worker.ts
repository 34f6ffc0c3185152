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
import type { Consumer, Log, ProducerRecord, TopicPartition, TopicPartitionOffset } from '../../log/types.ts'
import type { Topology } from '../../topology/compile.ts'
import { stopPolicyMessage } from '../runner.ts'
import { MemoryBackend } from '../state.ts'
import { Task } from '../task.ts'
import { restoredPosition } from '../topics.ts'
import { type TaskGroup, type TaskId, taskAssignor, taskKey, tasksForPartitions } from './assignor.ts'
import { changelogRecords, restoreChangelog } from './changelog.ts'

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
}

export interface WorkerTopology {
  topology: Topology
  /** Task count (input partitions) per subtopology id. */
  counts: Map<number, number>
  /** Partition count of every topic a task writes with an explicit partition. */
  partitions: Map<string, number>
  /** Store names per subtopology id. */
  stores: Map<number, string[]>
}

interface OwnedTask {
  id: TaskId
  task: Task
  /** The consumer-group generation the task was last confirmed in. */
  generation: number
}

export class PipelineWorker {
  readonly pipeline: Pipeline
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
  #stopping = false
  commits = 0
  restoredRecords = 0
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
  }

  get tasks(): Task[] {
    return [...this.#tasks.values()].map((t) => t.task)
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
    let outageSince: number | null = null
    try {
      while (!this.#stopping) {
        try {
          if (await this.#follow()) uncommitted = this.#hasUncommittedWork()
          const records = await consumer.poll({
            maxRecords: this.#settings.maxPoll,
            waitMs: uncommitted ? 0 : 100,
          })
          // The poll may have spanned a rebalance: records of partitions now owned by another
          // worker are not ours to process (that worker reads them from the committed offsets).
          if (records.length > 0 && (await this.#follow())) uncommitted = this.#hasUncommittedWork()
          let processed = 0
          for (const r of records) {
            const task = this.#byInput.get(`${r.topic}\0${r.partition}`)
            if (!task || r.offset < task.positions.get(r.topic)!) continue
            task.process(r.topic, r)
            processed++
            if (task.asyncFull) await task.asyncProgress()
          }
          const now = Date.now()
          for (const { task } of this.#tasks.values()) {
            task.now = now
            task.tick(now)
          }
          if (processed > 0) uncommitted = true
          const drained = records.length < this.#settings.maxPoll
          const due =
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
          uncommitted = false
          await new Promise((resolve) => setTimeout(resolve, 1_000))
        }
      }
      await this.#commit()
    } catch (error) {
      this.failed = error as Error
      throw error
    } finally {
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
   * work (the new owner redoes it from the committed offsets and changelogs). Tasks it gained
   * are restored from their changelogs before they process a record. A task it kept across
   * more than one generation may have been owned by another worker in between, so it is
   * rebuilt from committed state too. Returns true when anything changed.
   */
  async #follow(): Promise<boolean> {
    const consumer = this.#consumer!
    let changed = false
    // Restoring takes time; a rebalance meanwhile starts the reconciliation over.
    while (consumer.generation() !== this.#generation) {
      changed = true
      await this.#followOnce(consumer.generation())
    }
    return changed
  }

  async #followOnce(generation: number): Promise<void> {
    const consumer = this.#consumer!
    const previous = this.#generation
    this.#generation = generation
    const wanted = tasksForPartitions(this.#groups, consumer.assignment())
    const wantedKeys = new Set(wanted.map(taskKey))
    for (const [key, owned] of this.#tasks) {
      // Owned in the generation before this one and in this one: nobody else can have had it.
      const kept =
        wantedKeys.has(key) && previous >= 0 && generation === previous + 1 && owned.generation === previous
      if (kept) {
        owned.generation = generation
        continue
      }
      this.#drop(key, owned)
    }
    for (const id of wanted) {
      if (consumer.generation() !== generation) return
      const key = taskKey(id)
      if (!this.#tasks.has(key)) await this.#build(id, generation)
    }
  }

  #drop(key: string, owned: OwnedTask): void {
    this.#tasks.delete(key)
    for (const topic of owned.task.sourceTopics()) this.#byInput.delete(`${topic}\0${owned.id.partition}`)
    for (const store of this.#shape.stores.get(owned.id.subtopology) ?? []) {
      this.#backend.dropPartition(store, owned.id.partition)
    }
  }

  /**
   * Builds a task this worker gained: its positions from the group's offsets, then its state
   * from its changelogs — in that order. The previous owner may still be finishing a
   * transaction (its offsets were accepted just before the rebalance). Reading the committed
   * offsets waits for that transaction's outcome (pending offsets are "unstable" until it
   * ends), so the changelog read afterwards sees its changes too; restoring first would miss
   * them while taking its offsets — windows it had closed came back open and were emitted
   * twice (seen in the kill -9 test before this order).
   */
  async #build(id: TaskId, generation: number): Promise<void> {
    const { topology, counts, partitions, stores } = this.#shape
    const sub = topology.subtopologies.find((s) => s.id === id.subtopology)!
    const positions: Array<[TopicPartition, number]> = []
    for (const source of sub.sources) {
      const tp: TopicPartition = { topic: source.topic, partition: id.partition }
      positions.push([tp, await restoredPosition(this.#log, this.group, tp)])
    }
    for (const store of stores.get(id.subtopology) ?? []) {
      this.#backend.dropPartition(store, id.partition)
      this.restoredRecords += await restoreChangelog(this.#log, store, id.partition, this.#backend.data)
    }
    const task = new Task({
      topology,
      subtopology: sub,
      partition: id.partition,
      backend: this.#backend,
      partitionsOf: (topic) => partitions.get(topic)!,
      upstreamTasks: (s) => counts.get(s)!,
      now: Date.now,
    })
    // The assignment moved on while this task restored: the next pass decides again.
    if (this.#consumer!.generation() !== generation) return
    for (const [tp, position] of positions) {
      task.positions.set(tp.topic, position)
      this.#consumer!.seek(tp, position)
      this.#byInput.set(`${tp.topic}\0${id.partition}`, task)
    }
    this.#tasks.set(taskKey(id), { id, task, generation })
  }

  /**
   * The commit protocol on a consumer group:
   * 1. Wait for async steps in flight, so every consumed record's results are in this commit.
   * 2. Per task: collect outputs, state writes and input positions; under the `stop` policy a
   *    failure stops here and nothing of it commits. State writes become changelog records
   *    (encoded now: a snapshot) and update the in-memory committed state.
   * 3. exactly-once: one log transaction with outputs + changelog records + the group's input
   *    offsets. On Kafka the offsets carry this member's generation, so a worker that was
   *    rebalanced out meanwhile (a zombie) cannot commit: its transaction aborts and
   *    read_committed readers never see its records.
   *    at-least-once: send outputs and changelogs, wait for their acks, then commit the
   *    offsets. A crash in between replays the records since the last offsets: duplicates,
   *    never loss.
   * 4. A commit that fails because the assignment moved on rebuilds every task from committed
   *    state (changelogs and offsets) and goes on; any other failure stops the worker.
   */
  async #commit(): Promise<void> {
    // 1.
    for (const { task } of this.#tasks.values()) while (task.asyncInFlight > 0) await task.asyncProgress()
    // 2. The generation the collected work belongs to: its offsets commit only in it.
    const generation = this.#generation
    const outputs = new Map<string, ProducerRecord[]>()
    const offsets: TopicPartitionOffset[] = []
    let touched = false
    for (const { id, task } of this.#tasks.values()) {
      if (this.pipeline.options.errors.afterRetries === 'stop' && task.failures.length > 0) {
        const f = task.failures[0]!
        throw new SluiceError('SLUICE_INVALID_INPUT', stopPolicyMessage(this.pipeline.name, f), {
          cause: f.error,
        })
      }
      const c = task.collect()
      for (const [topic, records] of c.outputs) {
        if (records.length === 0) continue
        const list = outputs.get(topic)
        if (list) for (const r of records) list.push(r)
        else outputs.set(topic, records)
        touched = true
      }
      if (c.state.size > 0) {
        changelogRecords(c.state, outputs)
        this.#backend.write(c.state)
        touched = true
      }
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
    }
    if (!touched) return
    // 3.
    try {
      if (this.#settings.guarantee === 'exactly-once') {
        const tx = this.#log.transaction({ id: this.#txnId })
        for (const [topic, records] of outputs) tx.send(topic, records)
        if (offsets.length > 0) tx.commitOffsets(this.group, offsets, { generation })
        await tx.commit()
      } else {
        const producer = this.#producer()
        await Promise.all([...outputs].map(([topic, records]) => producer.send(topic, records)))
        if (offsets.length > 0) await this.#log.commitOffsets(this.group, offsets)
      }
    } catch (error) {
      // 4.
      if (this.#consumer!.generation() !== this.#generation || isRebalanceError(error)) {
        for (const [key, owned] of [...this.#tasks]) this.#drop(key, owned)
        this.#generation = -1
        return
      }
      throw error
    }
    this.commits++
    for (const { task } of this.#tasks.values()) task.committed()
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
