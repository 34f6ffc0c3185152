/**
 * Where stream processing and event sourcing meet: the event store as a Sluice source (its
 * global order into a topic) and as a sink (records of a topic appended to streams).
 *
 * - `eventStoreSource` appends each page of the global order to the topic with the page's
 *   position as the connector checkpoint, in one log transaction: a restarted source resumes
 *   after the last page that landed, so the topic gets every event once, in order. Records
 *   are keyed by stream id, so one stream's events stay in order on one partition.
 * - `eventStoreSink` appends each record as an event whose id is derived from the record's
 *   topic, partition and offset. The sink is at-least-once (Sluice commits offsets after a
 *   write), but a redelivered record carries the same event id and the store answers it as a
 *   duplicate: each record becomes exactly one event.
 * @example
 * connect('orders-events', { from: eventStoreSource(store, { streamPrefix: 'order-' }), to: topic('order-events') })
 * connect('payments-in', {
 *   from: topic<Payment>('payments'),
 *   to: eventStoreSink(store, { stream: (p) => `account-${p.account}`, event: (p) => ({ type: 'Paid', data: p }) }),
 * })
 */
import type { Sink, SinkBatch, SinkContext, SinkRecord, Source, SourceContext } from '../connectors/types.ts'
import { SluiceError } from '../errors.ts'
import { DuplicateEventIdError, InvalidEventError } from './errors.ts'
import type { EventFilter, EventStore, Metadata, NewEvent, RecordedEvent } from './types.ts'

export interface EventStoreSourceOptions extends EventFilter {
  /** Where to start when the connector has no checkpoint yet (default 0: the beginning). */
  from?: number
  /** Most events per page and per log transaction (default 500). */
  batchSize?: number
  /** Longest wait for new events before reading again (ms, default 1,000). */
  pollMs?: number
}

/** A source reading the store's global order; each record's value is the RecordedEvent. */
export function eventStoreSource(
  store: EventStore,
  options: EventStoreSourceOptions = {},
): Source<RecordedEvent> {
  const batchSize = options.batchSize ?? 500
  const filter: EventFilter = {
    ...(options.types ? { types: options.types } : {}),
    ...(options.streamPrefix ? { streamPrefix: options.streamPrefix } : {}),
  }
  return {
    role: 'source',
    type: `event-store:${store.kind}`,
    async run(context: SourceContext<RecordedEvent>) {
      let position = startPosition(context.checkpoint, options.from)
      while (!context.signal.aborted) {
        const page = await store.readAll({ ...filter, after: position, limit: batchSize })
        if (context.signal.aborted) return
        if (page.position > position) {
          await context.append(
            page.events.map((event) => ({
              value: event,
              key: event.streamId,
              timestamp: event.timestamp,
              headers: {
                'event-type': event.type,
                'event-id': event.id,
                'event-position': String(event.position),
              },
            })),
            { checkpoint: String(page.position) },
          )
          position = page.position
        }
        if (page.events.length < batchSize) {
          await store.waitForEvents(position, { timeoutMs: options.pollMs ?? 1_000, signal: context.signal })
        }
      }
    },
  }
}

function startPosition(checkpoint: string | undefined, from: number | undefined): number {
  if (checkpoint === undefined) return from ?? 0
  const position = Number(checkpoint)
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new SluiceError(
      'SLUICE_INVALID_INPUT',
      `the event store source's checkpoint "${checkpoint}" is not a position; was the connector name used for another source?`,
    )
  }
  return position
}

export interface EventStoreSinkOptions<T> {
  /** The stream a record's event is appended to. */
  stream: (value: T, record: SinkRecord<T>) => string
  /**
   * The event a record becomes. Default: the value itself when it is `{ type, data }` (and
   * `metadata`), as records read by `eventStoreSource` are.
   */
  event?: (value: T, record: SinkRecord<T>) => { type: string; data: unknown; metadata?: Metadata }
  /** Most records per write (default 500). */
  batchSize?: number
}

/**
 * A sink appending each record as one event; see the top of this file for its guarantee. A
 * record that cannot become an event (the `event` function throws, the store refuses its
 * payload) goes to the connector's dead-letter topic with the reason; the others are appended.
 */
export function eventStoreSink<T>(store: EventStore, options: EventStoreSinkOptions<T>): Sink<T> {
  let context: SinkContext | undefined
  const toEvent = (record: SinkRecord<T>): NewEvent => {
    const made = options.event ? options.event(record.value, record) : asEvent(record.value)
    return {
      type: made.type,
      data: made.data,
      ...(made.metadata ? { metadata: made.metadata } : {}),
      id: `sluice:${context!.topic}:${record.partition}:${record.offset}`,
    }
  }
  return {
    role: 'sink',
    type: `event-store:${store.kind}`,
    guarantee: 'at-least-once',
    batchSize: options.batchSize ?? 500,
    async open(c: SinkContext) {
      context = c
    },
    async write(batch: SinkBatch<T>) {
      // One append per stream, in the order the stream's records came.
      const streams = new Map<string, Array<{ record: SinkRecord<T>; event: NewEvent }>>()
      const dead: Array<{ record: SinkRecord<T>; error: string }> = []
      for (const record of batch.records) {
        try {
          const stream = options.stream(record.value, record)
          const items = streams.get(stream) ?? []
          items.push({ record, event: toEvent(record) })
          streams.set(stream, items)
        } catch (error) {
          dead.push({ record, error: (error as Error).message })
        }
      }
      for (const [stream, items] of streams) {
        try {
          await store.append(
            stream,
            items.map((i) => i.event),
          )
        } catch (error) {
          if (!(error instanceof DuplicateEventIdError) && !(error instanceof InvalidEventError)) throw error
          // A redelivered batch may be cut differently from the first, or one event may be
          // refused: append event by event, so stored ones are answered as duplicates, refused
          // ones are dead-lettered, and the rest are written.
          for (const { record, event } of items) {
            try {
              await store.append(stream, [event])
            } catch (single) {
              if (!(single instanceof InvalidEventError)) throw single
              dead.push({ record, error: single.message })
            }
          }
        }
      }
      for (const { record, error } of dead) await context!.deadLetter([record], error)
    },
    async close() {},
  }
}

function asEvent(value: unknown): { type: string; data: unknown; metadata?: Metadata } {
  const v = value as { type?: unknown; data?: unknown; metadata?: Metadata } | null
  if (typeof v !== 'object' || v === null || typeof v.type !== 'string' || !('data' in v)) {
    throw new SluiceError(
      'SLUICE_INVALID_INPUT',
      'an event store sink record must be { type, data } unless the sink is given an `event` function',
    )
  }
  return { type: v.type, data: v.data, ...(v.metadata ? { metadata: v.metadata } : {}) }
}
