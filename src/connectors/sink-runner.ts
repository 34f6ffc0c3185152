/**
 * Runs one sink: reads its topic as the consumer group `sluice-connect.<name>` (so on Kafka the
 * workers share its partitions), decodes and validates each record with the topic's codec and
 * schema, and hands batches to the sink.
 *
 * Exactly-once sinks keep their own positions: at every (re)assignment, and after every failed
 * write, Sluice asks the sink where each partition stands and seeks there — so a batch whose
 * write failed after it committed is not written again, and one that did not commit is. The
 * group offsets are committed too, for lag figures only.
 */
import type { TopicDef } from '../dsl/topic.ts'
import type { Consumer, Log, LogRecord, Producer, ProducerRecord } from '../log/types.ts'
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
  try {
    // Where the sink's store stands per owned partition; cleared to force a re-read.
    const stands = new Map<number, number>()
    let generation = -1
    let resync = true
    let attempt = 0
    while (!signal.aborted) {
      const polled = await consumer.poll({
        maxRecords: sink.batchSize ?? 1_000,
        waitMs: options.pollWaitMs ?? 250,
      })
      if (signal.aborted) break
      if (consumer.generation() !== generation || resync) {
        generation = consumer.generation()
        resync = false
        stands.clear()
        if (sink.guarantee === 'exactly-once') {
          // What was polled came from the group's offsets; the sink's store is the truth.
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
          }
          continue
        }
      }
      if (polled.length === 0) continue
      const batch = decodeBatch(def, polled, consumer, stands)
      if (batch.invalid.length > 0) await deadLetter(batch.invalid)
      try {
        writing = polled
        await sink.write(batch)
        attempt = 0
        status.state = 'running'
        status.records += batch.records.length
        for (const [p, { to }] of batch.positions) stands.set(p, to)
        await consumer.commit()
      } catch (error) {
        if (signal.aborted) break
        status.state = 'retrying'
        status.lastError = (error as Error).message
        status.errors++
        if (!(error instanceof StalePositionError)) await sleep(backoffMs(attempt++), signal)
        if (sink.guarantee === 'exactly-once') {
          resync = true // re-read positions: the write may or may not have committed
        } else {
          // Read the batch again from where the group committed.
          for (const tp of consumer.assignment()) {
            const at = stands.get(tp.partition)
            if (at !== undefined) consumer.seek(tp, at)
            else consumer.seek(tp, await restoredPosition(log, consumer.group, tp))
          }
        }
      }
    }
  } finally {
    await consumer.close().catch(() => {})
    await dlq?.then((p) => p.close()).catch(() => {})
    await sink.close()
  }
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
}

function decodeBatch<T>(
  def: TopicDef<T>,
  polled: readonly LogRecord[],
  consumer: Consumer,
  stands: ReadonlyMap<number, number>,
): Decoded<T> {
  const records: SinkRecord<T>[] = []
  const invalid: { record: LogRecord; error: string }[] = []
  const positions = new Map<number, { from: number; to: number }>()
  for (const r of polled) {
    if (!positions.has(r.partition)) {
      const to = consumer.position({ topic: def.name, partition: r.partition }) ?? polled.at(-1)!.offset + 1
      positions.set(r.partition, { from: stands.get(r.partition) ?? r.offset, to })
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
  return { records, positions, invalid }
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
