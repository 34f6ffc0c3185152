/**
 * Which worker of a consumer group holds which task, and where its HTTP server answers — so a
 * query for a key held elsewhere can be sent to the worker that holds it.
 *
 * Each worker that serves HTTP writes an entry keyed by its instance id to the compacted topic
 * `__sluice_workers`: its URL and the tasks it owns per pipeline, whenever its tasks change and
 * every 10 s; a tombstone when it stops. Readers tail the topic. An entry older than 60 s counts
 * as gone (a worker killed without its tombstone); when two entries claim a task — one worker
 * took it over before the other's entry caught up — the newer claim wins.
 */
import { readToEnd } from '../../log/read-to-end.ts'
import type { Log, Producer } from '../../log/types.ts'
import { ensureTopic } from '../topics.ts'

export const DIRECTORY_TOPIC = '__sluice_workers'
const STALE_MS = 60_000

export interface WorkerEntry {
  instance: string
  url: string
  /** Pipeline → its task ids this worker owns (`<subtopology>/<partition>`). */
  tasks: Record<string, string[]>
  at: number
}

export class WorkerDirectory {
  readonly #log: Log
  readonly #entries = new Map<string, WorkerEntry>()
  #next = -1
  #producer: Producer | null = null
  #ready: Promise<void> | null = null

  constructor(log: Log) {
    this.#log = log
  }

  #ensureTopic(): Promise<void> {
    this.#ready ??= (async () => {
      if (!(await this.#log.hasTopic(DIRECTORY_TOPIC))) {
        await ensureTopic(this.#log, DIRECTORY_TOPIC, { partitions: 1, compact: true })
      }
    })()
    return this.#ready
  }

  async publish(entry: WorkerEntry): Promise<void> {
    await this.#ensureTopic()
    this.#producer ??= this.#log.producer()
    await this.#producer.send(DIRECTORY_TOPIC, {
      key: Buffer.from(entry.instance),
      value: Buffer.from(JSON.stringify(entry)),
    })
  }

  async remove(instance: string): Promise<void> {
    await this.#ensureTopic()
    this.#producer ??= this.#log.producer()
    await this.#producer.send(DIRECTORY_TOPIC, { key: Buffer.from(instance), value: null })
  }

  /** Reads what was written since the last refresh. */
  async refresh(): Promise<void> {
    await this.#ensureTopic()
    const tp = { topic: DIRECTORY_TOPIC, partition: 0 }
    if (this.#next < 0) this.#next = await this.#log.resolveOffset(tp, 'earliest')
    this.#next = await readToEnd(this.#log, tp, this.#next, (r) => {
      if (r.key === null) return
      const instance = Buffer.from(r.key).toString()
      if (r.value === null) this.#entries.delete(instance)
      else this.#entries.set(instance, JSON.parse(Buffer.from(r.value).toString()) as WorkerEntry)
    })
  }

  /** The live worker that owns a task, by the newest claim. */
  ownerOf(pipeline: string, task: string, now = Date.now()): WorkerEntry | undefined {
    let best: WorkerEntry | undefined
    for (const e of this.#entries.values()) {
      if (now - e.at > STALE_MS) continue
      if (!e.tasks[pipeline]?.includes(task)) continue
      if (!best || e.at > best.at) best = e
    }
    return best
  }

  async close(): Promise<void> {
    await this.#producer?.close()
  }
}
