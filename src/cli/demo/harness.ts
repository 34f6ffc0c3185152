/**
 * Runs a demo end to end, the same way for every demo: its pipelines as `sluice run` would
 * start them (the embedded log in a temporary directory, or a worker on Kafka with per-run
 * topics), its connectors, the HTTP server with the dashboard, then its feed; Ctrl-C stops the
 * feed and scores what the pipelines decided; everything is closed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ConnectorRunner } from '../../connectors/runner.ts'
import type { TopicDef } from '../../dsl/topic.ts'
import { openEmbeddedLog } from '../../log/index.ts'
import { openKafkaLog } from '../../log/kafka/index.ts'
import type { Log } from '../../log/types.ts'
import { GroupRunner } from '../../runtime/group/group-runner.ts'
import { EmbeddedRunner } from '../../runtime/runner.ts'
import type { RunningServer } from '../../server/server.ts'
import { compile } from '../../topology/compile.ts'
import { parseDuration } from '../../util/duration.ts'
import { expectPositionals, parseCommandArgs, parseIntFlag, parseWith, UsageError } from '../args.ts'
import { parseBackend } from '../backend.ts'
import { EXIT_OK } from '../command.ts'
import { HTTP_HELP, HTTP_OPTIONS, planHttp, startHttp } from '../http-flags.ts'
import { formatCount, printErr, writeOut } from '../output.ts'
import type { DemoExtras, DemoFlags, DemoSpec, DemoTopics } from './spec.ts'

const CMD = 'demo'

/** The options every demo takes, as its `--help` lists them. */
export function commonHelp(spec: DemoSpec): string {
  return `  --rate <n>                ${spec.unit} per second (default ${spec.defaultRate})
  --events <n>              stop after this many ${spec.unit}
  --duration <d>            stop after this long, e.g. 30s or 5m (default: until Ctrl-C)
  --seed <n>                the generator's seed (default 1)
  --backend <url>           embedded (default) or kafka://host:port[,host:port]: the same, as a
                            worker on Kafka (topics get a per-run suffix, and stay)
${HTTP_HELP}
  --data-dir <dir>          where the embedded log lives: an empty or new directory, kept
                            afterwards (default: a temporary directory, removed at the end)
  -h, --help                show this help`
}

