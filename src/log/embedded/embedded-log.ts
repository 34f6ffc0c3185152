import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { SluiceError } from '../../errors.ts'
import { validateTopicName } from '../topic-name.ts'
import type {
  ConsumerOptions,
  FetchOptions,
  Log,
  LogRecord,
  OffsetSpec,
  Producer,
  ProducerOptions,
  ProducerRecord,
  TopicConfig,
  TopicDescription,
  TopicPartition,
  TopicPartitionOffset,
  Transaction,
  TransactionOptions,
} from '../types.ts'
import {
  BatchBuilder,
  decodeBatch,
  encodeBatch,
  FramedBatch,
  HEADER_BYTES,
  MAX_BATCH_BYTES,
  recordSize,
  scanFrames,
} from './batch-codec.ts'
import { deleteBefore, runCleanup } from './cleaner.ts'
import { EmbeddedConsumer, GroupCoordinator } from './consumer.ts'
import type { RecordFrames } from './frames.ts'
import { checkSequence, type ProducerPartitionState, recordSequence } from './idempotence.ts'
import { acquireDataDirLock } from './lock.ts'
import { PartitionState, waitForAppend, waitForQueue } from './partition-state.ts'
import { EmbeddedProducer } from './producer.ts'
import {
  baseOffsetOfKey,
  batchKey,
  type Durability,
  decodeIndexEntry,
  decodePartitionMeta,
  encodeIndexEntry,
  encodePartitionMeta,
  floorBatchKey,
  offsetsKey,
  openStorage,
  partitionKey,
  type Storage,
  type TopicRecord,
} from './storage.ts'
import { EmbeddedTransaction } from './transaction.ts'

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
/** Encode buffers kept for reuse: each at least this big, at most this much in all. */
const POOLED_BUFFER_BYTES = 300 * 1024
const MAX_POOLED_BYTES = 64 * 1024 * 1024
/** The `commits` entry whose version counts the commits applied (the commit sequence). */
const COMMIT_SEQUENCE = 'sequence'

export interface EmbeddedLogOptions {
  /** Where the log lives. Default: `$SLUICE_DATA_DIR` or `./.sluice`. */
  dataDir?: string
  /**
   * `sync` (default): an append is acknowledged after its commit is fsynced; nothing
   * acknowledged is lost, even on power loss. `interval`: acknowledged at commit, fsynced
   * every `syncIntervalMs`; a process crash loses nothing, an OS crash or power loss can lose
   * the acknowledged appends of the last interval.
   */
  durability?: Durability
  syncIntervalMs?: number
  /** Most bytes of staged-but-uncommitted batches; appends wait beyond it (default 64 MiB). */
  maxInflightBytes?: number
  /** How often retention and compaction run (default 30 s; 0 turns the timer off). */
  cleanupIntervalMs?: number
}

/** One append staged in a commit: the encoded batch and where it goes. */
export interface StagedAppend {
  part: PartitionState
  key: Buffer
  batch: Buffer
  index: Buffer
  baseOffset: number
  count: number
  producer?: { key: string; state: ProducerPartitionState }
  /** The pooled buffer `batch` was encoded into; back to the pool once committed. */
  buffer: Buffer
}

/** Records encoded for a partition, offsets not yet taken (`EmbeddedLog.encode`). */
export interface Encoded {
  part: PartitionState
  batches: Array<BatchBuilder | FramedBatch>
  /** Bytes of the batches, headers included: what to reserve. */
  bytes: number
}

/** Everything one LMDB write transaction commits. */
export interface StagedCommit {
  appends: StagedAppend[]
  offsets?: Array<{ group: string } & TopicPartitionOffset>
  /** Extra writes in the same transaction (the engine's state stores); run on the JS thread. */
  writes?: Array<() => void>
}

export interface AppendBatchOptions {
  producerId: number
  epoch: number
  baseSequence: number
}

export interface AppendBatchResult {
  baseOffset: number
  count: number
  /** True when the batch was a retry of one already appended: nothing was written. */
  duplicate: boolean
}

/**
 * The embedded backend of the `Log` interface: a durable, partitioned log in one LMDB
 * environment. One instance per data directory per process (a lock file enforces it).
 */
export class EmbeddedLog implements Log {
  readonly backend = 'embedded' as const
  readonly dataDir: string
  readonly durability: Durability
  readonly storage: Storage
  readonly groups = new GroupCoordinator()
  #topics = new Map<string, { record: TopicRecord; parts: PartitionState[] }>()
  #producers = new Map<string, ProducerPartitionState>()
  readonly #bufferPool: Buffer[] = []
  #pooledBytes = 0
  /** Current epoch per named producer id (loaded at open): older epochs are fenced. */
  #epochs = new Map<number, number>()
  #releaseLock: () => void
  #inflightBytes = 0
  #maxInflightBytes: number
  /** Reservations waiting for in-flight bytes to drain, granted in call order. */
  #reserveQueue: Array<{ bytes: number; resolve: (bytes: number) => void; reject: (error: Error) => void }> =
    []
  #pending = new Set<Promise<unknown>>()
  /**
   * Group offsets as readers see them, for the keys a commit in flight writes: LMDB shows a
   * transaction's offsets as soon as it commits, but its records only once step 4 of
   * `commit()` moves the high watermarks. Read from LMDB alone, a group could look caught up
   * with records it has not produced yet (seen: a test took an input as processed while the
   * outputs of that very commit were still invisible). Keys never written since open read
   * from LMDB.
   */
  readonly #visibleOffsets = new Map<string, number | undefined>()
  #timers: NodeJS.Timeout[] = []
  #failure: Error | null = null
  #closed = false
  /** Commits queued since open, plus the sequence number stored at open (see `commit()`). */
  #commitSequence: number

