/**
 * The in-memory exchange: repartition topics whose writing and reading tasks run in the same
 * thread (the EmbeddedRunner) hand their records over in memory instead of through the log.
 *
 * Why it is exactly-once without the log: the runner commits every task of a pipeline in one
 * LMDB transaction, and it drains the exchange before it collects them. A commit therefore
 * holds the upstream task's input offsets together with the downstream task's state and
 * outputs for every record the upstream task sent; nothing sent is in between. A crash rolls
 * both back to the same commit and the upstream task sends again. Only watermark markers (sent
 * at collect) can wait in a queue across a commit: they carry no data, the downstream task's
 * channels are saved in its state, and an upstream task sends its marker again after a restart.
 *
 * What it saves per record: writing the record into a log batch (with its CRC), the LMDB
 * write, reading it back, the key and value Buffers, and the JSON text: the value crosses as
 * `jsonCopy(value)` (runtime/json-copy.ts), what the JSON round trip of the log would make of
 * it without the text, so a downstream step sees what it would see through the log (a Date
 * arrives as a string, as on Kafka) and a pipeline behaves the same on every runner.
 *
 * A topic is exchanged in memory only when the log holds nothing of it past the downstream
 * tasks' committed positions (`fuse()` at start): records a threaded or Kafka run left there
 * are read from the log first, in order, and the whole run then goes through the log.
 */
import type { RecordOrigin } from './record.ts'

/** One record (or watermark marker) handed from an upstream task to a downstream one. */
export class ExchangedRecord implements RecordOrigin {
  readonly topic: string
  readonly partition: number
  /** Never in the log: a dead letter of it names offset −1. */
  readonly offset = -1
  readonly timestamp: number
  readonly keyString: string | null
  /** The value, as a JSON round trip would give it (`jsonCopy`); undefined for a marker. */
  readonly data: unknown
  /** `<upstream task>:<watermark>:<idle>` for a watermark marker, else null. */
  readonly marker: string | null

  constructor(
    topic: string,
    partition: number,
    key: string | null,
    data: unknown,
    timestamp: number,
    marker: string | null,
  ) {
    this.topic = topic
    this.partition = partition
    this.keyString = key
    this.data = data
    this.timestamp = timestamp
    this.marker = marker
  }

  /**
   * Bytes only for a dead letter, which keeps the record as it would have been in the log (the
   * value as the failing task received it).
   */
  get key(): Uint8Array | null {
    return this.keyString === null ? null : Buffer.from(this.keyString)
  }

  get value(): Uint8Array | null {
    return this.marker !== null ? null : Buffer.from(JSON.stringify(this.data))
  }
}

export class Exchange {
  /** Fused topic → one queue per partition. */
  readonly #queues = new Map<string, ExchangedRecord[][]>()

  /** Hands `topic` over in memory from now on. */
  fuse(topic: string, partitions: number): void {
    if (this.#queues.has(topic)) return
    const queues = Array.from({ length: partitions }, (): ExchangedRecord[] => [])
    this.#queues.set(topic, queues)
  }

  /**
   * Sends `topic` through the log from now on, dropping what waits for it. The runner does this
   * when a record taken from the exchange fails: a poison record is found again on replay by
   * its offset, which only a record in the log has.
   */
  unfuse(topic: string): void {
    this.#queues.delete(topic)
  }

  /** Drops what waits for `topic` (a rewind: the upstream task sends it again). */
  clear(topic: string): void {
    for (const q of this.#queues.get(topic) ?? []) q.length = 0
  }

  /** The queues of a fused topic (by partition), or undefined when it goes through the log. */
  queues(topic: string): ExchangedRecord[][] | undefined {
    return this.#queues.get(topic)
  }

  /** Something waits to be processed. */
  pending(): boolean {
    for (const queues of this.#queues.values()) for (const q of queues) if (q.length > 0) return true
    return false
  }
}
