/**
 * The ingest path behind `POST /topics/:topic/events`: requests that arrive while a commit is
 * in flight wait and go together into the next one — one log transaction holding every record
 * of every waiting request (group commit). So a request is all-or-nothing whatever partitions
 * its records land in, and throughput grows with concurrency instead of paying one commit per
 * request.
 *
 * Idempotency: a request with an `Idempotency-Key` also writes that key and its response to the
 * compacted topic `__sluice_ingest_keys`, in the same transaction as its records. A retry with
 * the same key gets the stored response and appends nothing — also after a restart, since the
 * keys of the last `idempotencyTtlMs` are read back at start.
 *
 * Backpressure: waiting requests are bounded by bytes; past the bound `submit` refuses at once
 * (the route answers 429 with Retry-After) rather than queueing without limit.
 */
import { readToEnd } from '../log/read-to-end.ts'
import type { Log, Producer, ProducerRecord, RecordMetadata } from '../log/types.ts'
import { ensureTopic } from '../runtime/topics.ts'

export const IDEMPOTENCY_TOPIC = '__sluice_ingest_keys'

export interface IngestResult {
  topic: string
  /**
   * Where each record landed, in request order. `null` on the replay of a request whose
   * response was not stored (the server stopped between its commit and storing the response):
   * its records are in the log, at offsets this server cannot name.
   */
  records: RecordMetadata[] | null
}

export interface IngestorOptions {
  /** Most bytes of records waiting for a commit before requests are refused (default 64 MiB). */
  maxQueuedBytes?: number
  /** How long an Idempotency-Key is remembered (default 24 h). */
  idempotencyTtlMs?: number
  /** Names this server's transactions (on Kafka, its transactional id). */
  instanceId?: string
}

interface Pending {
  topic: string
  records: ProducerRecord[]
  bytes: number
  idempotencyKey: string | undefined
  resolve: (result: IngestResult) => void
  reject: (error: Error) => void
}

export class Overloaded extends Error {
  readonly queuedBytes: number

  constructor(queuedBytes: number) {
    super(`ingest is behind: ${queuedBytes} bytes wait for the log; retry shortly`)
    this.queuedBytes = queuedBytes
  }
}

export class Ingestor {
  readonly #log: Log
  readonly #maxQueuedBytes: number
  readonly #ttlMs: number
  readonly #txId: string
  #queue: Pending[] = []
  #queuedBytes = 0
  #committing = false
  /** Idempotency key → its response, and when it was stored (for the TTL). */
  readonly #done = new Map<string, { result: IngestResult; at: number }>()
  /** Idempotency key → the request in flight with it, so a concurrent retry waits for it. */
  readonly #inFlight = new Map<string, Promise<IngestResult>>()
  #sweep: NodeJS.Timeout | undefined
  #loading: Promise<void> | null = null
  #closed = false
  #producer: Producer | undefined

  constructor(log: Log, options: IngestorOptions = {}) {
    this.#log = log
    this.#maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024
    this.#ttlMs = options.idempotencyTtlMs ?? 24 * 60 * 60 * 1000
    this.#txId = `sluice-ingest.${options.instanceId ?? 'server'}`
  }

