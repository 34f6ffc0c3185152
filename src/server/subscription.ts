/**
 * One live reader of a topic for a browser or a service, behind both `GET /topics/:t/stream`
 * (Server-Sent Events) and `GET /topics/:t/ws` (WebSocket). It reads each partition from its
 * position and writes one event per record through a `Channel`.
 *
 * Positions travel as the event id: `0:15,1:3` = next offset per partition. A client that
 * reconnects with `Last-Event-ID` (EventSource does it by itself) resumes exactly there.
 *
 * A slow client never grows server memory: while the channel holds more than `highWaterBytes`
 * unsent, the reader stops fetching; if it is still full after `slowAfterMs`, the policy applies —
 * `drop` closes the subscription with a final error event, `skip` waits for the channel to
 * drain, then jumps every partition to the end and says how much it skipped.
 */
import { isSluiceError } from '../errors.ts'
import type { Log, LogRecord, OffsetSpec, TopicPartition } from '../log/types.ts'
import type { TopicInfo } from './catalog.ts'

export interface Channel {
  /** Sends one event; `id` is the position after it. */
  send(type: string, data: unknown, id?: string): void
  /** Bytes sent but not yet taken by the client. */
  buffered(): number
  /** Resolves when the buffer has drained or after `ms`. */
  drained(ms: number): Promise<void>
  close(): void
  readonly closed: boolean
}

export type SlowPolicy = 'drop' | 'skip'

export interface SubscriptionOptions {
  highWaterBytes?: number
  slowAfterMs?: number
  policy?: SlowPolicy
  /** Longest long-poll per fetch (ms). */
  waitMs?: number
}

/** Parses `0:15,1:3`; undefined when it is not that shape. */
export function parsePositions(text: string): Map<number, number> | undefined {
  const out = new Map<number, number>()
  for (const part of text.split(',')) {
    const m = /^(\d+):(\d+)$/.exec(part.trim())
    if (!m) return undefined
    out.set(Number(m[1]), Number(m[2]))
  }
  return out.size > 0 ? out : undefined
}

export function formatPositions(positions: ReadonlyMap<number, number>): string {
  return [...positions].map(([p, o]) => `${p}:${o}`).join(',')
}

/**
 * `from`: `earliest`, `latest` (default), an offset (every partition), or a time (ISO-8601 or
 * ms since the epoch, prefixed `time:` for ms). Throws TypeError naming the problem.
 */
export function parseFrom(from: string | undefined): OffsetSpec {
  if (from === undefined || from === 'latest') return 'latest'
  if (from === 'earliest') return 'earliest'
  if (/^\d+$/.test(from)) return { offset: Number(from) }
  const ms = from.startsWith('time:') ? Number(from.slice(5)) : Date.parse(from)
  if (Number.isFinite(ms)) return { timestamp: ms }
  throw new TypeError(
    `from must be earliest, latest, an offset, an ISO-8601 time or time:<ms>, got "${from}"`,
  )
}

export async function subscribe(
  log: Log,
  info: TopicInfo,
  start: { positions?: Map<number, number>; from?: OffsetSpec; partitions?: number[] },
  channel: Channel,
  options: SubscriptionOptions = {},
): Promise<void> {
  const topic = info.def.name
  const highWater = options.highWaterBytes ?? 1024 * 1024
  const slowAfterMs = options.slowAfterMs ?? 5_000
  const policy = options.policy ?? 'drop'
  const partitions = start.partitions ?? [...Array(info.partitions).keys()]
  const positions = new Map<number, number>()
  for (const p of partitions) {
    const tp = { topic, partition: p }
    const given = start.positions?.get(p)
    positions.set(p, given ?? (await resolve(log, tp, start.from ?? 'latest')))
  }
  channel.send('ready', { topic, positions: Object.fromEntries(positions) }, formatPositions(positions))
  const decode = (r: LogRecord) => {
    let value: unknown = null
    if (r.value !== null) {
      try {
        value = info.def.codec.decode(r.value)
      } catch {
        value = Buffer.from(r.value).toString()
      }
    }
    return {
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key === null ? null : Buffer.from(r.key).toString(),
      value,
      headers: r.headers,
    }
  }

  const skipToEnd = async () => {
    const skipped: { partition: number; from: number; to: number }[] = []
    for (const p of partitions) {
      const to = await log.resolveOffset({ topic, partition: p }, 'latest')
      const from = positions.get(p)!
      if (to > from) skipped.push({ partition: p, from, to })
      positions.set(p, Math.max(from, to))
    }
    channel.send('skipped', { reason: 'the client read too slowly', skipped }, formatPositions(positions))
  }

  const readPartition = async (p: number) => {
    const tp = { topic, partition: p }
    while (!channel.closed) {
      if (channel.buffered() > highWater) {
        await channel.drained(slowAfterMs)
        if (channel.closed) return
        if (channel.buffered() > highWater) {
          if (policy === 'drop') {
            channel.send('error', {
              error: `dropped: the client did not read for ${slowAfterMs} ms`,
              code: 'SLUICE_SLOW_CONSUMER',
            })
            channel.close()
            return
          }
          await channel.drained(60_000)
          if (channel.closed) return
          await skipToEnd()
        }
        continue
      }
      let records: LogRecord[]
      try {
        records = await log.fetch(tp, positions.get(p)!, { maxRecords: 500, waitMs: options.waitMs ?? 1_000 })
      } catch (error) {
        if (isSluiceError(error, 'SLUICE_OFFSET_OUT_OF_RANGE')) {
          // Retention removed what this reader was at: go on from what is left, and say so.
          const from = positions.get(p)!
          const to = await log.resolveOffset(
            tp,
            from < (await log.resolveOffset(tp, 'earliest')) ? 'earliest' : 'latest',
          )
          positions.set(p, to)
          channel.send(
            'skipped',
            { reason: 'the position is no longer in the log', skipped: [{ partition: p, from, to }] },
            formatPositions(positions),
          )
          continue
        }
        if (channel.closed) return
        channel.send('error', {
          error: (error as Error).message,
          code: (error as { code?: string }).code ?? 'SLUICE_INTERNAL',
        })
        channel.close()
        return
      }
      if (channel.closed) return
      for (const r of records) {
        positions.set(p, r.offset + 1)
        channel.send('record', decode(r), formatPositions(positions))
      }
    }
  }
  await Promise.all(partitions.map((p) => readPartition(p)))
}

async function resolve(log: Log, tp: TopicPartition, spec: OffsetSpec): Promise<number> {
  if (typeof spec === 'object' && 'offset' in spec) {
    const earliest = await log.resolveOffset(tp, 'earliest')
    const latest = await log.resolveOffset(tp, 'latest')
    return Math.min(Math.max(spec.offset, earliest), latest)
  }
  return log.resolveOffset(tp, spec)
}
