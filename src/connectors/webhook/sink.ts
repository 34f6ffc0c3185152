/**
 * `webhook()`: a sink that POSTs a topic's records to an HTTP endpoint in batches.
 * @example
 * connect('alerts-out', {
 *   from: alerts,
 *   to: webhook({ url: 'https://ops.example.com/hooks/alerts', secret: process.env.HOOK_SECRET }),
 * })
 */
import { SluiceError } from '../../errors.ts'
import type { Sink, SinkBatch, SinkContext, SinkRecord } from '../types.ts'
import { type DeliveryOptions, deliver } from './deliver.ts'

export interface WebhookOptions {
  /** An http:// or https:// URL. */
  url: string | URL
  /** Sent with every request (authorization, for example). */
  headers?: Record<string, string>
  /** Signs each request: header `Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
  secret?: string | undefined
  /** Most records per request (default 100). */
  batchSize?: number
  /** Longest wait for an answer, ms (default 10,000). */
  timeoutMs?: number
  /** Retries after the first attempt before the batch is dead-lettered (default 5). */
  retries?: number
  /** Backoff between retries: doubling from `initialMs` (default 500) up to `maxMs` (default 30,000). */
  backoff?: { initialMs?: number; maxMs?: number }
}

/** One element of the JSON array a request carries. */
export interface WebhookRecord<T> {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  headers: Record<string, string>
  value: T
}

/**
 * At-least-once: a batch is acknowledged to Sluice after a 2xx answer, or after it was
 * dead-lettered to `<connector>-dlq` (retries exhausted, or refused with a 4xx other than 408
 * and 429). A crash before Sluice commits sends the batch again with the same `Idempotency-Key`
 * when its records are the same; receivers that need exactly-once dedupe by that key, or by
 * topic, partition and offset of each record.
 */
export function webhook<T = unknown>(options: WebhookOptions): Sink<T> {
  const url = String(options.url)
  if (!/^https?:\/\//i.test(url)) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `webhook: url must start with http:// or https://, got "${url}"`,
    )
  }
  const batchSize = positive('batchSize', options.batchSize ?? 100)
  const settings: Omit<DeliveryOptions, 'signal'> = {
    url,
    headers: { 'user-agent': 'sluice-webhook', ...options.headers },
    secret: options.secret,
    timeoutMs: positive('timeoutMs', options.timeoutMs ?? 10_000),
    retries: nonNegative('retries', options.retries ?? 5),
    initialBackoffMs: positive('backoff.initialMs', options.backoff?.initialMs ?? 500),
    maxBackoffMs: positive('backoff.maxMs', options.backoff?.maxMs ?? 30_000),
  }
  let context: SinkContext | undefined
  return {
    role: 'sink',
    type: 'webhook',
    guarantee: 'at-least-once',
    batchSize,
    async open(c) {
      context = c
    },
    async write(batch: SinkBatch<T>) {
      const ctx = context!
      // One request per partition's run of records: its key names an offset range, which is
      // what a redelivery after a crash repeats.
      for (const records of byPartition(batch.records)) {
        for (let i = 0; i < records.length; i += batchSize) {
          const chunk = records.slice(i, i + batchSize)
          const first = chunk[0]!
          const key = `${ctx.connector}:${ctx.topic}:${first.partition}:${first.offset}-${chunk.at(-1)!.offset}`
          const body = JSON.stringify(chunk.map((r) => toWire(ctx.topic, r)))
          const failure = await deliver({ ...settings, signal: ctx.signal }, body, key)
          if (failure !== undefined) await ctx.deadLetter(chunk, failure)
        }
      }
    },
    async close() {},
  }
}

function byPartition<T>(records: readonly SinkRecord<T>[]): SinkRecord<T>[][] {
  const groups = new Map<number, SinkRecord<T>[]>()
  for (const r of records) {
    const group = groups.get(r.partition)
    if (group) group.push(r)
    else groups.set(r.partition, [r])
  }
  return [...groups.values()]
}

function toWire<T>(topic: string, r: SinkRecord<T>): WebhookRecord<T> {
  return {
    topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    headers: r.headers,
    value: r.value,
  }
}

function positive(name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0)) {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `webhook: ${name} must be a positive integer, got ${v}`)
  }
  return v
}

function nonNegative(name: string, v: number): number {
  if (!(Number.isInteger(v) && v >= 0)) {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `webhook: ${name} must be 0 or more, got ${v}`)
  }
  return v
}