  /** Creates the idempotency topic if needed and reads back the keys still within the TTL. */
  /**
   * Creates the idempotency topic if needed and reads back the keys still within the TTL —
   * once, on the first request with an Idempotency-Key: a server whose clients never send one
   * never touches the topic (a Kafka worker may have no ACL for it). A failure is retried by the
   * next such request.
   */
  #loadKeys(): Promise<void> {
    this.#loading ??= this.#load().catch((error) => {
      this.#loading = null
      throw error
    })
    return this.#loading
  }

  async #load(): Promise<void> {
    if (!(await this.#log.hasTopic(IDEMPOTENCY_TOPIC))) {
      await ensureTopic(this.#log, IDEMPOTENCY_TOPIC, {
        partitions: 1,
        compact: true,
        retentionMs: this.#ttlMs,
      })
    }
    const tp = { topic: IDEMPOTENCY_TOPIC, partition: 0 }
    const since = Date.now() - this.#ttlMs
    await readToEnd(this.#log, tp, await this.#log.resolveOffset(tp, { timestamp: since }), (r) => {
      if (r.key === null || r.value === null || r.timestamp < since) return
      this.#done.set(Buffer.from(r.key).toString(), {
        result: JSON.parse(Buffer.from(r.value).toString()) as IngestResult,
        at: r.timestamp,
      })
    })
    this.#sweep = setInterval(() => this.#forgetOld(), 60_000)
    this.#sweep.unref()
  }

  /**
   * The response of an earlier request with this key, if it is remembered (waiting for it when
   * it is in flight). Rejects when the remembered keys cannot be read (the log refuses the
   * idempotency topic): the request must not go ahead unchecked.
   */
  async replay(idempotencyKey: string): Promise<IngestResult | undefined> {
    await this.#loadKeys()
    return this.#inFlight.get(idempotencyKey) ?? this.#done.get(idempotencyKey)?.result
  }

  get queuedBytes(): number {
    return this.#queuedBytes
  }

  /**
   * Appends one request's records (already validated and encoded) atomically. Rejects with
   * Overloaded at once when too much is waiting.
   */
  submit(
    topic: string,
    records: ProducerRecord[],
    bytes: number,
    idempotencyKey?: string,
  ): Promise<IngestResult> {
    if (this.#closed) return Promise.reject(new Error('the server is shutting down'))
    if (this.#queuedBytes > 0 && this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      return Promise.reject(new Overloaded(this.#queuedBytes))
    }
    const promise = new Promise<IngestResult>((resolve, reject) => {
      this.#queue.push({ topic, records, bytes, idempotencyKey, resolve, reject })
    })
    this.#queuedBytes += bytes
    if (idempotencyKey !== undefined) {
      this.#inFlight.set(idempotencyKey, promise)
      const clear = () => this.#inFlight.delete(idempotencyKey)
      promise.then(clear, clear)
    }
    if (!this.#committing) void this.#commitLoop()
    return promise
  }

  async #commitLoop(): Promise<void> {
    this.#committing = true
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue
        this.#queue = []
        await this.#commit(group)
        for (const p of group) this.#queuedBytes -= p.bytes
      }
    } finally {
      this.#committing = false
    }
  }

  async #commit(group: Pending[]): Promise<void> {
    const tx = this.#log.transaction({ id: this.#txId })
    // Where each request's records start in its topic's metadata list (send order per topic).
    const starts: number[] = []
    const sent = new Map<string, number>()
    const now = Date.now()
    for (const p of group) {
      const before = sent.get(p.topic) ?? 0
      starts.push(before)
      sent.set(p.topic, before + p.records.length)
      tx.send(p.topic, p.records)
    }
    // The key goes into the transaction — that is what makes a retry append nothing. Its
    // response needs the offsets the commit decides, so it follows in a second write under the
    // same key; a crash between the two leaves a key whose replay cannot name its offsets.
    let metadata: Map<string, RecordMetadata[]>
    try {
      for (const p of group) {
        if (p.idempotencyKey === undefined) continue
        tx.send(IDEMPOTENCY_TOPIC, {
          key: Buffer.from(p.idempotencyKey),
          value: Buffer.from(JSON.stringify({ topic: p.topic, records: null })),
          timestamp: now,
        })
      }
      metadata = await tx.commit()
    } catch (error) {
      for (const p of group) p.reject(error as Error)
      return
    }
    const responses: ProducerRecord[] = []
    for (const [i, p] of group.entries()) {
      const list = metadata.get(p.topic) ?? []
      const result: IngestResult = {
        topic: p.topic,
        records: list.slice(starts[i]!, starts[i]! + p.records.length),
      }
      if (p.idempotencyKey !== undefined) {
        this.#done.set(p.idempotencyKey, { result, at: now })
        responses.push({
          key: Buffer.from(p.idempotencyKey),
          value: Buffer.from(JSON.stringify(result)),
          timestamp: now,
        })
      }
      p.resolve(result)
    }
    if (responses.length > 0) {
      this.#producer ??= this.#log.producer()
      await this.#producer.send(IDEMPOTENCY_TOPIC, responses).catch(() => {})
    }
  }

  #forgetOld(): void {
    const since = Date.now() - this.#ttlMs
    for (const [key, { at }] of this.#done) {
      if (at >= since) break // insertion order is time order
      this.#done.delete(key)
    }
  }

  /** Waits for what is queued to commit; refuses new requests. */
  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#sweep)
    while (this.#committing) await new Promise((r) => setTimeout(r, 5))
    await this.#producer?.close()
  }
}
