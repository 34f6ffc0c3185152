/**
 * The parts every demo's feed shares: send generated records at a steady rate with progress
 * lines, read an output topic as it grows, and wait for the pipeline to catch up before
 * scoring.
 */
import type { TopicDef } from '../../dsl/topic.ts'
import type { Log, ProducerRecord } from '../../log/types.ts'
import type { PipelineStatus } from '../../runtime/runner.ts'
import { formatCount, printErr } from '../output.ts'
import type { DemoRun, DemoTopics } from './spec.ts'

const TICK_MS = 20
const PROGRESS_MS = 5_000
/** Longest wait for the pipeline to process what was sent before scoring anyway. */
const DRAIN_MS = 60_000

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The lowest watermark over the pipelines: event time up to which results are final. */
export function watermarkOf(status: readonly PipelineStatus[]): number {
  return Math.min(...status.map((s) => s.watermark))
}

export function lagOf(status: readonly PipelineStatus[]): number {
  return status.reduce((n, s) => n + s.lag, 0)
}

/** The values of an output topic, read from the start as they are committed. */
export interface Collected<V> {
  readonly values: V[]
  /** Waits until nothing new arrived for half a second: the last commit's results are in. */
  settle(): Promise<void>
  close(): Promise<void>
}

export function collect<V>(log: Log, topic: TopicDef<V>): Collected<V> {
  const values: V[] = []
  const consumer = log.consumer({
    group: `sluice-demo-read-${process.pid}-${Date.now().toString(36)}-${topic.name}`,
    topics: [topic.name],
    reset: 'earliest',
  })
  let reading = true
  const loop = (async () => {
    while (reading) {
      const records = await consumer.poll({ maxRecords: 1_000, waitMs: 200 })
      for (const r of records) if (r.value) values.push(topic.codec.decode(r.value))
    }
  })()
  return {
    values,
    async settle() {
      let seen: number
      do {
        seen = values.length
        await sleep(500)
      } while (values.length !== seen)
    },
    async close() {
      reading = false
      await loop.catch(() => {})
      await consumer.close()
    },
  }
}

/** What `pace` takes from a demo run: where to send, how fast, and when to stop. */
export function paceOf(
  run: DemoRun<DemoTopics>,
): Pick<PaceOptions, 'log' | 'rate' | 'events' | 'durationMs' | 'signal'> {
  return {
    log: run.log,
    rate: run.rate,
    signal: run.signal,
    ...(run.events === undefined ? {} : { events: run.events }),
    ...(run.durationMs === undefined ? {} : { durationMs: run.durationMs }),
  }
}

/** After the feed: the pipelines catch up with what was sent, and each output's last commit is read. */
export async function settle(
  runner: { status(): PipelineStatus[] },
  signal: AbortSignal,
  ...outputs: Array<Collected<unknown>>
): Promise<void> {
  await drain(runner, signal)
  for (const o of outputs) await o.settle()
}

export interface PaceOptions {
  log: Log
  rate: number
  events?: number
  durationMs?: number
  signal: AbortSignal
  /** The next generated record and the topic it goes to. */
  next(): { topic: string; record: ProducerRecord }
  /** Called every 5 s with what was sent so far and the rate achieved. */
  progress(sent: number, perSecond: number): void
}

/**
 * Sends `next()` records at `rate` per second until `events` were sent, `durationMs` passed or
 * the signal aborts; returns how many were sent. Batches are small enough to keep the pace
 * smooth; records are produced in order, per topic.
 */
export async function pace(options: PaceOptions): Promise<number> {
  const { log, rate, signal } = options
  const producer = log.producer()
  const started = Date.now()
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs
  const limit = options.events ?? Number.POSITIVE_INFINITY
  let sent = 0
  let lastProgress = started
  try {
    while (sent < limit && Date.now() < deadline && !signal.aborted) {
      const due = Math.min(limit, Math.floor(((Date.now() - started) * rate) / 1000))
      const batches = new Map<string, ProducerRecord[]>()
      let n = 0
      while (sent + n < due && n < Math.max(100, rate / 10)) {
        const { topic, record } = options.next()
        const batch = batches.get(topic)
        if (batch) batch.push(record)
        else batches.set(topic, [record])
        n++
      }
      if (n > 0) {
        for (const [topic, batch] of batches) await producer.send(topic, batch)
        sent += n
      } else {
        await sleep(TICK_MS)
      }
      if (Date.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = Date.now()
        options.progress(sent, sent / Math.max((Date.now() - started) / 1000, 0.001))
      }
    }
    await producer.flush()
    return sent
  } finally {
    await producer.close()
  }
}

/** Waits until the pipelines processed everything sent (lag 0 twice in a row), or gives up. */
export async function drain(runner: { status(): PipelineStatus[] }, signal: AbortSignal): Promise<void> {
  const giveUp = Date.now() + DRAIN_MS
  let quiet = 0
  while (quiet < 2 && Date.now() < giveUp) {
    const status = runner.status()
    const failed = status.find((s) => s.state === 'failed')
    if (failed) throw new Error(`pipeline ${failed.pipeline} failed; see the messages above`)
    quiet = status.every((s) => s.lag === 0) ? quiet + 1 : 0
    await sleep(signal.aborted ? 100 : 250)
  }
  if (quiet < 2)
    printErr('sluice: warning: the pipeline has not caught up after 60 s; scoring what it decided so far')
}

/** A progress line's common part: what was sent (and how fast, unless NaN), the lag, the outputs, event time. */
export function progressLine(
  unit: string,
  sent: number,
  perSecond: number,
  status: readonly PipelineStatus[],
  outputs: string,
): string {
  const watermark = watermarkOf(status)
  return (
    `sluice: sent ${formatCount(sent)} ${unit}${Number.isNaN(perSecond) ? '' : ` (${formatCount(perSecond)}/s)`}, lag ${formatCount(lagOf(status))}, ` +
    `${outputs}, event time ${Number.isFinite(watermark) ? new Date(watermark).toISOString() : 'none yet'}`
  )
}
