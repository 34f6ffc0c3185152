/**
 * Runs one source: gives it a context whose `append` validates, keys and encodes records for
 * the target topic and appends them. A batch with a checkpoint commits in one log transaction
 * with that checkpoint (a record keyed by the connector's name in the compacted topic
 * `__sluice_connector_checkpoints`), so a restarted source resumes exactly after the last batch
 * that landed: nothing skipped, nothing twice.
 */
import { readToEnd } from '../log/read-to-end.ts'
import type { Log, ProducerRecord, RecordMetadata } from '../log/types.ts'
import { ensureTopic } from '../runtime/topics.ts'
import type { SourceConnector } from './connect.ts'
import { encodeRecord, InvalidRecordError } from './encode.ts'
import { backoffMs, type ConnectorStatus, deadLetterHeaders, sleep } from './status.ts'
import type { SourceContext, SourceDeadLetter, SourceRecord } from './types.ts'

export const CHECKPOINT_TOPIC = '__sluice_connector_checkpoints'

export interface SourceRunOptions {
  signal: AbortSignal
  status: ConnectorStatus
  report?: (message: string) => void
}

/** Runs the source until the signal aborts or it ends; restarts it with backoff when it throws. */
export async function runSource<T>(
  log: Log,
  connector: SourceConnector<T>,
  options: SourceRunOptions,
): Promise<void> {
  const { topic: def, source, name } = connector
  const { signal, status } = options
  if (!(await log.hasTopic(def.name))) await ensureTopic(log, def.name, { partitions: def.partitions ?? 1 })
  await ensureTopic(log, CHECKPOINT_TOPIC, { partitions: 1, compact: true })
  const dlqTopic = `${name}-dlq`
  const producer = log.producer()
  let dlqReady = false
  let checkpoint = await readCheckpoint(log, name)
  let attempt = 0
  try {
    while (!signal.aborted) {
      const context: SourceContext<T> = {
        connector: name,
        topic: def.name,
        signal,
        checkpoint,
        report: (message) => options.report?.(`${name}: ${message}`),
        append: async (records, appendOptions = {}) => {
          const { good, bad } = encodeAll(def, records, name)
          for (const d of appendOptions.deadLetters ?? []) bad.push(rejectedInput(d, name))
          if (bad.length > 0 && !dlqReady) {
            await ensureTopic(log, dlqTopic, { partitions: 1 })
            dlqReady = true
          }
          let metadata: RecordMetadata[]
          if (appendOptions.checkpoint !== undefined) {
            const tx = log.transaction({ id: `sluice-connect.${name}` })
            if (good.length > 0) tx.send(def.name, good)
            if (bad.length > 0) tx.send(dlqTopic, bad)
            tx.send(CHECKPOINT_TOPIC, {
              key: Buffer.from(name),
              value: Buffer.from(appendOptions.checkpoint),
            })
            metadata = (await tx.commit()).get(def.name) ?? []
            checkpoint = appendOptions.checkpoint
          } else {
            metadata = good.length > 0 ? await producer.send(def.name, good) : []
            if (bad.length > 0) await producer.send(dlqTopic, bad)
          }
          status.records += good.length
          status.deadLetters += bad.length
          status.state = 'running'
          attempt = 0
          return metadata
        },
      }
      try {
        status.state = 'running'
        await source.run(context)
        if (!signal.aborted) status.state = 'done'
        return
      } catch (error) {
        if (signal.aborted) return
        status.state = 'retrying'
        status.errors++
        status.lastError = (error as Error).message
        options.report?.(`${name}: ${source.type} source failed, restarting: ${(error as Error).message}`)
        await sleep(backoffMs(attempt++), signal)
        checkpoint = await readCheckpoint(log, name)
      }
    }
  } finally {
    await producer.close().catch(() => {})
  }
}

function encodeAll<T>(
  def: SourceConnector<T>['topic'],
  records: readonly SourceRecord<T>[],
  connector: string,
): { good: ProducerRecord[]; bad: ProducerRecord[] } {
  const good: ProducerRecord[] = []
  const bad: ProducerRecord[] = []
  for (const r of records) {
    try {
      good.push(encodeRecord(def, r))
    } catch (error) {
      if (!(error instanceof InvalidRecordError)) throw error
      bad.push({
        key: typeof r.key === 'string' ? Buffer.from(r.key) : null,
        value: Buffer.from(safeJson(r.value)),
        headers: { ...r.headers, ...deadLetterHeaders(connector, error.message) },
      })
    }
  }
  return { good, bad }
}

function rejectedInput(d: SourceDeadLetter, connector: string): ProducerRecord {
  return {
    key: typeof d.key === 'string' ? Buffer.from(d.key) : null,
    value: typeof d.value === 'string' ? Buffer.from(d.value) : d.value,
    headers: { ...d.headers, ...deadLetterHeaders(connector, d.error) },
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The last checkpoint a connector stored, read from the compacted checkpoint topic. */
export async function readCheckpoint(log: Log, connector: string): Promise<string | undefined> {
  const tp = { topic: CHECKPOINT_TOPIC, partition: 0 }
  let found: string | undefined
  await readToEnd(log, tp, await log.resolveOffset(tp, 'earliest'), (r) => {
    if (r.key !== null && Buffer.from(r.key).toString() === connector) {
      found = r.value === null ? undefined : Buffer.from(r.value).toString()
    }
  })
  return found
}
