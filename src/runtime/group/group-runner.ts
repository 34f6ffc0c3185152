/**
 * Runs pipelines as one worker of a consumer group, over any `Log`: Apache Kafka when one
 * machine is not enough (`sluice run --backend kafka://…`), or the embedded log, where the
 * tests run several workers in one process. Start the same pipeline file as more workers and
 * they share the tasks; stop one and the others take its tasks over, restoring their state
 * from the changelog topics.
 *
 * Differences from EmbeddedRunner (which owns every task of its data directory):
 * - tasks come and go with the group's assignment (pipeline-worker.ts);
 * - state lives in memory and in compacted changelog topics, `<store>-changelog`, one
 *   partition per task, created here with the task count of their subtopology;
 * - a commit is a log transaction with the outputs, the changelog records and the input
 *   offsets — on Kafka, a Kafka transaction (exactly-once), or, with
 *   `guarantee: 'at-least-once'`, plain acknowledged sends followed by an offset commit.
 */

import { randomUUID } from 'node:crypto'
import type { Pipeline } from '../../dsl/pipeline.ts'
import { SluiceError } from '../../errors.ts'
import { partitionForKey } from '../../log/partitioner.ts'
import type { Log } from '../../log/types.ts'
import { compile, type Subtopology, type Topology } from '../../topology/compile.ts'
import { GlobalTables } from '../global-tables.ts'
import { type PipelineMetrics, taskSnapshot } from '../metrics/snapshot.ts'
import { PURGE_EVERY_MS, RepartitionPurger } from '../purge.ts'
import { findQueryableStore, type QueryableStore, queryableSteps } from '../query.ts'
import type { PipelineStatus } from '../runner.ts'
import { MemoryBackend } from '../state.ts'
import { Task } from '../task.ts'
import { ensureTopic, prepareTopics } from '../topics.ts'
import { changelogTopic } from './changelog.ts'
import { Checkpoints } from './checkpoint.ts'
import { WorkerDirectory } from './directory.ts'
import { type Guarantee, PipelineWorker, type RestoreReport, type WorkerTopology } from './pipeline-worker.ts'

export interface GroupRunnerOptions {
  /** exactly-once (default): Kafka transactions; at-least-once: lower latency, replays after a crash. */
  guarantee?: Guarantee
  /** The longest a result waits for its commit under load (default 100 ms; a drained input commits at once). */
  commitIntervalMs?: number
  /** Commit once this many output records are pending (default 8,192). */
  commitMaxRecords?: number
  /** Records per poll (default 10,000). */
  maxPoll?: number
  /**
   * This worker's name in the group and in its transactional id (`<pipeline>-<instanceId>`).
   * Give a restarted worker the same id and its new producer fences the old one at once;
   * otherwise a transaction left open by a killed worker holds read_committed readers back
   * until the broker's transaction timeout aborts it. Default: random.
   */
  instanceId?: string
  /** How long the broker may stay unreachable before the worker fails (default 5 min). */
  outageLimitMs?: number
  /** Told about each failed attempt while the broker is unreachable (the CLI prints it). */
  onOutage?: (error: Error) => void
  /**
   * A local directory for checkpoints of task state. A worker that gets a task back (after a
   * restart, or a rebalance that returns it) loads the checkpoint and replays only the
   * changelog written since; without one (the default) it replays the whole changelog.
   * Workers on one machine may share the directory.
   */
  stateDir?: string
  /** How often the owned tasks are checkpointed while running (default 30 s; also when a task leaves, and at stop). */
  checkpointIntervalMs?: number
  /**
   * How often to delete the records of repartition topics the group has committed past
   * (default 30,000 ms; 0 never). Needs Delete on those topics on Kafka. See runtime/purge.ts.
   */
  purgeIntervalMs?: number
  /** Told when the worker has restored the tasks it gained (the CLI prints it). */
  onRestore?: (report: RestoreReport) => void
  /** Told when a rebalance failed a commit and the tasks went back to the last one, from memory (the CLI prints it). */
  onRewind?: (report: { pipeline: string; tasks: number; ms: number }) => void
  /** Told when a checkpoint could not be written; processing goes on. */
  onCheckpointError?: (error: Error) => void
}

