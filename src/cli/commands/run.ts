/**
 * `sluice run <file.ts>`: runs the pipelines a TypeScript file declares, on the embedded log,
 * until Ctrl-C or SIGTERM; then commits once more and exits 0 (nothing processed is lost).
 *
 * The file is imported as a module: every `pipeline(...)` it declares runs (or, if it has a
 * default export, the Pipeline or Pipeline[] it exports). Node 24 runs `.ts` directly.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Connector, declaredConnectors } from '../../connectors/connect.ts'
import { ConnectorRunner } from '../../connectors/runner.ts'
import type { ConnectorStatus } from '../../connectors/status.ts'
import { declaredPipelines, Pipeline } from '../../dsl/pipeline.ts'
import type { TopicDef } from '../../dsl/topic.ts'
import { SluiceError } from '../../errors.ts'
import { openEmbeddedLog } from '../../log/index.ts'
import { openKafkaLog } from '../../log/kafka/index.ts'
import type { Log } from '../../log/types.ts'
import { GroupRunner } from '../../runtime/group/group-runner.ts'
import type { PipelineMetrics } from '../../runtime/metrics/snapshot.ts'
import type { QueryableStore } from '../../runtime/query.ts'
import { EmbeddedRunner, type PipelineStatus } from '../../runtime/runner.ts'
import { ThreadedRunner } from '../../runtime/threads/thread-runner.ts'
import type { RunningServer } from '../../server/server.ts'
import { compile } from '../../topology/compile.ts'
import { describe } from '../../topology/describe.ts'
import {
  DATA_DIR_HELP,
  dataDirOf,
  expectPositionals,
  parseCommandArgs,
  parseDurabilityFlag,
  parseIntFlag,
  UsageError,
} from '../args.ts'
import { parseBackend } from '../backend.ts'
import { type Command, EXIT_OK } from '../command.ts'
import { HTTP_HELP, HTTP_OPTIONS, planHttp, startHttp } from '../http-flags.ts'
import { formatCount, printErr, writeOut } from '../output.ts'

const HELP = `Usage: sluice run <pipeline.ts> [options]

Runs the pipelines declared in a TypeScript file on the embedded log in --data-dir (or, with
--backend kafka://…, as a worker on Apache Kafka), until Ctrl-C (SIGINT) or SIGTERM; then
commits what was processed and exits 0. A restart resumes exactly where the last commit left
off (outputs, state and offsets commit together).

On Kafka, start the same command on more machines (or more times): the workers join one
consumer group per pipeline and share its tasks; state moves with the tasks through
compacted changelog topics.

Shows one status line per pipeline on a terminal (records/s, lag, watermark, open windows,
dead letters); without a terminal, prints the same as a line every 10 s to stderr.

Options:
  --describe                print each pipeline's topology and exit
  --commit-interval <ms>    longest wait for a commit under load (default 100 in-thread,
                            5 with worker threads; a drained input commits at once)
  --threads <n>             worker threads the tasks run on (default: the machine's cores,
                            here ${availableParallelism()}); 0 or 1 runs every task in the main thread
  --durability sync|interval
                            sync (default): fsync every commit; interval: fsync every 100 ms
  --backend <url>           embedded (default) or kafka://host:port[,host:port] (kafkas:// for
                            TLS; kafka://user:pass@host:port?sasl=scram-sha-512 for SASL);
                            default: $SLUICE_BACKEND
  --guarantee exactly-once|at-least-once
                            Kafka only. exactly-once (default): Kafka transactions;
                            at-least-once: lower latency, a crash replays (duplicates)
  --instance-id <id>        Kafka only: this worker's stable name; a restarted worker with the
                            same id fences its predecessor's open transaction at once
${HTTP_HELP}
  --advertise <url>         Kafka only: the URL other workers reach this one's HTTP server at,
                            to send it queries for the keys it holds (default: the address it
                            serves on)
  --state-dir <dir>         Kafka only: local checkpoints of task state, so a task that comes
                            back replays only the changelog written since (default:
                            <data-dir>/checkpoints; workers on one machine may share it)
${DATA_DIR_HELP}

Example:
  sluice run examples/card-velocity.ts
  sluice run examples/card-velocity.ts --describe
  sluice run examples/card-velocity.ts --backend kafka://127.0.0.1:9092
  SLUICE_BACKEND=kafka://127.0.0.1:9092 sluice run examples/card-velocity.ts --instance-id w1
`

async function loadFile(file: string): Promise<{ pipelines: Pipeline[]; connectors: Connector[] }> {
  const path = resolve(file)
  if (!existsSync(path)) throw new UsageError('run', `no such file: ${file}`)
  const before = declaredPipelines().length
  const connectorsBefore = declaredConnectors().length
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown }
  const exported = mod.default
  const pipelines =
    exported instanceof Pipeline
      ? [exported]
      : Array.isArray(exported) && exported.every((p) => p instanceof Pipeline)
        ? (exported as Pipeline[])
        : declaredPipelines().slice(before)
  const connectors = declaredConnectors().slice(connectorsBefore)
  if (pipelines.length === 0 && connectors.length === 0) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `${file} declares no pipeline and no connector: call pipeline('name').from(topic(...))... ` +
        "or connect('name', { from, to }) in it (or export default a pipeline)",
    )
  }
  return { pipelines, connectors }
}

/** Every topic the file declares with a type: what ingest validates against. */
function declaredTopics(
  pipelines: readonly Pipeline[],
  connectors: readonly Connector[],
): TopicDef<unknown>[] {
  const defs: TopicDef<unknown>[] = []
  for (const p of pipelines) {
    for (const n of p.nodes) {
      if ('topic' in n.op && n.op.topic) defs.push(n.op.topic as TopicDef<unknown>)
    }
  }
  for (const c of connectors) defs.push(c.topic as TopicDef<unknown>)
  return defs
}

