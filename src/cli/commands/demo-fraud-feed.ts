/**
 * The running part of `sluice demo fraud`: sends generated transactions at a steady rate,
 * reads the alerts back as they come, prints progress with a live score, and at the end waits
 * for the pipeline to catch up and returns the score lines.
 */
import { FraudGenerator } from '../../../examples/fraud/generator.ts'
import type { Alert, FraudTopics } from '../../../examples/fraud/pipeline.ts'
import { formatScore, type Score, score } from '../../../examples/fraud/score.ts'
import type { Log, ProducerRecord } from '../../log/types.ts'
import type { PipelineStatus } from '../../runtime/runner.ts'
import { formatCount, printErr } from '../output.ts'

export interface FeedOptions {
  log: Log
  runner: { status(): PipelineStatus[] }
  topics: FraudTopics
  rate: number
  seed: number
  events?: number
  durationMs?: number
  signal: AbortSignal
}

const TICK_MS = 20
const PROGRESS_MS = 5_000
/** Longest wait for the pipeline to process what was sent before scoring anyway. */
const DRAIN_MS = 60_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function watermarkOf(status: readonly PipelineStatus[]): number {
  return Math.min(...status.map((s) => s.watermark))
}

function brief(s: Score): string {
  return `precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} (${s.detected}/${s.cases} cases)`
}

export interface FeedResult {
  /** The score to print: a summary line, one per rule, then `score: …`. */
  lines: string[]
  /** Alerts read from the alert topic. */
  alerts: number
}

export async function feedFraud(options: FeedOptions): Promise<FeedResult> {
  const { log, runner, topics, rate, signal } = options
  const generator = new FraudGenerator({ seed: options.seed })
  const alerts: Alert[] = []
  const consumer = log.consumer({
    group: `sluice-demo-score-${process.pid}-${Date.now().toString(36)}`,
    topics: [topics.alerts.name],
    reset: 'earliest',
  })
  let reading = true
  const readAlerts = (async () => {
    while (reading) {
      const records = await consumer.poll({ maxRecords: 1_000, waitMs: 200 })
      for (const r of records) if (r.value) alerts.push(topics.alerts.codec.decode(r.value))
    }
  })()
  const producer = log.producer()
  const started = Date.now()
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs
  const limit = options.events ?? Number.POSITIVE_INFINITY
  let sent = 0
  let lastProgress = started
  const progress = () => {
    const status = runner.status()
    const watermark = watermarkOf(status)
    const lag = status.reduce((n, s) => n + s.lag, 0)
    const live = score(alerts, generator.cases, watermark)
    const elapsed = (Date.now() - started) / 1000
    printErr(
      `sluice: sent ${formatCount(sent)} transactions (${formatCount(sent / Math.max(elapsed, 0.001))}/s), ` +
        `lag ${formatCount(lag)}, alerts ${formatCount(alerts.length)}, ` +
        `event time ${Number.isFinite(watermark) ? new Date(watermark).toISOString() : 'none yet'}; live score: ${brief(live)}`,
    )
  }
  try {
    while (sent < limit && Date.now() < deadline && !signal.aborted) {
      // As many as the rate allows by now, in batches small enough to keep the pace smooth.
      const due = Math.min(limit, Math.floor(((Date.now() - started) * rate) / 1000))
      const batch: ProducerRecord[] = []
      while (sent + batch.length < due && batch.length < Math.max(100, rate / 10)) {
        const tx = generator.next()
        batch.push({
          key: Buffer.from(tx.cardId),
          value: topics.transactions.codec.encode(tx),
          timestamp: Date.parse(tx.at),
        })
      }
      if (batch.length > 0) {
        await producer.send(topics.transactions.name, batch)
        sent += batch.length
      } else {
        await sleep(TICK_MS)
      }
      if (Date.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = Date.now()
        progress()
      }
    }
    await producer.flush()
    printErr(`sluice: sent ${formatCount(sent)} transactions; waiting for the pipeline to process them…`)
    await drain(runner, signal)
    // The alerts of the last commit: read until the topic has nothing more.
    let seen: number
    do {
      seen = alerts.length
      await sleep(500)
    } while (alerts.length !== seen)
    progress()
    const until = watermarkOf(runner.status())
    const final = score(alerts, generator.cases, until)
    const undecided = generator.cases.length - final.cases
    const lines = [
      `fraud demo: ${formatCount(sent)} transactions, ${formatCount(generator.cases.length)} injected cases` +
        `${undecided > 0 ? ` (${undecided} too recent to decide: left out, with their alerts)` : ''}, ` +
        `${formatCount(alerts.length)} alerts`,
      ...formatScore(final),
    ]
    return { lines, alerts: alerts.length }
  } finally {
    reading = false
    await readAlerts.catch(() => {})
    await consumer.close()
    await producer.close()
  }
}

/** Waits until the pipeline has processed everything sent (lag 0 twice in a row), or gives up. */
async function drain(runner: { status(): PipelineStatus[] }, signal: AbortSignal): Promise<void> {
  const giveUp = Date.now() + DRAIN_MS
  let quiet = 0
  while (quiet < 2 && Date.now() < giveUp) {
    const status = runner.status()
    if (status.some((s) => s.state === 'failed')) {
      throw new Error('the fraud pipeline failed; see the messages above')
    }
    quiet = status.every((s) => s.lag === 0) ? quiet + 1 : 0
    await sleep(signal.aborted ? 100 : 250)
  }
  if (quiet < 2)
    printErr('sluice: warning: the pipeline has not caught up after 60 s; scoring what it decided so far')
}
