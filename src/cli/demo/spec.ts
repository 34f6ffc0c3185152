/**
 * What a demo gives `sluice demo <name>`: its topics and pipelines, how to feed them generated
 * data and score the result, and (optionally) flags and connectors of its own. The harness
 * (harness.ts) does the rest the same way for every demo: the embedded log or a Kafka worker,
 * the HTTP server with the dashboard, Ctrl-C, progress, clean-up.
 */
import type { ParseArgsOptionsConfig } from 'node:util'
import type { Connector } from '../../connectors/connect.ts'
import type { ConnectorRunner } from '../../connectors/runner.ts'
import type { Pipeline } from '../../dsl/pipeline.ts'
import type { TopicDef } from '../../dsl/topic.ts'
import type { Log } from '../../log/types.ts'
import type { PipelineStatus } from '../../runtime/runner.ts'

// biome-ignore lint/suspicious/noExplicitAny: a demo's topics carry different value types
export type DemoTopics = Record<string, TopicDef<any>>

/** The flag values a demo's own `options` produced (strings or booleans, as parseArgs gives). */
export type DemoFlags = Record<string, string | boolean | undefined>

/** One run of a demo's feed: what it writes to, how fast, and when to stop. */
export interface DemoRun<T extends DemoTopics> {
  log: Log
  runner: { status(): PipelineStatus[] }
  topics: T
  /** Records per second to send. */
  rate: number
  seed: number
  /** Stop after this many records, when given. */
  events?: number
  /** Stop after this long, when given. */
  durationMs?: number
  /** Aborted on Ctrl-C: stop sending, then score what the pipeline decided. */
  signal: AbortSignal
  flags: DemoFlags
}

/** What a feed returns: the score lines printed to stdout, and how many results it read. */
export interface DemoResult {
  lines: string[]
  outputs: number
}

/** Connectors a demo runs next to its pipelines, and what to do with them once the feed ends. */
export interface DemoExtras {
  connectors: Connector[]
  /** Called after the feed, before the score is printed (e.g. wait for a sink to catch up). */
  afterFeed?(connectors: ConnectorRunner, result: DemoResult): Promise<void>
  /** Called at the very end, whatever happened. */
  close?(): Promise<void>
}

export interface DemoSpec<T extends DemoTopics = DemoTopics> {
  /** As typed after `sluice demo`. */
  name: string
  /** The pipeline's name (a per-run suffix is added on Kafka). */
  pipelineName: string
  /** What the records are called in progress lines, e.g. `transactions`. */
  unit: string
  defaultRate: number
  /**
   * The whole `--help` text. `common` is the harness's options (rate, events, duration, seed,
   * backend, HTTP, data dir, help), to be placed under "Options:".
   */
  help(common: string): string
  /** Flags of the demo's own, parsed with the common ones. */
  options?: ParseArgsOptionsConfig
  /** The topics, with `suffix` appended to each name (Kafka runs get one per run). */
  topics(suffix: string): T
  pipelines(name: string, topics: T): Pipeline[]
  /** Validates the demo's own flags and returns connectors to run; throw UsageError for bad flags. */
  prepare?(flags: DemoFlags, topics: T): Promise<DemoExtras>
  /** One line: what to look at in the dashboard at `url`. */
  guide(url: string, topics: T): string
  /** Feeds generated records, waits for the pipeline to catch up, and scores. */
  feed(run: DemoRun<T>): Promise<DemoResult>
}
