/**
 * What every Nexmark query is built from: the one input topic (all events, a tagged union, in
 * generation order), the watermark its source declares, and the generator's config (a query
 * that joins bids to auctions needs to know how long an auction can last).
 */
import { type Codec, type Pipeline, type TopicDef, topic, type WatermarkOptions } from '../../../src/index.ts'
import { type GeneratorConfig, maxDisorderMs } from '../generator.ts'
import { type Event, eventTime } from '../model.ts'
import { eventCodec } from '../schema.ts'

/**
 * How the events (and the outputs of q0–q2) are encoded: JSON text, as a producer that knows
 * nothing of Sluice would write them, or `binaryCodec` over bench/nexmark/schema.ts.
 */
export type Format = 'json' | 'binary'
export const FORMATS: readonly Format[] = ['json', 'binary']

export interface QueryContext {
  /** The pipeline's name (its consumer group and the prefix of its internal topics and state). */
  readonly name: string
  readonly events: TopicDef<Event>
  /** The output topic's name. */
  readonly output: string
  readonly watermark: WatermarkOptions
  readonly config: GeneratorConfig
  readonly format: Format
}

/** A query as Sluice runs it: its pipeline, and the topic its results go to. */
export interface Query<Row> {
  readonly pipeline: Pipeline
  readonly output: TopicDef<Row>
}

/** The events topic: JSON (or binary) values, event time from the event's `dateTime`. */
export function eventsTopic(
  name = 'nexmark-events',
  partitions?: number,
  format: Format = 'json',
): TopicDef<Event> {
  return topic<Event>(name, {
    timestamp: eventTime,
    ...(partitions === undefined ? {} : { partitions }),
    ...(format === 'binary' ? { codec: eventCodec } : {}),
  })
}

/** An output topic: JSON, or with `codec` when the query runs on binary events. */
export function outputTopic<Row>(ctx: QueryContext, codec: Codec<Row>): TopicDef<Row> {
  return topic<Row>(ctx.output, ctx.format === 'binary' ? { codec } : {})
}

/**
 * The source's watermark: as far behind the newest event time as the generator can put an
 * event (its out-of-order groups), so no event is late. `idleAfter` is long: the benchmark's
 * input is never quiet, and the correctness tests run on virtual time.
 */
export function sourceWatermark(config: GeneratorConfig): WatermarkOptions {
  return { maxOutOfOrder: maxDisorderMs(config), idleAfter: '1h' }
}

export function queryContext(
  query: string,
  config: GeneratorConfig,
  options: { events?: TopicDef<Event>; suffix?: string; format?: Format } = {},
): QueryContext {
  const name = `nexmark-${query}${options.suffix ?? ''}`
  const format = options.format ?? 'json'
  return {
    name,
    events: options.events ?? eventsTopic(undefined, undefined, format),
    output: `${name}-out`,
    watermark: sourceWatermark(config),
    config,
    format,
  }
}
