/**
 * What every Nexmark query is built from: the one input topic (all events, a tagged union, in
 * generation order), the watermark its source declares, and the generator's config (a query
 * that joins bids to auctions needs to know how long an auction can last).
 */
import { type Pipeline, type TopicDef, topic, type WatermarkOptions } from '../../../src/index.ts'
import { type GeneratorConfig, maxDisorderMs } from '../generator.ts'
import { type Event, eventTime } from '../model.ts'

export interface QueryContext {
  /** The pipeline's name (its consumer group and the prefix of its internal topics and state). */
  readonly name: string
  readonly events: TopicDef<Event>
  /** The output topic's name. */
  readonly output: string
  readonly watermark: WatermarkOptions
  readonly config: GeneratorConfig
}

/** A query as Sluice runs it: its pipeline, and the topic its results go to. */
export interface Query<Row> {
  readonly pipeline: Pipeline
  readonly output: TopicDef<Row>
}

/** The events topic: JSON values, event time from the event's `dateTime`. */
export function eventsTopic(name = 'nexmark-events', partitions?: number): TopicDef<Event> {
  return topic<Event>(name, { timestamp: eventTime, ...(partitions === undefined ? {} : { partitions }) })
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
  options: { events?: TopicDef<Event>; suffix?: string } = {},
): QueryContext {
  const name = `nexmark-${query}${options.suffix ?? ''}`
  return {
    name,
    events: options.events ?? eventsTopic(),
    output: `${name}-out`,
    watermark: sourceWatermark(config),
    config,
  }
}
