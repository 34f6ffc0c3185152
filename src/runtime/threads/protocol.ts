/**
 * Messages between the main thread (ThreadedRunner, the only writer of the log) and its
 * worker threads (which run tasks and read the log's LMDB environment directly).
 *
 *   main                                        worker
 *   ── new Worker(workerData: WorkerSetup) ──▶  imports the pipeline module, builds its tasks
 *   ◀──────────────────────────── ready ──────
 *   ── run ───────────────────────────────────▶  loop: read → process → tick
 *   ── collect(round) ────────────────────────▶  waits for async steps, collect() per task
 *   ◀─────────── collected(round) | stopped ──   outputs, state changes, positions, figures
 *      (main stages every worker's reply in one LMDB transaction)
 *   ── committed(round) ──────────────────────▶  state of rounds ≤ round is in LMDB now
 *   ── appended ──────────────────────────────▶  new input may be readable: read again
 *   ── stop ──────────────────────────────────▶  close and exit (after the final commit)
 *
 * Everything here is structured-cloneable: no Symbols (a deleted state entry travels in
 * `deletes`, not as the DELETED marker), no class instances.
 */
import type { Durability } from '../../log/embedded/storage.ts'
import type { Topology } from '../../topology/compile.ts'
import type { TaskMetricsSnapshot } from '../metrics/snapshot.ts'
import type { PackedRecords } from './packed-records.ts'

/** One task a worker runs: a subtopology of a pipeline on one input partition. */
export interface TaskSpec {
  /** Index into `WorkerSetup.pipelines`. */
  pipeline: number
  subtopology: number
  partition: number
  /** Where each input resumes (topic → offset), from the committed group offsets. */
  positions: Array<[string, number]>
}

export interface PipelineSpec {
  name: string
  /** What the main thread compiled; the worker checks that its own compile agrees. */
  fingerprint: string
  /** Task count per subtopology id: each downstream task's watermark channel count. */
  tasksPerSubtopology: Array<[number, number]>
}

/** The worker's `workerData`. */
export interface WorkerSetup {
  /** For error messages: "worker 2". */
  index: number
  /** File URL of the module that declares the pipelines (imported by the worker). */
  module: string
  pipelines: PipelineSpec[]
  tasks: TaskSpec[]
  dataDir: string
  durability: Durability
  maxBatch: number
  /** Input records a worker may process between two collects before it waits for one. */
  maxUncollected: number
}

export type ToWorker =
  | { type: 'run' }
  /** `final`: the stop commit; the worker processes nothing more after replying. */
  | { type: 'collect'; round: number; final: boolean }
  | { type: 'committed'; round: number }
  | { type: 'appended' }
  | { type: 'stop' }

/** Figures for status, per task, as of the collect. */
export interface TaskFigures {
  recordsIn: number
  recordsOut: number
  deadLetters: number
  lateRecords: number
  openWindows: number
  watermark: number
  /** The task's full metrics (lag is filled in by the main thread, which knows the log's ends). */
  metrics: TaskMetricsSnapshot | null
}

/** One task's part of a collect. Its output records are the next ones in the reply's pack. */
export interface TaskReport {
  /** Index into `WorkerSetup.tasks`. */
  task: number
  /** Output topics with their record counts, in pack order. */
  outputs: Array<[string, number]>
  puts: Array<[string, unknown]>
  deletes: string[]
  positions: Array<[string, number]>
  figures: TaskFigures
}

export type FromWorker =
  | { type: 'ready' }
  | {
      type: 'collected'
      round: number
      /** Nothing read in the last pass and nothing appended since: the main thread may slow down. */
      idle: boolean
      tasks: TaskReport[]
      records: PackedRecords
    }
  /** A failure under the `stop` error policy: nothing of this round may commit. */
  | { type: 'stopped'; round: number; message: string; cause: { message: string; stack?: string } }

/**
 * What must be equal between the main thread's compile and a worker's: task layout, topics
 * and stores. A module that builds its pipelines differently on each import (from the time,
 * the environment, random numbers) would otherwise run tasks that do not match the plan.
 */
export function topologyFingerprint(t: Topology): string {
  return JSON.stringify({
    subtopologies: t.subtopologies.map((s) => s.sources.map((source) => [source.topic, source.upstream])),
    repartition: t.repartitionTopics,
    stores: t.stores,
    sinks: t.sinkTopics.map((d) => d.name),
    deadLetter: t.deadLetterTopic,
  })
}
