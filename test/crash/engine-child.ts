/**
 * The engine process the exactly-once crash test kills with SIGKILL, over and over.
 *
 *   node test/crash/engine-child.ts <dataDir> <mode: kill | finish> [durability]
 *
 * Opens the log (`sync` durability by default, so the kills hit the real commit path), starts
 * an EmbeddedRunner on the shared pipeline (engine-pipeline.ts) — a ThreadedRunner with N
 * worker threads when ENGINE_CRASH_THREADS=N > 1 — and prints `ready <JSON>` on
 * stdout, the JSON saying what earlier lives committed (input consumed, outputs written).
 * Then it prints a progress line (JSON status) on stdout every 50 ms.
 * - `kill`: runs until the parent kills it.
 * - `finish`: runs until the input is fully consumed and the watermark has settled (lag 0
 *   and nothing changing for a while), then stops the runner cleanly (final commit), closes
 *   the log and prints `done <status JSON>`.
 */
import { EmbeddedRunner, openEmbeddedLog, type PipelineStatus, ThreadedRunner } from 'sluice'
import { BIG, buildPipeline, INPUT, OUTPUT, PIPELINE } from './engine-pipeline.ts'

const [dataDir, mode, durabilityArg] = process.argv.slice(2)
if (!dataDir || (mode !== 'kill' && mode !== 'finish')) {
  process.stderr.write('usage: engine-child.ts <dataDir> <kill|finish> [sync|interval]\n')
  process.exit(2)
}
const durability = durabilityArg === 'interval' ? 'interval' : 'sync'

/** How long lag 0 with an unchanged status must last before `finish` stops. */
const SETTLE_MS = 300

const log = await openEmbeddedLog({ dataDir, durability, cleanupIntervalMs: 0 })
// ENGINE_CRASH_THREADS > 1: the same pipeline on the threaded runner (its workers import it
// from engine-pipeline-module.ts).
const threads = Number(process.env.ENGINE_CRASH_THREADS ?? 1)
const runner =
  threads > 1
    ? new ThreadedRunner(log, [buildPipeline()], {
        commitIntervalMs: 5,
        threads,
        module: new URL('./engine-pipeline-module.ts', import.meta.url),
      })
    : new EmbeddedRunner(log, [buildPipeline()], {
        commitIntervalMs: 5,
        // ENGINE_CRASH_VIA=log: the keyBy goes through the repartition topic, not in memory.
        exchange: process.env.ENGINE_CRASH_VIA !== 'log',
      })
await runner.start()
// What the previous lives committed: input consumed, outputs written.
let consumed = 0
/** Input partitions already read to their end: this life sees no new record from them. */
let exhausted = 0
const offsets = await log.committedOffsets(PIPELINE, INPUT)
for (const part of log.partitionsOf(INPUT)) {
  const position = offsets.get(part.partition) ?? part.startOffset
  consumed += position
  if (position === part.highWatermark) exhausted++
}
const written = (name: string) => log.partitionsOf(name).reduce((n, p) => n + p.highWatermark, 0)
const committed = { consumed, exhausted, output: written(OUTPUT), big: written(BIG) }
const started = Date.now()
const running = runner.run()
running.catch((error: unknown) => {
  process.stderr.write(`engine-child: run failed: ${(error as Error).stack}\n`)
  process.exit(1)
})
process.stdout.write(`ready ${JSON.stringify(committed)}\n`)

function line(s: PipelineStatus): string {
  return JSON.stringify({
    ms: Date.now() - started,
    in: s.recordsIn,
    out: s.recordsOut,
    lag: s.lag,
    wm: s.watermark,
    open: s.openWindows,
    late: s.lateRecords,
    dlq: s.deadLetters,
    commits: s.commits,
  })
}

let settledSince = 0
let last = ''
const timer = setInterval(() => {
  const s = runner.status()[0]!
  process.stdout.write(`progress ${line(s)}\n`)
  if (mode !== 'finish') return
  // Lag 0, no commit with records in flight (its markers would still be read), and the
  // watermark and outputs have stopped moving.
  const fingerprint = `${s.lag}:${s.watermark}:${s.recordsIn}:${s.recordsOut}:${s.openWindows}`
  if (s.lag !== 0 || log.inflightBytes > 0 || fingerprint !== last) {
    last = fingerprint
    settledSince = Date.now()
    return
  }
  if (Date.now() - settledSince < SETTLE_MS) return
  clearInterval(timer)
  void finish()
}, 50)

async function finish(): Promise<void> {
  runner.stop()
  await running
  const s = runner.status()[0]!
  await log.close()
  process.stdout.write(`done ${line(s)}\n`)
  process.exit(0)
}
