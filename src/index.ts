/**
 * Sluice: real-time event processing for TypeScript.
 * @module
 */

export {
  type Connector,
  connect,
  declaredConnectors,
  type SinkConnector,
  type SourceConnector,
} from './connectors/connect.ts'
export * from './connectors/file/index.ts'
export * from './connectors/mqtt/index.ts'
export * from './connectors/postgres/index.ts'
export { ConnectorRunner, type ConnectorRunnerOptions } from './connectors/runner.ts'
export type { ConnectorStatus } from './connectors/status.ts'
export {
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRecord,
  type Source,
  type SourceContext,
  type SourceDeadLetter,
  type SourceRecord,
  StalePositionError,
} from './connectors/types.ts'
export * from './connectors/webhook/index.ts'
export { type Aggregator, avg, count, distinctCount, max, min, sum, topN } from './dsl/aggregations.ts'
export { binaryCodec } from './dsl/binary/codec.ts'
export { ByteWriter } from './dsl/binary/io.ts'
export * as b from './dsl/binary/schema.ts'
export { type Codec, jsonCodec, stringCodec } from './dsl/codec.ts'
export type { WatermarkOptions } from './dsl/nodes.ts'
export { type Match, Pattern, pattern } from './dsl/pattern.ts'
export {
  declaredPipelines,
  type ErrorPolicy,
  Pipeline,
  type PipelineOptions,
  pipeline,
  type SourceOptions,
  type TableOptions,
} from './dsl/pipeline.ts'
export type { KeyedState, ProcessContext, Processor, TimerInfo, Timers } from './dsl/processor.ts'
export type { StandardSchemaV1 } from './dsl/schema.ts'
export {
  type JoinOptions,
  type Keyed,
  KeyedStream,
  type SinkTopic,
  Stream,
  type StreamJoinOptions,
  type Windowed,
  WindowedStream,
  type WindowOptions,
} from './dsl/stream.ts'
export { Table } from './dsl/table.ts'
export { type EventTime, type TopicDef, type TopicOptions, topic } from './dsl/topic.ts'
export { hopping, session, sliding, tumbling, type Window, type WindowSpec } from './dsl/windows.ts'
export { isSluiceError, SluiceError, type SluiceErrorCode } from './errors.ts'
export * from './log/index.ts'
export { GroupRunner, type GroupRunnerOptions } from './runtime/group/group-runner.ts'
export type { Guarantee, RestoreReport } from './runtime/group/pipeline-worker.ts'
export type { QueryableStore, WindowValue } from './runtime/query.ts'
export { EmbeddedRunner, type PipelineStatus, type RunnerOptions, runPipelines } from './runtime/runner.ts'
export { ThreadedRunner, type ThreadedRunnerOptions } from './runtime/threads/thread-runner.ts'
export { compile, type Topology } from './topology/compile.ts'
export { describe } from './topology/describe.ts'
export { type Duration, parseDuration } from './util/duration.ts'
export { parseSize } from './util/size.ts'
