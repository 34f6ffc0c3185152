import { ByteWriter } from '../dsl/binary/io.ts'
import type { Bytes } from '../log/bytes.ts'
import { FrameWriter, type RecordFrames } from '../log/embedded/frames.ts'
import type { ProducerRecord } from '../log/types.ts'

/**
 * A task's outputs to one topic since its last `collect`, kept as columns: a sink's output is
 * a few array slots, not an object that lives until the commit.
 *
 * Why: V8 watches how many objects of each allocation site (an object literal in the code)
 * survive a young-generation collection, and "pretenures" a site whose objects mostly do:
 * from then on they are made in the old generation. The sink's `{ key, value, timestamp }`
 * lived until the commit, so early in a run (the young generation starts small and is
 * collected often) the site was pretenured, and then every output's strings, referenced from
 * the old generation, were kept by each young collection and promoted until the next full
 * one. A stateless pipeline on the log ran at 0.90–0.95 M events/s per core in such runs
 * (3 runs in 6) against 1.12–1.14 M in the others. V8's `--trace-pretenuring-statistics`
 * shows the decision and `--trace-deopt` the function whose code it invalidated.
 *
 * `records()` makes the records at the commit, as instances of a class: V8 tracks allocation
 * sites for literals, not for `new`, so these are never pretenured even when a collection
 * finds thousands of them alive while they are encoded.
 *
 * Values of binary codecs (`Codec.encodeInto`) are written into one growing buffer (`writer()`),
 * so they are no objects at all until the commit; their column holds where each one starts.
 */
const MIN_WRITER_BYTES = 64 * 1024

export class OutputBuffer {
  /** The key and timestamp of the value `beginValue` started, and where it starts. */
  #valueKey: Bytes | null = null
  #valueTs = 0
  #valueStart = 0

  #keys: Array<Bytes | null> = []
  /** A value, or where it starts in the writer (`pushWritten`). */
  #values: Array<Bytes | null | number> = []
  /** Where each value in the writer ends, in order. */
  #ends: number[] = []
  #writer: ByteWriter | null = null
  /** How big the writer starts: what the task's last buffer for the topic wrote (see `written`). */
  readonly #writerBytes: number
  #timestamps: number[] = []
  /** The partition each output goes to, where the task chose it (repartition topics). */
  #partitions: Array<number | undefined> = []
  /** Records with headers (watermark markers, dead letters): rare, kept as they are. */
  #extras: ProducerRecord[] = []
  /** Where each extra goes: the number of column outputs before it. */
  #extrasAt: number[] = []

  constructor(writerBytes = MIN_WRITER_BYTES) {
    this.#writerBytes = Math.max(MIN_WRITER_BYTES, writerBytes)
  }

  /** Bytes written to the writer so far: the task starts the topic's next buffer's writer as big. */
  get written(): number {
    return this.#writer?.pos ?? 0
  }

  push(key: Bytes | null, value: Bytes | null, timestamp: number, partition?: number): void {
    this.#keys.push(key)
    this.#values.push(value)
    this.#timestamps.push(timestamp)
    this.#partitions.push(partition)
  }