function statusLine(s: PipelineStatus, perSecond: number): string {
  const wm = Number.isFinite(s.watermark)
    ? new Date(s.watermark).toISOString().replace('.000Z', 'Z')
    : 'none yet'
  return (
    `${s.pipeline}  ${formatCount(perSecond)} rec/s  tasks ${s.tasks}  in ${formatCount(s.recordsIn)}  out ${formatCount(s.recordsOut)}` +
    `  lag ${formatCount(s.lag)}  watermark ${wm}  windows ${formatCount(s.openWindows)}` +
    `  late ${formatCount(s.lateRecords)}  dead letters ${formatCount(s.deadLetters)}`
  )
}

/** The runner of a file that declares connectors only: nothing to run, nothing to query. */
class NoPipelines {
  async start(): Promise<void> {}
  stop(): void {}
  async run(): Promise<void> {}
  status(): PipelineStatus[] {
    return []
  }
  metrics(): PipelineMetrics[] {
    return []
  }
  queryableSteps(): Record<string, string[]> {
    return {}
  }
  store(step: string): QueryableStore {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `no running pipeline has a step "${step}": this file declares connectors only`,
    )
  }
}

function connectorLine(c: ConnectorStatus, perSecond: number): string {
  const verb = c.kind === 'sink' ? `${c.topic} → ${c.type}` : `${c.type} → ${c.topic}`
  const problem = c.state === 'retrying' && c.lastError ? `  retrying: ${c.lastError.slice(0, 120)}` : ''
  return (
    `${c.name}  ${verb}  ${c.state}  ${formatCount(perSecond)} rec/s  records ${formatCount(c.records)}` +
    `  dead letters ${formatCount(c.deadLetters)}${problem}`
  )
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run the pipelines of a TypeScript file (embedded log, or a worker on Kafka)',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs('run', args, {
      describe: { type: 'boolean' },
      'commit-interval': { type: 'string' },
      durability: { type: 'string' },
      threads: { type: 'string' },
      backend: { type: 'string' },
      guarantee: { type: 'string' },
      'instance-id': { type: 'string' },
      'state-dir': { type: 'string' },
      ...HTTP_OPTIONS,
      advertise: { type: 'string' },
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    const [file] = expectPositionals('run', positionals, ['pipeline.ts'])
    const durability = parseDurabilityFlag('run', values.durability)
    const commitIntervalMs =
      values['commit-interval'] === undefined
        ? undefined
        : parseIntFlag('run', 'commit-interval', values['commit-interval'], 1)
    const threads =
      values.threads === undefined
        ? availableParallelism()
        : parseIntFlag('run', 'threads', values.threads, 0)
    const backend = parseBackend('run', values.backend ?? process.env.SLUICE_BACKEND)
    const guarantee = values.guarantee ?? 'exactly-once'
    if (guarantee !== 'exactly-once' && guarantee !== 'at-least-once') {
      throw new UsageError('run', `--guarantee takes exactly-once or at-least-once, got "${guarantee}"`)
    }
    if (
      backend.kind === 'embedded' &&
      (values.guarantee !== undefined ||
        values['instance-id'] !== undefined ||
        values['state-dir'] !== undefined ||
        values.advertise !== undefined)
    ) {
      throw new UsageError(
        'run',
        '--guarantee, --instance-id, --state-dir and --advertise apply to --backend kafka://…; the embedded log keeps ' +
          'its state in --data-dir and is always exactly-once',
      )
    }
    const http = planHttp('run', values)
    const { pipelines, connectors } = await loadFile(file!)
    if (values.describe) {
      await writeOut(`${pipelines.map((p) => describe(compile(p))).join('\n\n')}\n`)
      return EXIT_OK
    }
    const interval = commitIntervalMs === undefined ? {} : { commitIntervalMs }
    let log: Log
    let runner: EmbeddedRunner | ThreadedRunner | GroupRunner | NoPipelines
    let where: string
    // Messages between status redraws; on a terminal they go above the status block.
    let note = (message: string) => printErr(message)
    if (backend.kind === 'kafka') {
      log = await openKafkaLog({
        brokers: backend.brokers,
        ...(backend.tls ? { tls: backend.tls } : {}),
        ...(backend.sasl ? { sasl: backend.sasl } : {}),
      })
      const instanceId = values['instance-id']
      let lastOutage = 0
      runner =
        pipelines.length === 0
          ? new NoPipelines()
          : new GroupRunner(log, pipelines, {
              ...interval,
              guarantee,
              onOutage: (error) => {
                if (Date.now() - lastOutage < 5_000) return
                lastOutage = Date.now()
                printErr(
                  `sluice: Kafka unreachable, retrying (state is rebuilt from the last commit): ${error.message}`,
                )
              },
              ...(instanceId === undefined ? {} : { instanceId }),
              stateDir: resolve(values['state-dir'] ?? join(dataDirOf(values), 'checkpoints')),
              onRestore: (r) =>
                note(
                  `sluice: ${r.pipeline}: restored ${r.tasks} task${r.tasks === 1 ? '' : 's'} in ${r.ms} ms: ` +
                    `${formatCount(r.fromCheckpoints)} entries from local checkpoints, ${formatCount(r.replayed)} changelog records`,
                ),
              onRewind: (r) =>
                note(
                  `sluice: ${r.pipeline}: a rebalance failed a commit; ${r.tasks} task${r.tasks === 1 ? '' : 's'} went back ` +
                    `to the last commit from memory in ${r.ms} ms (nothing restored)`,
                ),
              onCheckpointError: (error) =>
                note(
                  `sluice: could not write a checkpoint (restores replay more of the changelog): ${error.message}`,
                ),
            })
      where = `Kafka ${backend.brokers.join(',')} (${guarantee}${runner instanceof GroupRunner ? `, worker ${runner.instanceId}` : ''})`
    } else {
      const embedded = await openEmbeddedLog({
        dataDir: dataDirOf(values),
        ...(durability ? { durability } : {}),
      })
      log = embedded
      // The workers import the file again and pick the same pipelines by name.
      runner =
        pipelines.length === 0
          ? new NoPipelines()
          : threads > 1
            ? new ThreadedRunner(embedded, pipelines, { ...interval, threads, module: resolve(file!) })
            : new EmbeddedRunner(embedded, pipelines, interval)
      where =
        `${embedded.dataDir} (${embedded.durability}, ` +
        `${runner instanceof ThreadedRunner ? `up to ${threads} worker threads, one per task at most` : 'in-process'})`
    }
    let stopping = false
    let stopRequested = () => {}
    const stopped = new Promise<void>((resolve) => {
      stopRequested = resolve
    })
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        printErr(`sluice: ${signal} again: exiting without the final commit`)
        process.exit(130)
      }
      stopping = true
      printErr(`\nsluice: ${signal}: committing and stopping…`)
      runner.stop()
      stopRequested()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let server: RunningServer | null = null
    const connectorRunner = new ConnectorRunner(log, connectors, { report: (m) => note(`sluice: ${m}`) })
    try {
      await runner.start()
      connectorRunner.start()
      const names = [
        ...pipelines.map((p) => p.name),
        ...connectors.map((c) => `${c.name} (${c.kind === 'sink' ? c.sink.type : c.source.type})`),
      ]
      printErr(`sluice: running ${names.join(', ')} on ${where}; Ctrl-C stops`)
      if (http) {
        const started = await startHttp(http, {
          log,
          runner,
          connectors: () => connectorRunner.status(),
          topics: declaredTopics(pipelines, connectors),
          topologies: pipelines.map((p) => compile(p)),
          ...(runner instanceof GroupRunner ? { instanceId: runner.instanceId } : {}),
        })
        server = started.server
        printErr(started.banner)
        if (server && runner instanceof GroupRunner) {
          // Other workers send this one the queries for the keys it holds.
          runner.advertise(values.advertise ?? server.url)
        }
      }
      const tty = process.stderr.isTTY === true
      let last = runner.status()
      let lastConnectors = connectorRunner.status()
      let lastAt = Date.now()
      const show = () => {
        const now = Date.now()
        const status = runner.status()
        const connectorStatus = connectorRunner.status()
        const lines = [
          ...status.map((s, i) =>
            statusLine(s, ((s.recordsIn - last[i]!.recordsIn) * 1000) / (now - lastAt)),
          ),
          ...connectorStatus.map((c, i) =>
            connectorLine(c, ((c.records - lastConnectors[i]!.records) * 1000) / (now - lastAt)),
          ),
        ]
        last = status
        lastConnectors = connectorStatus
        lastAt = now
        if (tty) process.stderr.write(`\x1b[${lines.length}A\x1b[0J${lines.join('\n')}\n`)
        else printErr(lines.join('\n'))
      }
      if (tty) {
        const n = pipelines.length + connectors.length
        process.stderr.write('\n'.repeat(n))
        note = (message) => process.stderr.write(`\x1b[${n}A\x1b[0J${message}\n${'\n'.repeat(n)}`)
      }
      const timer = setInterval(show, tty ? 1_000 : 10_000)
      try {
        // A file of connectors only has no pipeline to wait for: run until a signal.
        await (pipelines.length > 0 ? runner.run() : stopped)
      } finally {
        clearInterval(timer)
      }
      show()
      printErr('sluice: stopped after a final commit')
      return EXIT_OK
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await server?.close()
      await connectorRunner.stop()
      await log.close()
    }
  },
}
