/**
 * The event store's public surface (meant as the `sluice/eventstore` entry point): the
 * interface and its types, both stores, aggregates, subscriptions, projections, and the
 * source/sink bridge to pipelines. docs/event-sourcing.md is the guide.
 */

export {
  type Aggregate,
  type AggregateDefinition,
  type AsOf,
  aggregate,
  type Handled,
  type HandleOptions,
  type Loaded,
  type LoadOptions,
  type SnapshotPolicy,
} from './aggregate.ts'
export {
  type EventStoreSinkOptions,
  type EventStoreSourceOptions,
  eventStoreSink,
  eventStoreSource,
} from './connectors.ts'
export {
  EmbeddedEventStore,
  type EmbeddedEventStoreOptions,
  openEmbeddedEventStore,
} from './embedded/embedded-event-store.ts'
export {
  ConcurrencyError,
  DuplicateEventIdError,
  InvalidEventError,
  SchemaMismatchError,
  UnknownStreamError,
} from './errors.ts'
export { LATEST_SCHEMA_VERSION, type MigrateResult, migrate } from './postgres/migrations.ts'
export {
  type InlineProjection,
  openPostgresEventStore,
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from './postgres/postgres-event-store.ts'
export {
  type Projection,
  type ProjectionStorage,
  type ProjectionTx,
  type RebuildProgress,
  type RunningProjection,
  type RunOptions,
  rebuildProjection,
  StalePositionError,
  startProjection,
} from './projections.ts'
export {
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
  subscribe,
} from './subscription.ts'
export type {
  AppendOptions,
  AppendResult,
  Event,
  EventFilter,
  EventStore,
  EventStoreOptions,
  ExpectedVersion,
  Json,
  Metadata,
  NewEvent,
  ReadAllOptions,
  ReadAllPage,
  ReadStreamOptions,
  RecordedEvent,
  RecordedInfo,
  Snapshot,
  WaitOptions,
} from './types.ts'
