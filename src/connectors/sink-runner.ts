/**
 * Runs one sink: reads its topic as the consumer group `sluice-connect.<name>` (so on Kafka the
 * workers share its partitions), decodes and validates each record with the topic's codec and
 * schema, and hands batches to the sink.
 *
 * Exactly-once sinks keep their own positions: at every (re)assignment, and after every failed
 * write, Sluice asks the sink where each partition stands and seeks there — so a batch whose
 * write failed after it committed is not written again, and one that did not commit is. The
 * group offsets are committed too, for lag figures only, so at most once a second
 * (`GROUP_COMMIT_MS`) rather than after every batch: each is a durable write to the log.
 *
 * Exactly-once sinks are also read ahead: while batch N is being written, the next one is
 * polled, decoded and handed to `sink.prepare`, so that work overlaps the store's. Batch N+1
 * starts where N ends (`from` = N's `to`) and is written only once N's write has resolved; when
 * N fails, N+1 is dropped and read again after the positions are re-read. At most one batch is
 * read ahead, and never in a round that commits the group offsets: those are the consumer's
 * position, which must not include a batch that is not written.
 */
import type { TopicDef } from '../dsl/topic.ts'
import type { Consumer, Log, LogRecord, PollOptions, Producer, ProducerRecord } from '../log/types.ts'
import { ensureTopic, restoredPosition } from '../runtime/topics.ts'
import type { SinkConnector } from './connect.ts'
import { backoffMs, type ConnectorStatus, deadLetterHeaders, sleep } from './status.ts'
import { type Sink, type SinkBatch, type SinkRecord, StalePositionError } from './types.ts'

export interface SinkRunOptions {
  signal: AbortSignal
  status: ConnectorStatus
  /** Longest wait for records before an empty poll returns (ms). */
  pollWaitMs?: number
}

/** How often an exactly-once sink's group offsets are committed (lag figures only). */
const GROUP_COMMIT_MS = 1_000