  static async open(options: EmbeddedLogOptions = {}): Promise<EmbeddedLog> {
    return new EmbeddedLog(options)
  }

  private constructor(options: EmbeddedLogOptions) {
    this.dataDir = resolve(options.dataDir ?? process.env.SLUICE_DATA_DIR ?? '.sluice')
    this.durability = options.durability ?? 'sync'
    this.#maxInflightBytes = options.maxInflightBytes ?? 64 * 1024 * 1024
    mkdirSync(this.dataDir, { recursive: true })
    this.#releaseLock = acquireDataDirLock(this.dataDir)
    try {
      this.storage = openStorage({ dataDir: this.dataDir, durability: this.durability })
    } catch (error) {
      this.#releaseLock()
      throw error
    }
    try {
      this.#loadTopics()
      this.#loadProducerEpochs()
      this.#commitSequence = this.#loadCommitSequence()
    } catch (error) {
      this.#releaseLock()
      this.storage.env.close()
      throw error
    }
    if (this.durability === 'interval') {
      const every = options.syncIntervalMs ?? 100
      this.#timers.push(setInterval(() => this.#syncToDisk(), every).unref())
    }
    const cleanupEvery = options.cleanupIntervalMs ?? 30_000
    if (cleanupEvery > 0) {
      this.#timers.push(setInterval(() => void this.cleanup().catch(() => {}), cleanupEvery).unref())
    }
  }

