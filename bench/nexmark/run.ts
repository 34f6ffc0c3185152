/**
 * The two halves of a benchmark run on the embedded log: appending the generated events to the
 * events topic (not timed), and running one query over all of them with exactly-once commits
 * (timed) — the way bench/engine.ts's case (c) does: the clock runs from `runner.start()` until
 * the pipeline's committed offsets reach the end of every input, repartition topics included,
 * and the runner has stopped. A query that writes files (q10) runs its file connector beside
 * the pipeline, and the clock runs on until the connector has written (and fsynced) every
 * row of the output topic.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EmbeddedLog, Pipeline, ProducerRecord, SinkConnector } from '../../src/index.ts'
import { ConnectorRunner, EmbeddedRunner } from '../../src/index.ts'
import type { Topology } from '../../src/topology/compile.ts'
import { peakMemory } from '../common.ts'
import { type GeneratorConfig, NexmarkGenerator } from './generator.ts'
import type { Event } from './model.ts'
import { type Format, queryContext } from './queries/common.ts'
import { eventCodec } from './schema.ts'
import type { QuerySpec } from './suite.ts'

export const EVENTS_TOPIC = 'nexmark-events'

export interface Appended {
  events: number
  bytes: number
  seconds: number
}

/** Generates `count` events and appends them, JSON- or binary-encoded, to a one-partition topic. */
export async function appendEvents(
  log: EmbeddedLog,
  config: GeneratorConfig,
  count: number,
  progress: (done: number) => void,
  format: Format = 'json',
): Promise<Appended> {
  const encode = format === 'binary' ? eventCodec.encode : (e: Event) => Buffer.from(JSON.stringify(e))
  const t0 = performance.now()
  await log.createTopic(EVENTS_TOPIC, { partitions: 1 })
  const producer = log.producer()
  const generator = new NexmarkGenerator(config)
  const inflight: Promise<unknown>[] = []
  const chunk = 10_000
  let bytes = 0
  for (let done = 0; done < count; ) {
    const n = Math.min(chunk, count - done)
    const batch: ProducerRecord[] = new Array(n)
    for (let i = 0; i < n; i++) {
      const value = encode(generator.next())
      bytes += value.length
      batch[i] = { key: null, value }
    }
    // Bounded: the events never sit in memory all at once.
    if (inflight.length >= 4) await inflight.shift()
    inflight.push(producer.send(EVENTS_TOPIC, batch))
    done += n
    if (done % 200_000 === 0 || done === count) progress(done)
  }
  await Promise.all(inflight)
  await producer.close()
  return { events: count, bytes, seconds: (performance.now() - t0) / 1000 }
}

export interface Measured {
  outputs: number
  seconds: number
  cpuSeconds: number
  /** Highest resident set size and V8 heap in use seen during the run (sampled every 50 ms). */
  peakRss: number
  peakHeap: number
  commits: number
  /** What a query that writes files (q10) left in its directory, counted after the run. */
  files?: WrittenFiles
}

export interface WrittenFiles {
  files: number
  lines: number
  bytes: number
  /** Directories holding files (the partitions). */
  directories: number
}

export interface RunOptions {
  beforeStart?: () => Promise<void>
  afterStop?: () => Promise<void>
  /**
   * Where a query that writes files (q10) writes them: a directory of its own, created. Default:
   * a new directory in the OS temp dir, removed after the run.
   */
  filesDir?: string
  /** How the events in the log are encoded (default JSON): the query reads them so. */
  format?: Format
}

let runs = 0

/** Runs one query over everything in the events topic; throws on dead letters or late records. */
export async function runQuery(
  log: EmbeddedLog,
  spec: QuerySpec,
  config: GeneratorConfig,
  hooks: RunOptions = {},
): Promise<Measured> {
  const ctx = queryContext(spec.id, config, { suffix: `-run${++runs}`, format: hooks.format ?? 'json' })
  const { pipeline, output } = spec.build(ctx)
  const filesDir = spec.files ? (hooks.filesDir ?? mkdtempSync(join(tmpdir(), 'sluice-nexmark-files-'))) : ''
  try {
    const files = spec.files ? { connector: spec.files(ctx, output, filesDir), dir: filesDir } : undefined
    return await timedRun(log, spec, pipeline, output.name, files, hooks)
  } finally {
    if (spec.files && hooks.filesDir === undefined) rmSync(filesDir, { recursive: true, force: true })
  }
}

