/**
 * What each engine must output for the same events: the rows of Sluice's reference
 * implementations (bench/nexmark/reference/, plain loops, every window closed), reduced to the
 * windows the engine's end-of-input rule closes, then counted and checksummed.
 *
 * The engines differ only in when their last windows close:
 * - `all` (Flink): the events file is bounded; at its end the watermark jumps to the end of
 *   time and every window fires. So does the reference.
 * - `watermark` (Sluice): the input is a topic, which may grow; a window [start, end) closes
 *   once the watermark, the newest event time less the disorder bound, reaches its end. The
 *   watermark crosses repartition topics as the minimum over the upstream tasks, so q5's second
 *   stage closes with the source's watermark.
 * - `stream-time` (Kafka Streams): a window closes once the task's stream time (the newest
 *   record timestamp its input partitions have delivered, grace 0) reaches its end. Each stage
 *   after a repartition topic has its own stream time: q7's is the newest bid's, q8's the
 *   newest person's or auction's; q5's second stage sees the first stage's results, stamped
 *   with their window's end − 1, so it closes one 2 s step behind.
 */
import type { GeneratorConfig } from '../nexmark/generator.ts'
import { maxDisorderMs } from '../nexmark/generator.ts'
import type { Event } from '../nexmark/model.ts'
import type { Q5Row } from '../nexmark/queries/q5.ts'
import type { Q7Row } from '../nexmark/queries/q7.ts'
import type { Q8Row } from '../nexmark/queries/q8.ts'
import { windowStart } from '../nexmark/reference/common.ts'
import { querySpec } from '../nexmark/suite.ts'
import { type PeerQuery, type Tally, tally } from './checksum.ts'
import type { EventsFile } from './generate.ts'

export type Closing = 'all' | 'watermark' | 'stream-time'

const Q5_ADVANCE = 2_000
const WINDOW_10S = 10_000

/** The end of the window a result row belongs to; undefined for queries without windows. */
function windowEnd(query: PeerQuery, row: unknown): number | undefined {
  switch (query) {
    case 'q5':
      return (row as Q5Row).endtime
    case 'q7':
      return windowStart((row as Q7Row).dateTime, WINDOW_10S) + WINDOW_10S
    case 'q8':
      return (row as Q8Row).starttime + WINDOW_10S
    default:
      return undefined
  }
}

/** Windows ending at or before this are closed at the end of the input, by `closing`'s rule. */
export function closedUpTo(
  query: PeerQuery,
  closing: Closing,
  file: EventsFile,
  config: GeneratorConfig,
): number {
  switch (closing) {
    case 'all':
      return Number.POSITIVE_INFINITY
    case 'watermark':
      return file.maxTime - maxDisorderMs(config)
    case 'stream-time':
      if (query === 'q8') return file.maxPersonOrAuctionTime
      if (query === 'q5') return windowStart(file.maxBidTime, Q5_ADVANCE) - 1
      return file.maxBidTime
  }
}

export interface Expectation extends Tally {
  /** The reference's rows for every window, closed or not. */
  all: number
}

/** The reference's rows for `query`, kept between calls for the different closings. */
export class Expected {
  readonly #events: readonly Event[]
  readonly #config: GeneratorConfig
  readonly #file: EventsFile
  readonly #rows = new Map<PeerQuery, unknown[]>()

  constructor(events: readonly Event[], config: GeneratorConfig, file: EventsFile) {
    this.#events = events
    this.#config = config
    this.#file = file
  }

  #reference(query: PeerQuery): unknown[] {
    let rows = this.#rows.get(query)
    if (!rows) {
      // As they come back from a topic: JSON-normalized, like every engine's output.
      rows = querySpec(query)!
        .reference(this.#events, this.#config)
        .map((r) => JSON.parse(JSON.stringify(r)))
      this.#rows.set(query, rows)
    }
    return rows
  }

  for(query: PeerQuery, closing: Closing): Expectation {
    const rows = this.#reference(query)
    const bound = closedUpTo(query, closing, this.#file, this.#config)
    const kept = rows.filter((r) => (windowEnd(query, r) ?? Number.NEGATIVE_INFINITY) <= bound)
    return { ...tally(query, kept), all: rows.length }
  }
}