export async function runSink<T>(
  log: Log,
  connector: SinkConnector<T>,
  options: SinkRunOptions,
): Promise<void> {
  const { topic: def, sink, name } = connector
  const { signal, status } = options
  if (!(await log.hasTopic(def.name))) await ensureTopic(log, def.name, { partitions: def.partitions ?? 1 })
  const partitions = (await log.describeTopic(def.name)).partitionDetails.length
  const dlqTopic = `${name}-dlq`
  let dlq: Promise<Producer> | undefined
  const deadLetter = async (invalid: readonly { record: LogRecord; error: string }[]) => {
    dlq ??= ensureTopic(log, dlqTopic, { partitions: 1 }).then(() => log.producer())
    await sendDeadLetters(await dlq, dlqTopic, name, invalid)
    status.deadLetters += invalid.length
  }
  // The polled records of the batch being written: a sink's dead letters keep their original bytes.
  let writing: readonly LogRecord[] = []
  await sink.open({
    connector: name,
    topic: def.name,
    partitions,
    signal,
    deadLetter: (records, error) => {
      const polled = new Map(writing.map((r) => [`${r.partition}:${r.offset}`, r]))
      return deadLetter(
        records.map((r) => ({
          record: polled.get(`${r.partition}:${r.offset}`) ?? reencode(def, r),
          error,
        })),
      )
    },
  })
  const consumer = log.consumer({ group: `sluice-connect.${name}`, topics: [def.name], reset: 'earliest' })
  const exactlyOnce = sink.guarantee === 'exactly-once'
  const poll: PollOptions = { maxRecords: sink.batchSize ?? 1_000, waitMs: options.pollWaitMs ?? 250 }
  // Where the sink's store stands per owned partition; cleared to force a re-read.
  const stands = new Map<number, number>()
  // Where the next batch starts per partition: `stands`, moved on by a batch read ahead.
  let reading = new Map<number, number>()
  let generation = -1
  let resync = true
  let attempt = 0
  // The batch read ahead (exactly-once sinks), settled or in flight.
  let ahead: Promise<Decoded<T> | undefined> | undefined
  // The first commit is due a second in, so the first batches are read ahead too.
  let groupCommittedAt = Date.now()
  let groupBehind = false
  const read = async (): Promise<Decoded<T> | undefined> => {
    const polled = await pollUnlessAborted(consumer, poll, signal)
    // A rebalance during the poll: the loop re-reads positions and polls again.
    if (!polled?.length || consumer.generation() !== generation) return undefined
    const batch = decodeBatch(def, polled, consumer, reading)
    try {
      sink.prepare?.(batch)
    } catch {
      // write() does the same work again and reports what went wrong.
    }
    return batch
  }
  const dropAhead = async () => {
    await ahead?.catch(() => undefined)
    ahead = undefined
  }
  try {
    while (!signal.aborted) {
      if (consumer.generation() !== generation || resync) {
        await dropAhead()
        generation = consumer.generation()
        resync = false
        stands.clear()
        if (exactlyOnce) {
          // The group's offsets are not where this sink stands; the sink's store is the truth.
          try {
            for (const [p, at] of await seekToStored(log, consumer, sink)) stands.set(p, at)
          } catch (error) {
            // The store is unreachable (often the outage that just failed a write): retry, as a write.
            if (signal.aborted) break
            resync = true
            status.state = 'retrying'
            status.lastError = (error as Error).message
            status.errors++
            await sleep(backoffMs(attempt++), signal)
            continue
          }
        }
        reading = new Map(stands)
      }
      const batch = await (ahead ?? read())
      ahead = undefined
      if (signal.aborted) break
      if (!batch) continue
      if (batch.invalid.length > 0) await deadLetter(batch.invalid)
      const commitGroup = !exactlyOnce || Date.now() - groupCommittedAt >= GROUP_COMMIT_MS
      writing = batch.polled
      const written = sink.write(batch)
      if (!commitGroup) {
        // On the next turn of the event loop: by then the write has sent its statements (started
        // now, reading and preparing would run first and hold the send back).
        ahead = new Promise<void>((resolve) => setImmediate(resolve)).then(read)
        ahead.catch(() => {}) // surfaces where it is awaited; never an unhandled rejection
      }
      try {
        await written
        attempt = 0
        status.state = 'running'
        status.records += batch.records.length
        for (const [p, { to }] of batch.positions) stands.set(p, to)
        groupBehind = true
        if (commitGroup) {
          await consumer.commit()
          groupCommittedAt = Date.now()
          groupBehind = false
        }
      } catch (error) {
        await dropAhead()
        // A failed write may have committed: at stop, the store is asked where it stands.
        resync = true
        // Counted even when a stop came meanwhile: the write did fail.
        status.lastError = (error as Error).message
        status.errors++
        if (signal.aborted) break
        status.state = 'retrying'
        if (!(error instanceof StalePositionError)) await sleep(backoffMs(attempt++), signal)
        if (!exactlyOnce) {
          resync = false
          // Read the batch again from where the group committed.
          for (const tp of consumer.assignment()) {
            const at = stands.get(tp.partition)
            if (at !== undefined) consumer.seek(tp, at)
            else consumer.seek(tp, await restoredPosition(log, consumer.group, tp))
          }
          reading = new Map(stands)
        }
      }
    }
  } finally {
    await dropAhead()
    const unsure = exactlyOnce && resync && generation >= 0
    if (unsure) await reReadStands(consumer, sink, stands).catch(() => {})
    if (exactlyOnce && (groupBehind || unsure)) await commitWritten(consumer, stands).catch(() => {})
    await consumer.close().catch(() => {})
    await dlq?.then((p) => p.close()).catch(() => {})
    await sink.close()
  }
}

/**
 * Polls, or resolves `undefined` as soon as `signal` aborts: a long poll waiting for records
 * would otherwise hold `stop()` up for its whole wait. The poll left behind ends on its own
 * (a closed consumer returns nothing).
 */