async function timedRun(
  log: EmbeddedLog,
  spec: QuerySpec,
  pipeline: Pipeline,
  output: string,
  fileSink: { connector: SinkConnector<unknown>; dir: string } | undefined,
  hooks: RunOptions,
): Promise<Measured> {
  ;(globalThis as { gc?: () => void }).gc?.()
  const memory = peakMemory()
  await hooks.beforeStart?.()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const runner = new EmbeddedRunner(log, [pipeline])
  await runner.start()
  // Started once the runner has created the output topic: the connector reads it as it fills.
  const connectors = fileSink ? new ConnectorRunner(log, [fileSink.connector]) : undefined
  connectors?.start()
  const done = runner.run()
  let failed: unknown = null
  done.catch((e) => {
    failed = e
  })
  const topology = runner.topologies[0]!
  try {
    // The cheap in-memory check first (records processed), then the committed offsets.
    while (runner.status()[0]!.lag > 0 || !(await caughtUp(log, topology))) {
      if (failed) throw failed
      await new Promise((r) => setTimeout(r, 1))
    }
    runner.stop()
    await done
    if (connectors) {
      // Everything is committed now: the output topic's end is final. The connector counts a
      // batch once its lines are fsynced.
      const rows = outputRows(log, output)
      for (;;) {
        const status = connectors.status()[0]!
        if (status.errors > 0 || status.deadLetters > 0 || status.state === 'stopped') {
          throw new Error(
            `${spec.id}: the file sink ${status.state === 'stopped' ? 'stopped' : 'failed'} (${status.errors} errors, ${status.deadLetters} dead letters): ${status.lastError ?? ''}`,
          )
        }
        if (status.records >= rows) break
        await new Promise((r) => setTimeout(r, 1))
      }
    }
  } finally {
    runner.stop()
    await connectors?.stop()
  }
  const t1 = process.hrtime.bigint()
  const cpu = process.cpuUsage(cpu0)
  await hooks.afterStop?.()
  const { peakRss, peakHeap } = memory.stop()
  const status = runner.status()[0]!
  if (status.deadLetters > 0)
    throw new Error(`${spec.id}: ${status.deadLetters} records went to dead letters`)
  if (status.lateRecords > 0) throw new Error(`${spec.id}: ${status.lateRecords} records were late`)
  const outputs = outputRows(log, output)
  let files: WrittenFiles | undefined
  if (fileSink) {
    files = countFiles(fileSink.dir)
    // A clean run writes each row once: more lines than rows would be duplicates, fewer a loss.
    if (files.lines !== outputs) {
      throw new Error(`${spec.id}: the files hold ${files.lines} lines for ${outputs} output rows`)
    }
  }
  return {
    outputs,
    ...(files ? { files } : {}),
    seconds: Number(t1 - t0) / 1e9,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    peakRss,
    peakHeap,
    commits: status.commits,
  }
}

/** Rows committed to the output topic. The runner creates it at start, so it exists even when nothing came out. */
function outputRows(log: EmbeddedLog, output: string): number {
  return log.partitionsOf(output).reduce((n, p) => n + p.highWatermark, 0)
}

/** Files, lines, bytes and directories below `dir`: every line is one row. */
function countFiles(dir: string): WrittenFiles {
  const counted: WrittenFiles = { files: 0, lines: 0, bytes: 0, directories: 0 }
  const walk = (d: string) => {
    let holdsFiles = false
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) {
        walk(path)
        continue
      }
      holdsFiles = true
      const data = readFileSync(path)
      counted.files++
      counted.bytes += data.length
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) counted.lines++
    }
    if (holdsFiles) counted.directories++
  }
  walk(dir)
  return counted
}

/** True when the pipeline's committed offsets reach the end of all its inputs. */
async function caughtUp(log: EmbeddedLog, topology: Topology): Promise<boolean> {
  for (const sub of topology.subtopologies) {
    for (const s of sub.sources) {
      const committed = await log.committedOffsets(topology.pipeline, s.topic)
      for (const part of log.partitionsOf(s.topic)) {
        if ((committed.get(part.partition) ?? 0) < part.highWatermark) return false
      }
    }
  }
  return true
}
