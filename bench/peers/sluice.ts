/**
 * Sluice's side of the comparison, run the way `npm run bench:nexmark` runs it
 * (bench/nexmark/run.ts, reused as is): the events appended to a one-partition topic of the
 * embedded log first (not timed), then each query in a process of its own, timed from the
 * runner's start until its committed offsets reach the end of every input. After the clock
 * stops, the child reads its output topic back and checksums the rows (bench/peers/checksum.ts).
 *
 * The child: node --expose-gc bench/peers/sluice.ts --log-dir DIR --query q5 --events N --seed S --rate R
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type Durability, type EmbeddedLog, openEmbeddedLog } from '../../src/index.ts'
import { type GeneratorConfig, generatorConfig } from '../nexmark/generator.ts'
import { appendEvents, EVENTS_TOPIC, runQuery } from '../nexmark/run.ts'
import { querySpec } from '../nexmark/suite.ts'
import { isPeerQuery, type PeerQuery, rowHash } from './checksum.ts'
import { lastJsonLine, type RunResult } from './result.ts'

/** Appends the events to a fresh embedded log in `dir/name` (not timed) and closes it. */
export async function prepareSluiceLog(
  dir: string,
  name: string,
  config: GeneratorConfig,
  events: number,
  durability: Durability,
): Promise<string> {
  const logDir = join(dir, name)
  const log = await openEmbeddedLog({ dataDir: logDir, durability, cleanupIntervalMs: 0 })
  try {
    await appendEvents(log, config, events, () => {})
  } finally {
    await log.close()
  }
  return logDir
}

/**
 * Runs one query on Sluice in a child process over the log `prepareSluiceLog` filled; with
 * `warmupLogDir` (a log of the first events), the same query runs over that first, untimed.
 */
export function runSluice(
  logDir: string,
  query: PeerQuery,
  config: GeneratorConfig,
  events: number,
  durability: Durability,
  warmupLogDir?: string,
): RunResult {
  const child = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      import.meta.filename,
      '--log-dir',
      logDir,
      '--query',
      query,
      '--events',
      String(events),
      '--seed',
      String(config.seed),
      '--rate',
      String(config.firstEventRate),
      '--durability',
      durability,
      ...(warmupLogDir ? ['--warmup-log-dir', warmupLogDir] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
  if (child.status !== 0)
    throw new Error(`sluice ${query}: the run failed (exit ${child.status ?? child.signal})`)
  return lastJsonLine(child.stdout) as unknown as RunResult
}

/** Count and checksum of everything in the query's output topic. */
function readOutput(
  log: EmbeddedLog,
  topic: string,
  query: PeerQuery,
): { outputs: number; checksum: number } {
  let outputs = 0
  let checksum = 0
  for (const part of log.partitionsOf(topic)) {
    for (let offset = part.startOffset; offset < part.highWatermark; ) {
      const records = log.read({ topic, partition: part.partition }, offset)
      for (const r of records) {
        outputs++
        checksum = (checksum + rowHash(query, JSON.parse(Buffer.from(r.value!).toString('utf8')))) | 0
      }
      offset = records[records.length - 1]!.offset + 1
    }
  }
  return { outputs, checksum }
}

async function child(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'log-dir': { type: 'string' },
      query: { type: 'string' },
      events: { type: 'string' },
      seed: { type: 'string' },
      rate: { type: 'string' },
      durability: { type: 'string', default: 'sync' },
      'warmup-log-dir': { type: 'string' },
    },
  })
  const query = values.query ?? ''
  const spec = querySpec(query)
  if (!spec || !isPeerQuery(query)) throw new Error(`not a query the peers run: "${query}"`)
  const config = generatorConfig({ seed: Number(values.seed), firstEventRate: Number(values.rate) })
  const events = Number(values.events)
  const durability = values.durability as Durability
  if (values['warmup-log-dir'] !== undefined) {
    // The same query over a log of the first events, untimed, so V8 has compiled the hot code.
    const warmup = await openEmbeddedLog({
      dataDir: values['warmup-log-dir'],
      durability,
      cleanupIntervalMs: 0,
    })
    try {
      await runQuery(warmup, spec, config)
    } finally {
      await warmup.close()
    }
  }
  const log = await openEmbeddedLog({
    dataDir: values['log-dir']!,
    durability,
    cleanupIntervalMs: 0,
  })
  try {
    const appended = log.partitionsOf(EVENTS_TOPIC)[0]!.highWatermark
    if (appended !== events) throw new Error(`the log holds ${appended} events, not ${events}`)
    const measured = await runQuery(log, spec, config)
    // runQuery names its pipeline nexmark-<query>-run<n>; this process runs one, so one output topic.
    const outputs = (await log.listTopics()).filter((t) =>
      new RegExp(`^nexmark-${query}-run\\d+-out$`).test(t),
    )
    if (outputs.length !== 1)
      throw new Error(`expected one output topic for ${query}, found ${outputs.join(', ')}`)
    const read = readOutput(log, outputs[0]!, query)
    if (read.outputs !== measured.outputs) {
      throw new Error(
        `${query}: the output topic holds ${read.outputs} rows, the run counted ${measured.outputs}`,
      )
    }
    const result: RunResult = {
      engine: 'sluice',
      query,
      events,
      outputs: measured.outputs,
      checksum: read.checksum,
      wallMs: measured.seconds * 1000,
      cpuMs: measured.cpuSeconds * 1000,
      peakHeap: measured.peakHeap,
      peakRss: measured.peakRss,
      extra: {
        commits: measured.commits,
        node: process.version,
        warmedUp: values['warmup-log-dir'] !== undefined,
      },
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await log.close()
  }
}

if (import.meta.main) await child()