function pollUnlessAborted(
  consumer: Consumer,
  options: PollOptions,
  signal: AbortSignal,
): Promise<LogRecord[] | undefined> {
  if (signal.aborted) return Promise.resolve(undefined)
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined)
    signal.addEventListener('abort', onAbort, { once: true })
    consumer.poll(options).then(
      (records) => {
        signal.removeEventListener('abort', onAbort)
        resolve(records)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * Commits the group offsets of an exactly-once sink at stop: where its store stands, not where
 * the consumer has read to (a batch read ahead is not written).
 */
async function commitWritten(consumer: Consumer, stands: ReadonlyMap<number, number>): Promise<void> {
  for (const tp of consumer.assignment()) {
    const at = stands.get(tp.partition)
    if (at !== undefined) consumer.seek(tp, at)
  }
  await consumer.commit()
}

/**
 * At a stop that interrupted a failed write whose outcome is unknown (it may have committed
 * before the connection dropped): where the store stands, so the group offsets match it. When
 * the store does not answer, `stands` keeps the last known positions — behind, never ahead.
 */
async function reReadStands<T>(
  consumer: Consumer,
  sink: Sink<T>,
  stands: Map<number, number>,
): Promise<void> {
  const owned = consumer.assignment().map((tp) => tp.partition)
  for (const [p, at] of await sink.positions!(owned)) stands.set(p, at)
}

/** Seeks each owned partition to where the sink's store stands; returns those positions. */
async function seekToStored<T>(log: Log, consumer: Consumer, sink: Sink<T>): Promise<Map<number, number>> {
  const owned = consumer.assignment()
  const stored = await sink.positions!(owned.map((tp) => tp.partition))
  const at = new Map<number, number>()
  for (const tp of owned) {
    // Retention may have removed what the store points at: resume at what is left.
    const start = await log.resolveOffset(tp, 'earliest')
    const offset = Math.max(stored.get(tp.partition) ?? start, start)
    consumer.seek(tp, offset)
    at.set(tp.partition, offset)
  }
  return at
}

interface Decoded<T> extends SinkBatch<T> {
  invalid: { record: LogRecord; error: string }[]
  /** The records as polled, for dead letters that keep their original bytes. */
  polled: readonly LogRecord[]
}

/** Decodes a polled batch; `reading` (where each partition's next batch starts) moves to its end. */
function decodeBatch<T>(
  def: TopicDef<T>,
  polled: readonly LogRecord[],
  consumer: Consumer,
  reading: Map<number, number>,
): Decoded<T> {
  const records: SinkRecord<T>[] = []
  const invalid: { record: LogRecord; error: string }[] = []
  const positions = new Map<number, { from: number; to: number }>()
  for (const r of polled) {
    if (!positions.has(r.partition)) {
      const to = consumer.position({ topic: def.name, partition: r.partition }) ?? polled.at(-1)!.offset + 1
      positions.set(r.partition, { from: reading.get(r.partition) ?? r.offset, to })
    }
    const value = decodeValue(def, r)
    if (typeof value === 'string') invalid.push({ record: r, error: value })
    else
      records.push({
        value: value.value,
        key: r.key === null ? null : Buffer.from(r.key).toString(),
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        headers: r.headers,
      })
  }
  for (const [p, { to }] of positions) reading.set(p, to)
  return { records, positions, invalid, polled }
}

function decodeValue<T>(def: TopicDef<T>, r: LogRecord): { value: T } | string {
  if (r.value === null) return 'tombstone (null value): a sink writes values'
  let value: unknown
  try {
    value = def.codec.decode(r.value)
  } catch (e) {
    return `value could not be decoded: ${(e as Error).message}`
  }
  if (def.schema) {
    const result = def.schema['~standard'].validate(value)
    if (result instanceof Promise)
      return 'the topic schema validates asynchronously; Sluice needs a synchronous schema'
    if (result.issues) return `schema validation failed: ${result.issues.map((i) => i.message).join('; ')}`
    value = result.value
  }
  return { value: value as T }
}

/** A record the sink named that is not in the batch being written: encoded again from its value. */
function reencode<T>(def: TopicDef<T>, r: SinkRecord<unknown>): LogRecord {
  return {
    topic: def.name,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : Buffer.from(r.key),
    value: def.codec.encode(r.value as T),
    headers: r.headers,
  }
}

async function sendDeadLetters(
  producer: Producer,
  topic: string,
  connector: string,
  invalid: readonly { record: LogRecord; error: string }[],
): Promise<void> {
  const records: ProducerRecord[] = invalid.map(({ record, error }) => ({
    key: record.key,
    value: record.value,
    headers: {
      ...deadLetterHeaders(connector, error),
      'sluice-source-topic': record.topic,
      'sluice-source-partition': String(record.partition),
      'sluice-source-offset': String(record.offset),
    },
  }))
  await producer.send(topic, records)
}
