/**
 * A worker's main loop, the threaded twin of EmbeddedRunner.run:
 *
 *   loop: collect if the main thread asked → read a batch per task input → process → tick
 *         → when nothing arrived: wait for a message from main (or 50 ms, for timers)
 *
 * A collect is answered between passes, never in the middle of one, so a task's positions,
 * outputs and state always describe the same records. After replying the worker keeps
 * processing (the main thread commits meanwhile); state it handed over stays readable from
 * CommittedState's overlay until the main thread reports the round committed.
 */

import { isSluiceError } from '../../errors.ts'
import type { LogRecord, ProducerRecord } from '../../log/types.ts'
import { Alarm } from '../../util/alarm.ts'
import type { GlobalSource, GlobalTables } from '../global-tables.ts'
import { taskSnapshot } from '../metrics/snapshot.ts'
import type { PoisonRecords } from '../poison.ts'
import { stopPolicyMessage } from '../runner.ts'
import { DELETED } from '../state.ts'
import type { Task, TaskCommit } from '../task.ts'
import type { CommittedState } from './committed-state.ts'
import type { LogReader } from './log-reader.ts'
import { packRecords, transferList } from './packed-records.ts'
import type { FromWorker, TaskReport, ToWorker } from './protocol.ts'

/** Longest sleep with nothing to read: processing-time timers and idleness still tick. */
const IDLE_MS = 50

export interface TaskLoopOptions {
  tasks: Task[]
  /** Per task: is its pipeline under the `stop` error policy? */
  stopPolicy: boolean[]
  reader: LogReader
  state: CommittedState
  maxBatch: number
  maxUncollected: number
  post(message: FromWorker, transfer?: ArrayBuffer[]): void
  /** Global tables of this thread's pipelines, caught up between batches. */
  globals?: { tables: GlobalTables[]; source: GlobalSource }
  /** A new task `i` over committed state, given the poison records to skip. The loop sets its positions. */
  rebuild(i: number, poison: PoisonRecords): Task
}

export class TaskLoop {
  readonly #o: TaskLoopOptions
  #running = false
  #stopping = false
  /** After the final collect: process nothing more, wait for `stop`. */
  #done = false
  #collect: { round: number; final: boolean } | null = null
  #readSinceCollect = 0
  #woken = false
  /** The last pass read nothing and no append was announced since: nothing to do. */
  #idle = false
  #appended = false
  readonly #alarm = new Alarm()
  /** Rounds collected and not yet reported committed, oldest first. */
  readonly #collectedRounds: number[] = []
  /** Per task: its positions as of its last collect (where a rewind resumes). */
  readonly #collectedPositions: Array<ReadonlyMap<string, number>>
  /** Per task: rounds collected before it was rebuilt, whose commits are not its own to confirm. */
  readonly #notMine: number[]
  /** The last round collected. */
  #round = 0
  /** Per task stopped by a step failure: the last round holding its state (rebuild once that is in LMDB). */
  readonly #rewindAfter: Array<number | null>

  constructor(options: TaskLoopOptions) {
    this.#o = options
    this.#collectedPositions = options.tasks.map((t) => new Map(t.positions))
    this.#notMine = options.tasks.map(() => 0)
    this.#rewindAfter = options.tasks.map(() => null)
  }