  /** The buffer `pushWritten` values are written to. */
  writer(): ByteWriter {
    if (this.#writer === null) this.#writer = new ByteWriter(this.#writerBytes)
    return this.#writer
  }

  /** Begins an output whose value the caller writes into the writer returned (`Codec.encodeInto`). */
  beginValue(key: Bytes | null, timestamp: number): ByteWriter {
    const writer = this.writer()
    this.#valueKey = key
    this.#valueTs = timestamp
    this.#valueStart = writer.pos
    return writer
  }

  /** Ends the output `beginValue` began: its value is what was written since. */
  endValue(): void {
    this.pushWritten(this.#valueKey, this.#valueStart, this.#valueTs)
  }

  /** Drops what the value `beginValue` began wrote (it failed to encode). */
  abortValue(): void {
    this.#writer!.pos = this.#valueStart
  }

  /** An output whose value was written to `writer()` from `start` to its current end. */
  pushWritten(key: Bytes | null, start: number, timestamp: number, partition?: number): void {
    this.#keys.push(key)
    this.#values.push(start)
    this.#ends.push(this.#writer!.pos)
    this.#timestamps.push(timestamp)
    this.#partitions.push(partition)
  }

  /** Adds a record as it is (headers, partition). */
  add(record: ProducerRecord): void {
    this.#extras.push(record)
    this.#extrasAt.push(this.#keys.length)
  }

  /** Drops the last output pushed or added (the rollback of a failed record's outputs). */
  pop(): void {
    const extras = this.#extrasAt.length
    if (extras > 0 && this.#extrasAt[extras - 1] === this.#keys.length) {
      this.#extras.pop()
      this.#extrasAt.pop()
      return
    }
    this.#keys.pop()
    const value = this.#values.pop()
    if (typeof value === 'number') {
      this.#ends.pop()
      this.#writer!.pos = value
    }
    this.#timestamps.pop()
    this.#partitions.pop()
  }

  /** Every output as a ProducerRecord, in the order pushed and added. */
  records(): ProducerRecord[] {
    const keys = this.#keys
    const values = this.#values
    const timestamps = this.#timestamps
    const partitions = this.#partitions
    const extras = this.#extras
    const n = keys.length
    const out: ProducerRecord[] = new Array(n + extras.length)
    // Handed over with the records, whose values are views of it; the next output starts a
    // new one: a backend may hold the records past this call (a Kafka producer until it sends).
    const written = this.#writer?.buf
    this.#writer = null
    const ends = this.#ends
    let w = 0
    let e = 0
    let j = 0
    for (let i = 0; i < n; i++) {
      while (e < extras.length && this.#extrasAt[e] === i) out[j++] = extras[e++]!
      const partition = partitions[i]
      const v = values[i]
      const value = typeof v === 'number' ? written!.subarray(v, ends[w++]) : (v ?? null)
      out[j++] =
        partition === undefined
          ? new Output(keys[i] ?? null, value, timestamps[i]!)
          : new PartitionedOutput(keys[i] ?? null, value, timestamps[i]!, partition)
    }
    while (e < extras.length) out[j++] = extras[e++]!
    return out
  }
}

class Output implements ProducerRecord {
  readonly key: Bytes | null
  readonly value: Bytes | null
  readonly timestamp: number

  constructor(key: Bytes | null, value: Bytes | null, timestamp: number) {
    this.key = key
    this.value = value
    this.timestamp = timestamp
  }
}

class PartitionedOutput implements ProducerRecord {
  readonly key: Bytes | null
  readonly value: Bytes | null
  readonly timestamp: number
  readonly partition: number

  constructor(key: Bytes | null, value: Bytes | null, timestamp: number, partition: number) {
    this.key = key
    this.value = value
    this.timestamp = timestamp
    this.partition = partition
  }
}

/**
 * A task's outputs to one topic of one partition on the embedded log, written as they come in
 * the log's batch format (log/embedded/frames.ts): no object, no array slot and no Buffer per
 * output, and no copy at the commit, which stages the frames as batches as they lie. The
 * EmbeddedRunner's tasks use it for every such topic (`TaskOptions.framed`); the Kafka and
 * worker-thread runners take ProducerRecords (OutputBuffer).
 */
export class FramedOutputs {
  readonly #writer: ByteWriter
  readonly #frames: FrameWriter

  /**
   * `writerBytes`: what the task's last buffer for the topic took; this one starts a quarter
   * bigger, from `take` (the log's pool: the log takes the buffer back once its batches are
   * stored, so a steady pipeline writes into the same few buffers instead of fresh memory).
   */
  constructor(writerBytes = MIN_WRITER_BYTES, take: (bytes: number) => Buffer = Buffer.allocUnsafe) {
    this.#writer = new ByteWriter(take(Math.max(MIN_WRITER_BYTES, Math.ceil(writerBytes * 1.25))))
    this.#frames = new FrameWriter(this.#writer)
  }

  /** Bytes written so far. */
  get written(): number {
    return this.#writer.pos
  }

  push(key: Bytes | null, value: Bytes | null, timestamp: number, partition?: number): void {
    if (partition !== undefined && partition !== 0) throw notOnePartition(partition)
    this.#frames.begin(key, timestamp)
    this.#frames.endWith(value)
  }

  beginValue(key: Bytes | null, timestamp: number): ByteWriter {
    this.#frames.begin(key, timestamp)
    return this.#writer
  }

  endValue(): void {
    this.#frames.end()
  }

  abortValue(): void {
    this.#frames.abort()
  }

  add(record: ProducerRecord): void {
    if (record.partition !== undefined && record.partition !== 0) throw notOnePartition(record.partition)
    this.#frames.begin(record.key ?? null, record.timestamp ?? Date.now())
    this.#frames.endWith(record.value, record.headers)
  }

  pop(): void {
    this.#frames.pop()
  }

  /** The outputs as batches to be: the buffer is theirs from now on (the log stages it as it lies). */
  frames(): RecordFrames {
    return this.#frames.take()
  }
}

function notOnePartition(partition: number): Error {
  return new Error(`an output for partition ${partition} of a topic of one partition`)
}