  /** The number of commits applied so far, stored as the version of one entry. */
  #loadCommitSequence(): number {
    const { commits } = this.storage
    const entry = commits.getEntry(COMMIT_SEQUENCE)
    if (entry) return entry.version ?? 0
    commits.putSync(COMMIT_SEQUENCE, 0, 0)
    return 0
  }

  #loadProducerEpochs(): void {
    for (const { key, value } of this.storage.producers.getRange({ start: 'id:', end: 'id;' })) {
      if (!key.startsWith('id:')) continue
      const { producerId, epoch } = value as { producerId: number; epoch: number }
      this.#epochs.set(producerId, epoch)
    }
  }

  #loadTopics(): void {
    const { topics, partitions, index } = this.storage
    for (const { value: record } of topics.getRange()) {
      const parts: PartitionState[] = []
      for (let p = 0; p < record.partitions; p++) {
        const meta = partitions.get(partitionKey(record.id, p))
        const { nextOffset, startOffset } = meta
          ? decodePartitionMeta(meta)
          : { nextOffset: 0, startOffset: 0 }
        const part = new PartitionState(record, p, nextOffset, startOffset)
        for (const { value } of index.getRange({
          start: batchKey(record.id, p, 0),
          end: batchKey(record.id, p + 1, 0),
        })) {
          part.bytes += decodeIndexEntry(value).bytes
          part.batches++
        }
        parts.push(part)
      }
      this.#topics.set(record.name, { record, parts })
    }
  }

  // ---------------------------------------------------------------- topics

  async createTopic(name: string, config: TopicConfig): Promise<TopicDescription> {
    this.#assertOpen()
    validateTopicName(name)
    const partitions = config.partitions
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `topic "${name}": partitions must be a whole number from 1 to 10000, got ${partitions}`,
      )
    }
    if (this.#topics.has(name)) {
      throw new SluiceError(
        'SLUICE_TOPIC_EXISTS',
        `topic "${name}" already exists; describe it or delete it first`,
      )
    }
    const record: TopicRecord = {
      id: 0,
      name,
      partitions,
      retentionMs: positiveOrNull(config.retentionMs, name, 'retentionMs'),
      retentionBytes: positiveOrNull(config.retentionBytes, name, 'retentionBytes'),
      compact: config.compact ?? false,
      maxRecordBytes: config.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      createdAt: Date.now(),
    }
    const { env, meta, topics, partitions: partitionsDb } = this.storage
    await env.transaction(() => {
      record.id = (meta.get('nextTopicId') ?? 0) + 1
      meta.put('nextTopicId', record.id)
      topics.put(name, record)
      for (let p = 0; p < partitions; p++)
        partitionsDb.put(partitionKey(record.id, p), encodePartitionMeta(0, 0))
    })
    const parts = Array.from({ length: partitions }, (_, p) => new PartitionState(record, p, 0, 0))
    this.#topics.set(name, { record, parts })
    return this.describeTopicSync(name)
  }

  async deleteTopic(name: string): Promise<void> {
    this.#assertOpen()
    const topic = this.#topic(name)
    this.#topics.delete(name)
    await Promise.allSettled([...this.#pending])
    const { env, topics, batches, index, partitions, offsets } = this.storage
    const id = topic.record.id
    await env.transaction(() => {
      topics.remove(name)
      const range = { start: batchKey(id, 0, 0), end: batchKey(id + 1, 0, 0) }
      for (const key of batches.getKeys(range)) batches.remove(key)
      for (const key of index.getKeys(range)) index.remove(key)
      for (let p = 0; p < topic.record.partitions; p++) partitions.remove(partitionKey(id, p))
      for (const key of offsets.getKeys()) {
        if (key.split('\0')[1] === name) offsets.remove(key)
      }
    })
    for (const part of topic.parts) part.notify()
  }

  async deleteRecordsBefore(tp: TopicPartition, offset: number): Promise<void> {
    this.#assertOpen()
    const part = this.partition(tp)
    if (!Number.isSafeInteger(offset) || offset > part.highWatermark) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `cannot delete records of ${tp.topic}/${tp.partition} below offset ${offset}: ` +
          `it holds offsets ${part.startOffset}..${part.highWatermark - 1}; give an offset up to ${part.highWatermark}`,
      )
    }
    if (offset <= part.startOffset) return
    await deleteBefore(this, part, offset)
  }

  async listTopics(): Promise<string[]> {
    return [...this.#topics.keys()].sort()
  }

  async hasTopic(name: string): Promise<boolean> {
    return this.#topics.has(name)
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    return this.describeTopicSync(name)
  }

  describeTopicSync(name: string): TopicDescription {
    const { record, parts } = this.#topic(name)
    return {
      name,
      partitions: record.partitions,
      retentionMs: record.retentionMs,
      retentionBytes: record.retentionBytes,
      compact: record.compact,
      maxRecordBytes: record.maxRecordBytes,
      partitionDetails: parts.map((p) => ({
        partition: p.partition,
        startOffset: p.startOffset,
        endOffset: p.highWatermark,
        bytes: p.bytes,
        batches: p.batches,
      })),
    }
  }

  /** The partitions of a topic; throws a clear error for an unknown topic. */
  partitionsOf(name: string): PartitionState[] {
    return this.#topic(name).parts
  }

  partition(tp: TopicPartition): PartitionState {
    const { parts, record } = this.#topic(tp.topic)
    const part = parts[tp.partition]
    if (!part) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `topic "${tp.topic}" has partitions 0..${record.partitions - 1}; there is no partition ${tp.partition}`,
      )
    }
    return part
  }

  #topic(name: string): { record: TopicRecord; parts: PartitionState[] } {
    const topic = this.#topics.get(name)
    if (!topic) {
      throw new SluiceError(
        'SLUICE_UNKNOWN_TOPIC',
        `unknown topic "${name}": create it first (sluice topics create ${name} --partitions N)`,
      )
    }
    return topic
  }

  // ---------------------------------------------------------------- writing

  producer(options: ProducerOptions = {}): Producer {
    this.#assertOpen()
    return new EmbeddedProducer(this, options)
  }

  transaction(options: TransactionOptions): Transaction {
    this.#assertOpen()
    return new EmbeddedTransaction(this, options)
  }

  /**
   * Checks records against the topic's limits and returns their encoded sizes. Throws before
   * anything is staged, so a rejected append writes nothing.
   */
  measure(part: PartitionState, records: readonly ProducerRecord[]): Uint32Array {
    const sizes = new Uint32Array(records.length)
    const max = part.topic.maxRecordBytes
    const compact = part.topic.compact
    for (let i = 0; i < records.length; i++) {
      if (compact && records[i]!.key == null) throw noKey(part, i)
      const size = recordSize(records[i]!)
      if (size > max) throw tooLarge(part, i, size)
      sizes[i] = size
    }
    return sizes
  }

  /**
   * Encodes records into batches for `part` and checks them against the topic's limits as it
   * writes them, with no size pass before (see BatchBuilder). No offsets are taken: call
   * `stageEncoded` for that, with no await in between it and `commit`. Throws on a bad record,
   * and nothing is staged then. `indices[i]`: where records[i] was in what the caller was
   * given (for the error message); default i.
   */
  encode(part: PartitionState, records: readonly ProducerRecord[], indices?: readonly number[]): Encoded {
    const now = Date.now()
    const max = part.topic.maxRecordBytes
    const compact = part.topic.compact
    const batches: BatchBuilder[] = []
    let builder = new BatchBuilder(this.#takeBuffer(0), now, MAX_BATCH_BYTES)
    let bytes = 0
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      if (compact && record.key == null) throw noKey(part, indices ? indices[i]! : i)
      let size = builder.add(record)
      if (size < 0) {
        // Full. The next batch may be as big as a batch may be: more records are coming, and
        // a record bigger than that gets a buffer of its own size (if allowed).
        if (builder.count > 0) {
          bytes += builder.length
          batches.push(builder)
        } else this.#returnBuffer(builder.buffer)
        const exact = recordSize(record)
        if (exact > max) throw tooLarge(part, indices ? indices[i]! : i, exact)
        const need = HEADER_BYTES + Math.max(exact, MAX_BATCH_BYTES)
        builder = new BatchBuilder(this.#takeBuffer(need), now, MAX_BATCH_BYTES)
        size = builder.add(record)
      }
      if (size > max) throw tooLarge(part, indices ? indices[i]! : i, size)
    }
    if (builder.count > 0) {
      bytes += builder.length
      batches.push(builder)
    } else this.#returnBuffer(builder.buffer)
    return { part, batches, bytes }
  }

  /**
   * `encode` for records a FrameWriter wrote in place (frames.ts): each run becomes a batch as
   * it lies, after the same checks (record size, keys of a compacted topic).
   */
  encodeFrames(part: PartitionState, frames: RecordFrames): Encoded {
    const now = Date.now()
    const max = part.topic.maxRecordBytes
    const batches: FramedBatch[] = []
    let bytes = 0
    let first = 0
    const fail = (i: number, size: number, why: 'size' | 'key') =>
      why === 'key' ? noKey(part, i) : tooLarge(part, i, size)
    const runs = frames.runs
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r]!
      // The writer's figures when it has them and they pass; else the scan, which names the record.
      const stats = run.stats
      const { minTs, maxTs } =
        stats !== null && stats.maxRecordBytes <= max && !(part.topic.compact && stats.nullKeys > 0)
          ? stats
          : scanFrames(frames.buffer, run.start, run.end, max, part.topic.compact, fail, first)
      // The last batch carries the buffer, which goes to the pool once it is stored (takeBuffer).
      const own = r === runs.length - 1 ? frames.buffer : null
      batches.push(
        new FramedBatch(frames.buffer, run.start, run.end, run.count, run.ascii, minTs, maxTs, now, own),
      )
      bytes += run.end - run.start
      first += run.count
    }
    return { part, batches, bytes }
  }

  /** Takes offsets for what `encode` made and stages it, as `stage` does. */
  stageEncoded({ part, batches }: Encoded, out: StagedAppend[]): void {
    for (const builder of batches) {
      const baseOffset = part.nextOffset
      const count = builder.count
      part.nextOffset += count
      out.push(stagedAppend(part, builder.seal(baseOffset), baseOffset, count, builder.buffer, Date.now()))
    }
  }

  /**
   * Assigns offsets to records and encodes them into batches, without writing. The offsets
   * are taken now, in call order; the caller must commit the result (or the log fails).
   */
  stage(
    part: PartitionState,
    records: readonly ProducerRecord[],
    sizes: Uint32Array,
    out: StagedAppend[],
    producerId = 0,
    baseSequence = -1,
  ): void {
    const now = Date.now()
    let start = 0
    while (start < records.length) {
      let end = start
      let bytes = 0
      while (end < records.length && (end === start || bytes + sizes[end]! <= MAX_BATCH_BYTES)) {
        bytes += sizes[end]!
        end++
      }
      const chunk = start === 0 && end === records.length ? records : records.slice(start, end)
      const chunkSizes = start === 0 && end === records.length ? sizes : sizes.subarray(start, end)
      const baseOffset = part.nextOffset
      const sequence = baseSequence < 0 ? -1 : baseSequence + start
      let need = HEADER_BYTES
      for (let i = 0; i < chunkSizes.length; i++) need += chunkSizes[i]!
      const buffer = this.#takeBuffer(need)
      const batch = encodeBatch(chunk, chunkSizes, baseOffset, now, producerId, sequence, undefined, buffer)
      const count = end - start
      part.nextOffset += count
      out.push(stagedAppend(part, batch, baseOffset, count, buffer, now))
      start = end
    }
  }

  /**
   * A buffer of at least `need` bytes from the pool of encode buffers, for a FrameWriter whose
   * frames come back through `encodeFrames` (their buffer returns to the pool once stored).
   */
  takeBuffer(need: number): Buffer {
    return this.#takeBuffer(need)
  }

  /**
   * Encode buffers are pooled: a fresh 256 KiB buffer per batch cost more in allocation,
   * page faults and full garbage collections than the encoding itself.
   */
  #takeBuffer(need: number): Buffer {
    const pool = this.#bufferPool
    const last = pool[pool.length - 1]
    if (last && last.length >= need) {
      this.#pooledBytes -= last.length
      return pool.pop()!
    }
    return Buffer.allocUnsafeSlow(Math.max(need, POOLED_BUFFER_BYTES))
  }

  #returnBuffer(buffer: Buffer): void {
    if (buffer.length < POOLED_BUFFER_BYTES || this.#pooledBytes + buffer.length > MAX_POOLED_BYTES) return
    this.#bufferPool.push(buffer)
    this.#pooledBytes += buffer.length
  }

  /**
   * The idempotent append: the primitive every producer path ends in. With producer
   * options, a retried batch (same producer, epoch and sequence) is acknowledged with its
   * original offsets and not written again.
   */
  async appendBatch(
    tp: TopicPartition,
    records: readonly ProducerRecord[],
    idempotence?: AppendBatchOptions,
    /** `measure(part, records)`'s result when the caller has it already (the producer does). */
    measured?: Uint32Array,
  ): Promise<AppendBatchResult> {
    this.#assertOpen()
    const part = this.partition(tp)
    const sizes = measured ?? this.measure(part, records)
    if (records.length === 0) return { baseOffset: part.nextOffset, count: 0, duplicate: false }
    let bytes = 0
    for (let i = 0; i < sizes.length; i++) bytes += sizes[i]!
    const reserved = await this.reserve(bytes)
    const staged: StagedAppend[] = []
    if (!idempotence) {
      this.stage(part, records, sizes, staged)
    } else {
      const { producerId, epoch, baseSequence } = idempotence
      const key = `p:${producerId}:${part.topic.id}:${part.partition}`
      const state = this.#producerState(key)
      const where = `topic "${tp.topic}" partition ${tp.partition}`
      const current = this.#epochs.get(producerId)
      if (current !== undefined && epoch < current) {
        this.#release(reserved)
        throw new SluiceError(
          'SLUICE_PRODUCER_FENCED',
          `producer ${producerId} epoch ${epoch} on ${where} was fenced by epoch ${current}: a newer instance with the same producer id is running`,
        )
      }
      const check = checkSequence(state, epoch, baseSequence, records.length, where)
      if (check.kind === 'duplicate') {
        this.#release(reserved)
        // The original may still be in flight; acknowledge the retry only once it is durable.
        await Promise.allSettled([...this.#pending])
        return { baseOffset: check.baseOffset, count: records.length, duplicate: true }
      }
      const first = part.nextOffset
      this.stage(part, records, sizes, staged, producerId, baseSequence)
      recordSequence(state, epoch, baseSequence, records.length, first)
      // A snapshot: later batches mutate `state` before this commit's callback runs, and what
      // is persisted must describe exactly the batches in this transaction.
      const snapshot = { epoch: state.epoch, lastSequence: state.lastSequence, recent: [...state.recent] }
      staged[staged.length - 1]!.producer = { key, state: snapshot }
    }
    await this.commit({ appends: staged }, reserved)
    return { baseOffset: staged[0]!.baseOffset, count: records.length, duplicate: false }
  }

  #producerState(key: string): ProducerPartitionState {
    let state = this.#producers.get(key)
    if (!state) {
      state = (this.storage.producers.get(key) as ProducerPartitionState | undefined) ?? {
        epoch: 0,
        lastSequence: -1,
        recent: [],
      }
      this.#producers.set(key, state)
    }
    return state
  }

  /**
   * Registers a named producer (or transactional id) and returns its numeric id with a new
   * epoch: batches from the previous epoch are rejected from now on (zombie fencing).
   */
  async initProducerId(name?: string): Promise<{ producerId: number; epoch: number }> {
    this.#assertOpen()
    const { env, producers, meta } = this.storage
    const identity = await env.transaction(() => {
      const idKey = name === undefined ? undefined : `id:${name}`
      const known = idKey
        ? (producers.get(idKey) as { producerId: number; epoch: number } | undefined)
        : undefined
      const producerId = known?.producerId ?? (meta.get('nextProducerId') ?? 0) + 1
      if (!known) meta.put('nextProducerId', producerId)
      const identity = { producerId, epoch: (known?.epoch ?? -1) + 1 }
      if (idKey) producers.put(idKey, identity)
      return identity
    })
    // From now on every partition refuses the older epochs, including partitions the new
    // epoch has not written yet.
    this.#epochs.set(identity.producerId, identity.epoch)
    return identity
  }

  /** The last sequence a producer appended to a partition (-1 if none): where it resumes. */
  lastSequence(producerId: number, tp: TopicPartition): number {
    const part = this.partition(tp)
    return this.#producerState(`p:${producerId}:${part.topic.id}:${part.partition}`).lastSequence
  }

  /**
   * Commits staged appends, offsets and extra writes in ONE LMDB write transaction.
   *
   * 1. The caller has reserved capacity (backpressure: memory stays bounded) and staged the
   *    batches; from staging to here there is no await, so commits queue in offset order.
   * 2. Queue the writes as one block for LMDB's writer thread, which applies them without
   *    calling back into JS; lmdb-js puts every block queued in one event turn, and whatever
   *    queues while the writer is busy, into one LMDB transaction (group commit). The block
   *    is conditional on the commit sequence: it applies only if every commit queued before
   *    it did, so after a failed commit nothing queued behind it lands (no gap in a
   *    partition, and no output of the runner without the input it read: see readQueued).
   * 3. Inside it: batches, their index entries, each partition's next offset, producer
   *    sequences, group offsets, the extra writes, the next sequence number. All or nothing.
   *    From here the batches are queued: readQueued sees them.
   * 4. Once committed (visible), move each partition's high watermark and wake long-polls.
   * 5. In `sync` durability, acknowledge only after LMDB reports the commit flushed to disk.
   * A failed commit fails the log: offsets were already handed out in memory, so the only
   * safe continuation is to reopen from what is on disk.
   */
  commit(staged: StagedCommit, reserved = 0): Promise<void> {
    try {
      this.#assertOpen()
    } catch (error) {
      this.#release(reserved)
      return Promise.reject(error)
    }
    // 1. (done by the caller, before staging: see reserve)
    const { env, batches, index, partitions, offsets, producers, commits } = this.storage
    if (staged.offsets) {
      // Until step 4, readers keep seeing the offsets as they were before this commit.
      for (const o of staged.offsets) {
        const key = offsetsKey(o.group, o.topic, o.partition)
        if (!this.#visibleOffsets.has(key)) this.#visibleOffsets.set(key, offsets.get(key))
      }
    }
    // 2. + 3.
    const sequence = this.#commitSequence++
    let applied: Promise<boolean>
    try {
      applied = commits.ifVersion(COMMIT_SEQUENCE, sequence, () => {
        for (const a of staged.appends) {
          batches.put(a.key, a.batch)
          index.put(a.key, a.index)
          partitions.put(
            partitionKey(a.part.topic.id, a.part.partition),
            encodePartitionMeta(a.baseOffset + a.count, a.part.startOffset),
          )
          if (a.producer) producers.put(a.producer.key, a.producer.state)
        }
        if (staged.offsets) {
          for (const o of staged.offsets) offsets.put(offsetsKey(o.group, o.topic, o.partition), o.offset)
        }
        if (staged.writes) for (const w of staged.writes) w()
        commits.put(COMMIT_SEQUENCE, sequence + 1, sequence + 1)
      })
      for (const a of staged.appends) a.part.queued.push(a)
      for (const a of staged.appends) a.part.notifyQueued()
    } catch (error) {
      applied = Promise.reject(error)
    }
    // `env.flushed` settles once every write queued so far is on disk; taken now, it covers
    // this transaction. (The promise `ifVersion()` returns has no `flushed` of its own.)
    const flushed = this.durability === 'sync' ? new Promise((res, rej) => env.flushed.then(res, rej)) : null
    flushed?.catch(() => {})
    const done = (async () => {
      try {
        if (!(await applied)) {
          throw new SluiceError(
            'SLUICE_LOG_CLOSED',
            'a commit queued before this one failed, so this one was not applied',
          )
        }
        // 4.
        for (const a of staged.appends) {
          const part = a.part
          const end = a.baseOffset + a.count
          if (end > part.highWatermark) part.highWatermark = end
          // Commits land in queue order: this batch is the oldest still queued.
          if (part.queued[0] === a) part.queued.shift()
          part.bytes += a.batch.length
          part.batches++
        }
        if (staged.offsets) {
          for (const o of staged.offsets)
            this.#visibleOffsets.set(offsetsKey(o.group, o.topic, o.partition), o.offset)
        }
        for (const a of staged.appends) a.part.notify()
        // LMDB has copied each batch into its pages: the encode buffers can be used again.
        for (const a of staged.appends) this.#returnBuffer(a.buffer)
        // 5.
        if (this.durability === 'sync') await flushed
      } catch (error) {
        this.#fail(error as Error)
        throw error
      } finally {
        this.#release(reserved)
      }
    })()
    this.#pending.add(done)
    const settle = () => this.#pending.delete(done)
    done.then(settle, settle)
    return done
  }

  /**
   * Backpressure: waits until `bytes` more fit under the in-flight limit, then reserves them.
   * Callers reserve BEFORE staging, because staging hands out offsets and everything staged
   * must reach LMDB in offset order, with no await between staging and `commit(staged,
   * reserved)`. Reservations are granted in call order (a request waits while an earlier one
   * waits), so two transactions committed one after the other stage in that order even when
   * the first has to wait: the runner relies on it to keep a second commit in flight.
   * One oversized request is let through alone so it cannot wait forever.
   */
  reserve(bytes: number): Promise<number> {
    try {
      this.#assertOpen()
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#reserveQueue.length === 0 && this.#fits(bytes)) {
      this.#inflightBytes += bytes
      return Promise.resolve(bytes)
    }
    return new Promise((resolve, reject) => this.#reserveQueue.push({ bytes, resolve, reject }))
  }

  #fits(bytes: number): boolean {
    return this.#inflightBytes === 0 || this.#inflightBytes + bytes <= this.#maxInflightBytes
  }

  #release(bytes: number): void {
    this.#inflightBytes -= bytes
    const queue = this.#reserveQueue
    while (queue.length > 0) {
      const next = queue[0]!
      if (this.#failure || this.#closed) {
        queue.shift()
        next.reject(
          this.#failure ?? new SluiceError('SLUICE_LOG_CLOSED', `the log at ${this.dataDir} is closed`),
        )
        continue
      }
      if (!this.#fits(next.bytes)) break
      queue.shift()
      this.#inflightBytes += next.bytes
      next.resolve(next.bytes)
    }
  }

  #fail(error: Error): void {
    if (this.#failure) return
    this.#failure = new SluiceError(
      'SLUICE_LOG_CLOSED',
      `the log at ${this.dataDir} failed to commit (${error.message}); reopen it to continue from what is on disk`,
      { cause: error },
    )
  }

  #syncToDisk(): void {
    const env = this.storage.env as unknown as { sync?: (cb: (e?: Error) => void) => void }
    env.sync?.((error) => {
      if (error) this.#fail(error)
    })
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads committed records of a partition from `offset`, synchronously (LMDB reads are
   * memory-mapped). Returns an empty array at the end of the partition.
   */
  read(tp: TopicPartition, offset: number, options: FetchOptions = {}): LogRecord[] {
    return this.#read(tp, offset, options, false)
  }

  /** `lazyBytes`: records as BatchRecords (see decodeBatch); readQueued's. */
  #read(tp: TopicPartition, offset: number, options: FetchOptions, lazyBytes: boolean): LogRecord[] {
    this.#assertOpen()
    const part = this.partition(tp)
    if (offset < part.startOffset || offset > part.highWatermark) {
      throw new SluiceError(
        'SLUICE_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside topic "${tp.topic}" partition ${tp.partition} ` +
          `(stored: ${part.startOffset}..${part.highWatermark - 1}); read from earliest or latest instead`,
      )
    }
    let out: LogRecord[] = []
    if (offset === part.highWatermark) return out
    const maxRecords = options.maxRecords ?? 10_000
    const maxBytes = options.maxBytes ?? 16 * 1024 * 1024
    const { id } = part.topic
    let bytes = 0
    let from = offset
    // The batch the last read stopped inside (see PartitionState.lastBatch).
    const cached = part.lastBatch
    if (cached !== null && cached.base <= offset && cached.lazyBytes === lazyBytes) {
      const records = cached.records
      const lastOffset = records.length > 0 ? records[records.length - 1]!.offset : -1
      if (offset <= lastOffset) {
        let i = 0
        while (records[i]!.offset < offset) i++
        out = takeRecords(out, records, i, maxRecords)
        i += out.length
        if (i === records.length) part.lastBatch = null
        bytes += cached.length
        if (out.length >= maxRecords || bytes >= maxBytes) return out
        from = lastOffset + 1
        if (from >= part.highWatermark) return out
      }
    }
    const { batches } = this.storage
    // Past a cached batch, the next one's key is at least its last offset + 1 (batch keys
    // are base offsets; compaction keeps them).
    const start =
      from === offset ? floorBatchKey(batches, id, tp.partition, offset) : batchKey(id, tp.partition, from)
    for (const { key, value } of batches.getRange({ start, end: batchKey(id, tp.partition + 1, 0) })) {
      const base = baseOffsetOfKey(key)
      if (base >= part.highWatermark) break
      const records = decodedBatch(part, value, base, lazyBytes)
      let i = 0
      while (i < records.length && records[i]!.offset < from) i++
      const before = out.length
      out = takeRecords(out, records, i, maxRecords)
      i += out.length - before
      // Kept only while a read stops inside it: a partition read to a batch's end holds nothing.
      if (i === records.length) part.lastBatch = null
      bytes += value.length
      if (out.length >= maxRecords || bytes >= maxBytes) break
    }
    return out
  }

  /**
   * Reads like `read`, and on past the high watermark into batches queued to LMDB whose
   * commit has not landed yet. Only for a reader whose every effect commits through this log
   * AFTER what it read: the embedded runner. Its commit is queued behind these batches and
   * applies only if they did (the commit sequence, step 2 of `commit()`), so it never
   * commits an output of an input that did not commit; anything else that reads must stay
   * below the high watermark. Reading the queued batch saves the runner one LMDB commit per
   * record: its output commits with the input's batch, or in the next transaction.
   * Records of stored batches come as `BatchRecord`s: their key and value are accessors
   * that make the bytes' view when read (a spread of one drops them).
   */
  readQueued(tp: TopicPartition, offset: number, options: FetchOptions = {}): LogRecord[] {
    this.#assertOpen()
    const part = this.partition(tp)
    if (offset < part.highWatermark) {
      const committed = this.#read(tp, offset, options, true)
      const last = committed[committed.length - 1]
      if (!last || last.offset + 1 < part.highWatermark) return committed
      return this.#readQueuedFrom(part, last.offset + 1, options, committed)
    }
    if (offset > part.nextOffset || offset < part.startOffset) {
      throw new SluiceError(
        'SLUICE_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside topic "${tp.topic}" partition ${tp.partition} ` +
          `(stored and queued: ${part.startOffset}..${part.nextOffset - 1})`,
      )
    }
    return this.#readQueuedFrom(part, offset, options, [])
  }

  #readQueuedFrom(part: PartitionState, from: number, options: FetchOptions, out: LogRecord[]): LogRecord[] {
    const maxRecords = options.maxRecords ?? 10_000
    for (const q of part.queued) {
      if (out.length >= maxRecords) break
      if (q.baseOffset + q.count <= from) continue
      // A copy: the queued batch is in a pooled buffer that is reused once it commits, and
      // the records handed out are views into the bytes they were decoded from.
      decodeBatch(Buffer.from(q.batch), part.tp, q.baseOffset, from, out, maxRecords)
      from = q.baseOffset + q.count
    }
    return out
  }

  async fetch(tp: TopicPartition, offset: number, options: FetchOptions = {}): Promise<LogRecord[]> {
    const records = this.read(tp, offset, options)
    if (records.length > 0 || !options.waitMs) return records
    const part = this.partition(tp)
    if (offset < part.highWatermark) return records
    await waitForAppend([part], options.waitMs)
    if (this.#closed || !this.#topics.has(tp.topic)) return []
    return this.read(tp, offset, options)
  }

  async resolveOffset(tp: TopicPartition, spec: OffsetSpec): Promise<number> {
    const part = this.partition(tp)
    if (spec === 'earliest') return part.startOffset
    if (spec === 'latest') return part.highWatermark
    if ('offset' in spec) return Math.min(Math.max(spec.offset, part.startOffset), part.highWatermark)
    return this.offsetForTime(part, spec.timestamp)
  }

  /** The first offset whose timestamp is at or after `timestamp` (Kafka's ListOffsets). */
  offsetForTime(part: PartitionState, timestamp: number): number {
    const { id } = part.topic
    const range = { start: batchKey(id, part.partition, 0), end: batchKey(id, part.partition + 1, 0) }
    for (const { key, value } of this.storage.index.getRange(range)) {
      if (decodeIndexEntry(value).maxTimestamp < timestamp) continue
      const base = baseOffsetOfKey(key)
      const batch = this.storage.batches.get(key)
      if (!batch) continue
      const records: LogRecord[] = []
      decodeBatch(batch, { topic: part.topic.name, partition: part.partition }, base, 0, records, Infinity)
      const hit = records.find((r) => r.timestamp >= timestamp)
      if (hit) return hit.offset
    }
    return part.highWatermark
  }

  consumer(options: ConsumerOptions): EmbeddedConsumer {
    this.#assertOpen()
    for (const t of options.topics) this.#topic(t)
    return new EmbeddedConsumer(this, options)
  }

  /** Waits until any of the partitions gets new committed records, or `ms` pass. */
  waitForAppend(parts: readonly PartitionState[], ms: number): Promise<void> {
    return waitForAppend(parts, ms)
  }

  /** Waits until any of the partitions gets records queued (see readQueued), or `ms` pass. */
  waitForQueue(parts: readonly PartitionState[], ms: number): Promise<void> {
    return waitForQueue(parts, ms)
  }

  // ---------------------------------------------------------------- groups

  /**
   * A group's committed offsets of a topic. Like Kafka's, they wait for the commits in flight
   * (Kafka holds back offsets of an open transaction as unstable): a task's new owner reads
   * them and must see whatever its previous owner had already committed.
   */
  async committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
    const { parts } = this.#topic(topic)
    if (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
    const result = new Map<number, number>()
    for (const p of parts) {
      const offset = this.committedOffset(group, topic, p.partition)
      if (offset !== undefined) result.set(p.partition, offset)
    }
    return result
  }

  /** A committed group offset as readers see it: together with the records of its commit. */
  committedOffset(group: string, topic: string, partition: number): number | undefined {
    const key = offsetsKey(group, topic, partition)
    return this.#visibleOffsets.has(key) ? this.#visibleOffsets.get(key) : this.storage.offsets.get(key)
  }

  async commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.partition(o)
    this.#assertOpen()
    await this.commit({ appends: [], offsets: offsets.map((o) => ({ group, ...o })) })
  }

  // ---------------------------------------------------------------- upkeep

  /** Applies retention and compaction now (also runs on a timer). */
  async cleanup(now = Date.now()): Promise<{ deletedBatches: number; compactedRecords: number }> {
    this.#assertOpen()
    return runCleanup(this, [...this.#topics.values()], now)
  }

  /** Bytes staged but not yet committed (what backpressure bounds). */
  get inflightBytes(): number {
    return this.#inflightBytes
  }

  get failed(): boolean {
    return this.#failure !== null
  }

  #assertOpen(): void {
    if (this.#failure) throw this.#failure
    if (this.#closed) throw new SluiceError('SLUICE_LOG_CLOSED', `the log at ${this.dataDir} is closed`)
  }

  /** Waits for in-flight commits, flushes to disk and releases the data directory. */
  async close(): Promise<void> {
    if (this.#closed) return
    for (const t of this.#timers) clearInterval(t)
    await this.groups.closeAll()
    await Promise.allSettled([...this.#pending])
    this.#closed = true
    for (const { parts } of this.#topics.values()) {
      for (const p of parts) {
        p.notify()
        p.notifyQueued()
      }
    }
    try {
      if (this.durability === 'interval') {
        await new Promise<void>((r) => {
          const env = this.storage.env as unknown as { sync?: (cb: () => void) => void }
          if (env.sync) env.sync(() => r())
          else r()
        })
      }
      await this.storage.env.close()
    } finally {
      this.#releaseLock()
    }
  }
}

function positiveOrNull(value: number | undefined, topic: string, what: string): number | null {
  if (value === undefined) return null
  if (!Number.isFinite(value) || value <= 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `topic "${topic}": ${what} must be a positive number, got ${value}`,
    )
  }
  return value
}

/** Opens (creating if needed) the embedded log in a data directory. */
export function openEmbeddedLog(options: EmbeddedLogOptions = {}): Promise<EmbeddedLog> {
  return EmbeddedLog.open(options)
}

/**
 * `out` with `records[from..]` added, up to `maxRecords` in all: a slice when `out` is empty
 * (one copy, not a push per record), else `out` itself.
 */
function takeRecords(
  out: LogRecord[],
  records: readonly LogRecord[],
  from: number,
  maxRecords: number,
): LogRecord[] {
  const n = Math.min(records.length - from, maxRecords - out.length)
  if (n <= 0) return out
  if (out.length === 0) return records.slice(from, from + n)
  for (let k = 0; k < n; k++) out.push(records[from + k]!)
  return out
}

/** Every record of a stored batch, decoded once for consecutive reads (see PartitionState.lastBatch). */
function decodedBatch(part: PartitionState, value: Buffer, base: number, lazyBytes: boolean): LogRecord[] {
  const crc = value.length >= 8 ? value.readUInt32LE(4) : -1
  const last = part.lastBatch
  if (
    last !== null &&
    last.base === base &&
    last.length === value.length &&
    last.crc === crc &&
    last.lazyBytes === lazyBytes
  )
    return last.records
  const records: LogRecord[] = []
  decodeBatch(value, part.tp, base, base, records, Number.POSITIVE_INFINITY, true, lazyBytes)
  part.lastBatch = { base, length: value.length, crc, records, lazyBytes }
  return records
}

/** A batch staged for the next commit, with its index entry (a batch without timestamps: `now`). */
function stagedAppend(
  part: PartitionState,
  batch: Buffer,
  baseOffset: number,
  count: number,
  buffer: Buffer,
  now: number,
): StagedAppend {
  let maxTimestamp = batch.readDoubleLE(24)
  if (!(maxTimestamp >= 0)) maxTimestamp = now
  return {
    part,
    key: batchKey(part.topic.id, part.partition, baseOffset),
    batch,
    index: encodeIndexEntry({ lastOffsetDelta: count - 1, count, bytes: batch.length, maxTimestamp }),
    baseOffset,
    count,
    buffer,
  }
}

function noKey(part: PartitionState, i: number): SluiceError {
  return new SluiceError(
    'SLUICE_INVALID_INPUT',
    `record ${i} for compacted topic "${part.topic.name}" has no key; compaction keeps the latest value per key, so every record needs one`,
  )
}

function tooLarge(part: PartitionState, i: number, size: number): SluiceError {
  return new SluiceError(
    'SLUICE_RECORD_TOO_LARGE',
    `record ${i} for topic "${part.topic.name}" is ${size} bytes; the topic accepts at most ${part.topic.maxRecordBytes}. ` +
      'Make the record smaller, or create the topic with a larger --max-record-bytes.',
  )
}