  receive(message: ToWorker): void {
    switch (message.type) {
      case 'run':
        this.#running = true
        break
      case 'collect':
        this.#collect = { round: message.round, final: message.final }
        break
      case 'committed':
        this.#o.state.committed(message.round)
        // Each collected round took one batch of writes from every store; confirm them in order.
        while (this.#collectedRounds.length > 0 && this.#collectedRounds[0]! <= message.round) {
          this.#collectedRounds.shift()
          const { tasks } = this.#o
          for (let i = 0; i < tasks.length; i++) {
            if (this.#notMine[i]! > 0) this.#notMine[i]!--
            else tasks[i]!.committed()
          }
        }
        this.#appended = true
        break
      case 'appended':
        this.#appended = true
        break
      case 'stop':
        this.#stopping = true
        break
    }
    // Every message may mean work: new input, a collect, a stop.
    this.#woken = true
    this.#alarm.wake()
  }

  async run(): Promise<void> {
    for (;;) {
      if (this.#collect) await this.#answerCollect(this.#collect)
      if (this.#stopping) return
      this.#woken = false
      this.#appended = false
      let processed = 0
      const reading = this.#running && !this.#done && this.#readSinceCollect < this.#o.maxUncollected
      if (reading) processed = await this.#processOnce()
      // A halted task waits for the next collect: no slowing down meanwhile.
      this.#idle = reading && processed === 0 && !this.#appended && !this.#o.tasks.some((t) => t.halted)
      // Yield to the event loop either way, so messages from the main thread get in.
      if (processed > 0) await new Promise((r) => setImmediate(r))
      else if (!this.#woken) await this.#sleep(IDLE_MS)
    }
  }

  #sleep(ms: number): Promise<void> {
    return this.#alarm.sleep(ms)
  }

  #lastGlobals = 0

  async #processOnce(): Promise<number> {
    const { tasks, reader, maxBatch } = this.#o
    // A fresh snapshot per pass: new commits of the main thread become visible.
    reader.refresh()
    const globals = this.#o.globals
    if (globals && Date.now() - this.#lastGlobals >= 100) {
      this.#lastGlobals = Date.now()
      for (const g of globals.tables) if (g.size > 0) await g.catchUp(globals.source)
    }
    let processed = 0
    const now = Date.now()
    for (let i = 0; i < tasks.length; i++) {
      let task = tasks[i]!
      // Waiting for its rewind (below) or, past a poison record, for the next collect.
      if (task.halted) {
        if (task.rewindFor === null || !this.#rewind(i)) continue
        task = tasks[i]!
      }
      task.now = now
      for (const topic of task.sourceTopics()) {
        const tp = { topic, partition: task.partition }
        const position = task.positions.get(topic)!
        let records: LogRecord[]
        try {
          records = reader.read(tp, position, maxBatch)
        } catch (error) {
          const { startOffset } = reader.bounds(tp)
          if (!isSluiceError(error, 'SLUICE_OFFSET_OUT_OF_RANGE') || position > startOffset) throw error
          // Retention removed records this pipeline had not read: continue from what is left.
          task.positions.set(topic, startOffset)
          records = reader.read(tp, startOffset, maxBatch)
        }
        const started = performance.now()
        for (const r of records) {
          task.process(topic, r)
          if (task.asyncFull) {
            const waited = performance.now()
            await task.asyncProgress()
            task.metrics.blockedMs += performance.now() - waited
          }
        }
        if (records.length > 0) task.metrics.busyMs += performance.now() - started
        processed += records.length
      }
      if (task.rewindFor === null) task.tick(now)
      else this.#rewind(i)
    }
    this.#readSinceCollect += processed
    return processed
  }

  /**
   * A step failed in task `i`, which holds state (`Task.rewindFor`): replace it by one rebuilt
   * from the state and positions of its last collect, once the rounds holding that state are
   * in LMDB (the backend's overlay shares objects with the failed task). Its replay
   * dead-letters the failed record without processing it (runtime/poison.ts). Returns false
   * while it must wait; the collects meanwhile report the task unmoved.
   */
  #rewind(i: number): boolean {
    const { tasks, state } = this.#o
    this.#rewindAfter[i] ??= this.#round
    if (!state.settledThrough(this.#rewindAfter[i]!)) return false
    const old = tasks[i]!
    const task = this.#o.rebuild(i, old.poisonRecords())
    for (const [topic, offset] of this.#collectedPositions[i]!) task.positions.set(topic, offset)
    task.inheritFigures(old)
    tasks[i] = task
    this.#rewindAfter[i] = null
    this.#notMine[i] = this.#collectedRounds.length
    return true
  }

  /**
   * 1. Wait for async steps in flight, so every consumed record's results are in this round.
   * 2. Under the `stop` policy, a failure is reported instead: nothing of this round commits.
   * 3. Per task: collect outputs, state changes and positions; keep the state changes
   *    readable until the main thread says the round is committed.
   * 4. Send it all, the records packed into transferred buffers.
   */
  async #answerCollect({ round, final }: { round: number; final: boolean }): Promise<void> {
    const { tasks, stopPolicy, state, post } = this.#o
    // 1. An async step that failed stops its task: rebuild it first.
    for (const task of tasks) while (task.asyncInFlight > 0) await task.asyncProgress()
    for (let i = 0; i < tasks.length; i++) if (tasks[i]!.rewindFor !== null) this.#rewind(i)
    this.#collect = null
    this.#round = round
    // 2.
    for (let i = 0; i < tasks.length; i++) {
      const f = tasks[i]!.failures[0]
      if (stopPolicy[i] && f) {
        this.#done = true
        post({
          type: 'stopped',
          round,
          message: stopPolicyMessage(tasks[i]!.pipeline, f),
          cause: { message: f.error.message, ...(f.error.stack ? { stack: f.error.stack } : {}) },
        })
        return
      }
    }
    // 3.
    const reports: TaskReport[] = []
    const lists: Array<readonly ProducerRecord[]> = []
    const writes = new Map<string, unknown>()
    this.#collectedRounds.push(round)
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!
      // Still waiting for its rewind: nothing of it moves in this round.
      const c = task.rewindFor === null ? task.collect() : this.#unmoved(i)
      this.#collectedPositions[i] = c.positions
      const outputs: Array<[string, number]> = []
      for (const [topic, records] of c.outputs) {
        if (records.length === 0) continue
        outputs.push([topic, records.length])
        lists.push(records)
      }
      const puts: Array<[string, unknown]> = []
      const deletes: string[] = []
      for (const [key, value] of c.state) {
        writes.set(key, value)
        if (value === DELETED) deletes.push(key)
        else puts.push([key, value])
      }
      const figures = {
        recordsIn: task.recordsIn,
        recordsOut: task.recordsOut,
        deadLetters: task.deadLetters,
        lateRecords: task.lateRecords(),
        openWindows: task.windows.reduce((n, w) => n + w.openWindows, 0),
        watermark: task.watermark,
        metrics: taskSnapshot(task, Date.now()),
      }
      reports.push({ task: i, outputs, puts, deletes, positions: [...c.positions], figures })
    }
    state.pending(round, writes)
    // 4.
    const records = packRecords(lists)
    const idle = this.#idle && !this.#appended
    post({ type: 'collected', round, idle, tasks: reports, records }, transferList(records))
    this.#readSinceCollect = 0
    if (final) this.#done = true
  }

  /** What a task waiting for its rewind hands over: its last collect's positions, nothing else. */
  #unmoved(i: number): TaskCommit {
    return {
      outputs: new Map(),
      frames: new Map(),
      state: new Map(),
      positions: new Map(this.#collectedPositions[i]!),
    }
  }
}