type Callbacks = 'onOutage' | 'onRestore' | 'onRewind' | 'onCheckpointError' | 'stateDir'

export class GroupRunner {
  readonly #log: Log
  readonly #pipelines: readonly Pipeline[]
  readonly #options: Required<Omit<GroupRunnerOptions, Callbacks>> & Pick<GroupRunnerOptions, Callbacks>
  readonly #checkpoints: Checkpoints | null
  readonly #workers: PipelineWorker[] = []
  #stopping = false
  #failure: Error | null = null
  #directory: WorkerDirectory | null = null
  #advertising: NodeJS.Timeout | undefined

  constructor(log: Log, pipelines: readonly Pipeline[], options: GroupRunnerOptions = {}) {
    if (pipelines.length === 0) throw new SluiceError('SLUICE_INVALID_ARGUMENT', 'no pipelines to run')
    this.#log = log
    this.#pipelines = pipelines
    this.#options = {
      guarantee: options.guarantee ?? 'exactly-once',
      commitIntervalMs: options.commitIntervalMs ?? 100,
      commitMaxRecords: options.commitMaxRecords ?? 8_192,
      maxPoll: options.maxPoll ?? 10_000,
      instanceId: options.instanceId ?? randomUUID().slice(0, 8),
      outageLimitMs: options.outageLimitMs ?? 300_000,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 30_000,
      purgeIntervalMs: options.purgeIntervalMs ?? PURGE_EVERY_MS,
      ...(options.onOutage ? { onOutage: options.onOutage } : {}),
      ...(options.onRestore ? { onRestore: options.onRestore } : {}),
      ...(options.onRewind ? { onRewind: options.onRewind } : {}),
      ...(options.onCheckpointError ? { onCheckpointError: options.onCheckpointError } : {}),
    }
    this.#checkpoints = options.stateDir === undefined ? null : new Checkpoints(options.stateDir)
  }

  get instanceId(): string {
    return this.#options.instanceId
  }

  /** Changelog records replayed so far to restore the state of tasks this worker took over. */
  get restoredRecords(): number {
    return this.#workers.reduce((n, w) => n + w.restoredRecords, 0)
  }

  /** State entries loaded from local checkpoints so far (with `stateDir`). */
  get checkpointEntries(): number {
    return this.#workers.reduce((n, w) => n + w.checkpointEntries, 0)
  }

  get tasks(): Task[] {
    return this.#workers.flatMap((w) => w.tasks)
  }

  /**
   * Reads a step's state while the worker runs (see runtime/query.ts): the keys of the tasks
   * this worker holds. `pipeline` picks the pipeline when several have the step.
   */
  store(step: string, options: { pipeline?: string } = {}): QueryableStore {
    return findQueryableStore(
      this.#workers.map((w) => ({ topology: w.topology, tasks: w.tasks })),
      step,
      options.pipeline,
    )
  }

  /** The queryable steps of each pipeline. */
  queryableSteps(): Record<string, string[]> {
    return Object.fromEntries(this.#workers.map((w) => [w.pipeline.name, queryableSteps(w.topology)]))
  }

  /** Creates missing topics (sources, repartition, sinks, dead letters, changelogs). */
  async start(): Promise<void> {
    for (const pipeline of this.#pipelines) {
      const topology = compile(pipeline)
      const counts = await prepareTopics(this.#log, pipeline, topology)
      const stores = new Map<number, string[]>()
      for (const sub of topology.subtopologies) {
        const names = storesOf(topology, sub)
        stores.set(sub.id, names)
        for (const store of names) {
          const topic = changelogTopic(store)
          const want = counts.get(sub.id)!
          if (!(await this.#log.hasTopic(topic))) {
            await ensureTopic(this.#log, topic, { partitions: want, compact: true })
          } else {
            const have = (await this.#log.describeTopic(topic)).partitionDetails.length
            if (have !== want) {
              throw new SluiceError(
                'SLUICE_INVALID_ARGUMENT',
                `changelog topic "${topic}" has ${have} partitions but its tasks read ${want}: the source topics ` +
                  `changed their partition count. Delete "${topic}" (its state is rebuilt from nothing) or give ` +
                  'the sources their old partition count back.',
              )
            }
          }
        }
      }
      const partitions = new Map<string, number>()
      const written = [
        ...topology.repartitionTopics.map((r) => r.topic),
        ...topology.sinkTopics.map((d) => d.name),
        topology.deadLetterTopic,
        ...topology.subtopologies.flatMap((s) => s.sources.map((x) => x.topic)),
      ]
      for (const topic of new Set(written)) {
        partitions.set(topic, (await this.#log.describeTopic(topic)).partitionDetails.length)
      }
      // Global tables: read whole before the first record is processed.
      const globals = new GlobalTables(topology.globalTables)
      for (const { def } of topology.globalTables) {
        if (!(await this.#log.hasTopic(def.name))) {
          throw new SluiceError(
            'SLUICE_UNKNOWN_TOPIC',
            `pipeline "${pipeline.name}" reads topic "${def.name}" as a global table, which does not exist. ` +
              `Create it (sluice topics create ${def.name} --partitions N --compact).`,
          )
        }
      }
      await globals.bootstrap(this.#log)
      const shape: WorkerTopology = { topology, counts, partitions, stores, globals }
      this.#workers.push(
        new PipelineWorker(this.#log, pipeline, shape, {
          commitIntervalMs: this.#options.commitIntervalMs,
          commitMaxRecords: this.#options.commitMaxRecords,
          maxPoll: this.#options.maxPoll,
          guarantee: this.#options.guarantee,
          instanceId: this.#options.instanceId,
          outageLimitMs: this.#options.outageLimitMs,
          checkpoints: this.#checkpoints,
          checkpointIntervalMs: this.#options.checkpointIntervalMs,
          ...(this.#options.onOutage ? { onOutage: this.#options.onOutage } : {}),
          ...(this.#options.onRestore ? { onRestore: this.#options.onRestore } : {}),
          ...(this.#options.onRewind ? { onRewind: this.#options.onRewind } : {}),
          ...(this.#options.onCheckpointError ? { onCheckpointError: this.#options.onCheckpointError } : {}),
        }),
      )
    }
  }

  /**
   * Tells the group where this worker's HTTP server answers: from now on it keeps an entry in
   * the worker directory (directory.ts) with the tasks it holds, so other workers can send it
   * queries for its keys.
   */
  advertise(url: string): void {
    this.#directory ??= new WorkerDirectory(this.#log)
    let last = ''
    let lastAt = 0
    const publish = async () => {
      const tasks = Object.fromEntries(
        this.#workers.map((w) => [
          w.pipeline.name,
          w.tasks.map((t) => `${t.subtopology.id}/${t.partition}`).sort(),
        ]),
      )
      const now = Date.now()
      const shape = JSON.stringify(tasks)
      // On a change at once, else every 10 s (readers drop entries older than 60 s).
      if (shape === last && now - lastAt < 10_000) return
      last = shape
      lastAt = now
      await this.#directory!.publish({ instance: this.#options.instanceId, url, tasks, at: now }).catch(
        () => {
          last = '' // try again next tick
        },
      )
    }
    clearInterval(this.#advertising)
    this.#advertising = setInterval(() => void publish(), 1_000)
    this.#advertising.unref()
    void publish()
  }

  /**
   * Where the key of a step's store lives: this worker (`local`), another worker that
   * advertises it (`owner`), or nobody known (a rebalance in progress, or workers that do not
   * serve HTTP). Keys are placed as the engine places them: the key's hash over the task count.
   */
  async locate(
    step: string,
    key: string,
    options: { pipeline?: string } = {},
  ): Promise<{ local: boolean; task: string; owner?: { instance: string; url: string } }> {
    const worker = this.#workers.find(
      (w) =>
        (options.pipeline === undefined || w.pipeline.name === options.pipeline) &&
        queryableSteps(w.topology).includes(step),
    )
    if (!worker) {
      // Let store() raise its error naming the steps that exist.
      this.store(step, options)
      throw new SluiceError('SLUICE_INVALID_ARGUMENT', `no running pipeline has a step "${step}"`)
    }
    const storeName = `${worker.pipeline.name}.${step}`
    const sub = [...worker.shape.stores].find(([, stores]) => stores.includes(storeName))?.[0] ?? 0
    const count = worker.shape.counts.get(sub) ?? 1
    const partition = partitionForKey(Buffer.from(key), count)
    const task = `${sub}/${partition}`
    if (worker.tasks.some((t) => t.subtopology.id === sub && t.partition === partition))
      return { local: true, task }
    if (!this.#directory) this.#directory = new WorkerDirectory(this.#log)
    await this.#directory.refresh()
    const owner = this.#directory.ownerOf(worker.pipeline.name, task)
    return owner
      ? { local: false, task, owner: { instance: owner.instance, url: owner.url } }
      : { local: false, task }
  }

  /** Runs until `stop()`; the pipelines of the file run side by side, each in its own group. */
  async run(): Promise<void> {
    const purger = new RepartitionPurger(
      this.#log,
      this.#workers.map((w) => w.topology),
      this.#options.purgeIntervalMs,
    ).start()
    try {
      await Promise.all(
        this.#workers.map((w) =>
          w.run().catch((error) => {
            // One pipeline failing stops the others: the process exits with the failure.
            this.stop()
            throw error
          }),
        ),
      )
    } catch (error) {
      this.#failure = error as Error
      throw error
    } finally {
      await purger.stop()
      clearInterval(this.#advertising)
      if (this.#directory) {
        await this.#directory.remove(this.#options.instanceId).catch(() => {})
        await this.#directory.close().catch(() => {})
      }
      await Promise.all(this.#workers.map((w) => w.close()))
    }
  }

  /** Stops after a final commit; `run()` resolves when every pipeline has stopped. */
  stop(): void {
    this.#stopping = true
    for (const w of this.#workers) w.stop()
  }

  get failure(): Error | null {
    return this.#failure
  }

  /** Per pipeline and task this worker runs (lag per partition is not known here: see status()). */
  metrics(): PipelineMetrics[] {
    const now = Date.now()
    return this.#workers.map((w) => ({
      pipeline: w.pipeline.name,
      state: this.#failure || w.failed ? 'failed' : this.#stopping ? 'stopped' : 'running',
      commits: w.commits,
      commitLatency: w.commitLatency.data(),
      tasks: w.tasks.map((t) => taskSnapshot(t, now)),
    }))
  }

  status(): PipelineStatus[] {
    return this.#workers.map((w) => {
      const tasks = w.tasks
      let watermark = Number.POSITIVE_INFINITY
      for (const t of tasks) watermark = Math.min(watermark, t.watermark)
      return {
        pipeline: w.pipeline.name,
        tasks: tasks.length,
        recordsIn: tasks.reduce((n, t) => n + t.recordsIn, 0),
        recordsOut: tasks.reduce((n, t) => n + t.recordsOut, 0),
        deadLetters: tasks.reduce((n, t) => n + t.deadLetters, 0),
        lateRecords: tasks.reduce((n, t) => n + t.lateRecords(), 0),
        lag: w.lag,
        watermark: tasks.length === 0 ? Number.NEGATIVE_INFINITY : watermark,
        openWindows: tasks.reduce((n, t) => n + t.windows.reduce((m, x) => m + x.openWindows, 0), 0),
        commits: w.commits,
        state: this.#failure || w.failed ? 'failed' : this.#stopping ? 'stopped' : 'running',
      }
    })
  }
}

/**
 * The stores a subtopology's tasks use (each becomes a changelog topic). Tasks create their
 * stores while building their chains, so a task built on throwaway state lists them exactly.
 */
export function storesOf(topology: Topology, sub: Subtopology): string[] {
  const probe = new Task({
    topology,
    subtopology: sub,
    partition: 0,
    backend: new MemoryBackend(),
    partitionsOf: () => 1,
    upstreamTasks: () => 1,
    now: () => 0,
  })
  return [...probe.stores.keys()].sort()
}