export async function runDemo<T extends DemoTopics>(spec: DemoSpec<T>, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(CMD, args, {
    rate: { type: 'string' },
    events: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
    ...HTTP_OPTIONS,
    ...spec.options,
  })
  if (values.help) {
    await writeOut(spec.help(commonHelp(spec as unknown as DemoSpec)))
    return EXIT_OK
  }
  expectPositionals(CMD, positionals, ['name'])
  const rate = values.rate === undefined ? spec.defaultRate : parseIntFlag(CMD, 'rate', values.rate, 1)
  const events = values.events === undefined ? undefined : parseIntFlag(CMD, 'events', values.events, 1)
  const durationMs =
    values.duration === undefined
      ? undefined
      : parseWith(CMD, 'duration', () => parseDuration(values.duration!, '--duration'))
  const seed = values.seed === undefined ? 1 : parseIntFlag(CMD, 'seed', values.seed, 0)
  const backend = parseBackend(CMD, values.backend ?? process.env.SLUICE_BACKEND)
  if (backend.kind === 'kafka' && values['data-dir'] !== undefined) {
    throw new UsageError(CMD, '--data-dir is for the embedded log; with --backend kafka://… drop it')
  }
  const http = planHttp(CMD, values)

  // On Kafka a run gets topics of its own: earlier runs' state and results would blur the score.
  const suffix = backend.kind === 'kafka' ? `-${Date.now().toString(36)}` : ''
  const topics = spec.topics(suffix)
  const pipelines = spec.pipelines(`${spec.pipelineName}${suffix}`, topics)
  const extras: DemoExtras = spec.prepare
    ? await spec.prepare(values as DemoFlags, topics)
    : { connectors: [] }

  let log: Log
  let runner: EmbeddedRunner | GroupRunner
  let removeAtEnd: string | null = null
  try {
    if (backend.kind === 'kafka') {
      log = await openKafkaLog({
        brokers: backend.brokers,
        ...(backend.tls ? { tls: backend.tls } : {}),
        ...(backend.sasl ? { sasl: backend.sasl } : {}),
      })
      removeAtEnd = mkdtempSync(join(tmpdir(), 'sluice-demo-state-'))
      runner = new GroupRunner(log, pipelines, { guarantee: 'exactly-once', stateDir: removeAtEnd })
      printErr(
        `sluice: ${spec.name} demo on Kafka ${backend.brokers.join(',')}: topics ${Object.values(topics)
          .map((t) => t.name)
          .join(', ')}`,
      )
    } else {
      const given = values['data-dir']
      const dataDir =
        given === undefined ? mkdtempSync(join(tmpdir(), `sluice-demo-${spec.name}-`)) : resolve(given)
      if (given === undefined) removeAtEnd = dataDir
      const embedded = await openEmbeddedLog({ dataDir, durability: 'interval' })
      log = embedded
      const first = Object.values(topics)[0]!
      if (await log.hasTopic(first.name)) {
        await log.close()
        throw new UsageError(
          CMD,
          `--data-dir ${dataDir} already holds a ${spec.name} demo run, whose state and results would blur the score: ` +
            'pick an empty or new directory (or leave --data-dir out for a temporary one)',
        )
      }
      runner = new EmbeddedRunner(embedded, pipelines)
      printErr(
        `sluice: ${spec.name} demo on the embedded log in ${dataDir}${removeAtEnd ? ' (removed at the end)' : ''}`,
      )
    }
  } catch (error) {
    await extras.close?.()
    throw error
  }

  const connectorRunner = new ConnectorRunner(log, extras.connectors, {
    report: (m) => printErr(`sluice: ${m}`),
  })
  let server: RunningServer | null = null
  const stop = new AbortController()
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      printErr(`sluice: ${signal} again: exiting without the score`)
      process.exit(130)
    }
    printErr(`\nsluice: ${signal}: stopping the feed, scoring what the pipeline decided…`)
    stop.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await runner.start()
    const running = runner.run()
    // Awaited after the feed; a failure meanwhile shows in the status and fails the drain.
    running.catch(() => {})
    connectorRunner.start()
    if (http) {
      const parts = {
        log,
        runner,
        connectors: () => connectorRunner.status(),
        topics: Object.values(topics) as TopicDef<unknown>[],
        topologies: pipelines.map((p) => compile(p)),
        ...(runner instanceof GroupRunner ? { instanceId: runner.instanceId } : {}),
      }
      let started = await startHttp(http, parts)
      // A demo without its dashboard misses its point (and `npm start` must work the first
      // time): when the default port is taken, any free one will do. `sluice run` instead
      // goes on without HTTP, since there another worker may hold the port on purpose.
      if (!started.server && !http.explicitPort) {
        printErr(`sluice: port ${http.port} is in use; serving the dashboard on a free port instead`)
        started = await startHttp({ ...http, port: 0 }, parts)
      }
      server = started.server
      printErr(started.banner)
      if (server) printErr(spec.guide(server.url, topics))
    }
    const limits = [
      events === undefined ? null : `${formatCount(events)} ${spec.unit}`,
      durationMs === undefined ? null : values.duration,
    ].filter((l) => l !== null)
    printErr(
      `sluice: feeding ${formatCount(rate)} ${spec.unit}/s (seed ${seed}) ` +
        `${limits.length > 0 ? `for ${limits.join(' or ')}` : 'until Ctrl-C'}`,
    )
    const result = await spec.feed({
      log,
      runner,
      topics,
      rate,
      seed,
      signal: stop.signal,
      flags: values as DemoFlags,
      ...(events === undefined ? {} : { events }),
      ...(durationMs === undefined ? {} : { durationMs }),
    })
    await extras.afterFeed?.(connectorRunner, result)
    await writeOut(`${result.lines.join('\n')}\n`)
    runner.stop()
    await running
    return EXIT_OK
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    runner.stop()
    await server?.close()
    await connectorRunner.stop()
    await log.close()
    await extras.close?.()
    if (removeAtEnd) rmSync(removeAtEnd, { recursive: true, force: true })
  }
}
