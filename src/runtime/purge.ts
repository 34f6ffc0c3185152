/**
 * Repartition topics are read once, by the tasks downstream of a `keyBy`, and never again
 * once the pipeline's group has committed past a record: state is restored from changelogs
 * (or LMDB), not from them. Left alone they grow for ever — a keyBy pipeline would keep every
 * event it ever moved. So, like Kafka Streams (repartition.purge.interval.ms, 30 s by
 * default), a runner deletes what its group has committed past, every `everyMs`.
 */
import type { Log } from '../log/types.ts'
import type { Topology } from '../topology/compile.ts'

export const PURGE_EVERY_MS = 30_000

export class RepartitionPurger {
  readonly #log: Log
  readonly #targets: Array<{ group: string; topic: string }>
  readonly #everyMs: number
  /** Offsets already purged below, per `topic/partition`: a purge only ever moves forward. */
  readonly #purged = new Map<string, number>()
  /** Topics whose purge failed (e.g. no Delete ACL on Kafka): reported once, then left. */
  readonly #failed = new Set<string>()
  #timer: NodeJS.Timeout | null = null
  #running: Promise<unknown> = Promise.resolve()

  /** `everyMs` 0: never purge. */
  constructor(log: Log, topologies: readonly Topology[], everyMs = PURGE_EVERY_MS) {
    this.#log = log
    this.#targets = topologies.flatMap((t) =>
      t.repartitionTopics.map((r) => ({ group: t.pipeline, topic: r.topic })),
    )
    this.#everyMs = everyMs
  }

  start(): this {
    if (this.#everyMs > 0 && this.#targets.length > 0) {
      this.#timer = setInterval(() => {
        this.#running = this.purge().catch(() => {})
      }, this.#everyMs)
      this.#timer.unref()
    }
    return this
  }

  /** Stops the timer and waits for a purge in progress (before the log closes). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }

  /** Purges each repartition partition below its group's committed offset; returns how many moved. */
  async purge(): Promise<number> {
    let moved = 0
    for (const { group, topic } of this.#targets) {
      if (this.#failed.has(topic)) continue
      try {
        const committed = await this.#log.committedOffsets(group, topic)
        for (const [partition, offset] of committed) {
          const key = `${topic}/${partition}`
          if (offset <= (this.#purged.get(key) ?? 0)) continue
          await this.#log.deleteRecordsBefore({ topic, partition }, offset)
          this.#purged.set(key, offset)
          moved++
        }
      } catch (error) {
        this.#failed.add(topic)
        process.emitWarning(
          `cannot purge repartition topic ${topic} of what pipeline ${group} has processed, so it keeps ` +
            `growing: ${(error as Error).message}. On Kafka, allow Delete on the topic (or give it a retention).`,
          'SluiceWarning',
        )
      }
    }
    return moved
  }
}
