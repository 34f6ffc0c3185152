/**
 * `sluice demo fraud`: the fraud-detection example end to end. Starts the pipeline of
 * examples/fraud/pipeline.ts the way `sluice run` does (embedded log, or a worker on Kafka;
 * the HTTP server with the dashboard), feeds it generated card transactions at a steady rate,
 * and scores the alerts against the fraud cases the generator injected.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Alert } from '../../../examples/fraud/pipeline.ts'
import type { Connector } from '../../connectors/connect.ts'
import { ConnectorRunner } from '../../connectors/runner.ts'
import type { Pipeline } from '../../dsl/pipeline.ts'
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
import { type Command, EXIT_OK } from '../command.ts'
import { HTTP_HELP, HTTP_OPTIONS, planHttp, startHttp } from '../http-flags.ts'
import { formatCount, printErr, writeOut } from '../output.ts'

const HELP = `Usage: sluice demo fraud [options]

Runs the fraud-detection example (examples/fraud/) end to end: starts its pipeline as
"sluice run" would, serves the dashboard, feeds it generated card transactions at --rate per
second, and at the end (or on Ctrl-C) prints how many of the injected fraud cases the alerts
found (recall) and how many alerts were right (precision), per rule and overall.

The transactions depend on --seed only: cards with home countries and typical amounts,
merchants, about 2% declines, some late deliveries, and injected cases of four kinds
(velocity bursts, three declines then an approval, an amount far above the card's usual,
impossible travel). Event time is simulated: about one second per transaction.

Options:
  --rate <n>                transactions per second (default 2000)
  --events <n>              stop after this many transactions
  --duration <d>            stop after this long, e.g. 30s or 5m (default: until Ctrl-C)
  --seed <n>                the generator's seed (default 1)
  --backend <url>           embedded (default) or kafka://host:port[,host:port]: the same, as a
                            worker on Kafka (topics get a per-run suffix, and stay)
  --postgres <url>          also write the alerts to table fraud_alerts there (created if
                            missing), e.g. postgres://postgres@127.0.0.1:5432/test
${HTTP_HELP}
  --data-dir <dir>          where the embedded log lives: an empty or new directory, kept
                            afterwards (default: a temporary directory, removed at the end)
  -h, --help                show this help

Example:
  sluice demo fraud                                   # open http://127.0.0.1:8080/, Ctrl-C to score
  sluice demo fraud --events 20000 --port 0
  sluice demo fraud --rate 500 --duration 2m --seed 7
  sluice demo fraud --backend kafka://127.0.0.1:9092
  sluice demo fraud --postgres postgres://postgres@127.0.0.1:5432/test
`

const CMD = 'demo'

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a demo end to end with the dashboard: sluice demo fraud',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(CMD, args, {
      rate: { type: 'string' },
      events: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      postgres: { type: 'string' },
      ...HTTP_OPTIONS,
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    const [which] = expectPositionals(CMD, positionals, ['name'])
    if (which !== 'fraud') {
      throw new UsageError(CMD, `unknown demo "${which}"; the demos are: fraud`)
    }
    const rate = values.rate === undefined ? 2_000 : parseIntFlag(CMD, 'rate', values.rate, 1)
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
    // Loaded on use: the other commands need neither the example nor zod.
    const { fraudPipeline, fraudTopics } = await import('../../../examples/fraud/pipeline.ts')
    const { feedFraud } = await import('./demo-fraud-feed.ts')
    const postgresUrl = values.postgres
    let toPostgres: (alerts: TopicDef<Alert>) => Connector[] = () => []
    if (postgresUrl !== undefined) {
      const { alertsToPostgres, createAlertsTable } = await import('../../../examples/fraud/postgres.ts')
      try {
        await createAlertsTable(postgresUrl)
      } catch (error) {
        throw new UsageError(CMD, `--postgres: ${(error as Error).message}`)
      }
      toPostgres = (alerts) => [alertsToPostgres(postgresUrl, alerts)]
    }

    let log: Log
    let runner: EmbeddedRunner | GroupRunner
    let pipeline: Pipeline
    let topics: ReturnType<typeof fraudTopics>
    let removeAtEnd: string | null = null
    if (backend.kind === 'kafka') {
      // A run of its own: earlier runs' state and alerts would blur the score.
      const suffix = `-${Date.now().toString(36)}`
      topics = fraudTopics(suffix)
      pipeline = fraudPipeline(`fraud-detection${suffix}`, topics)
      log = await openKafkaLog({
        brokers: backend.brokers,
        ...(backend.tls ? { tls: backend.tls } : {}),
        ...(backend.sasl ? { sasl: backend.sasl } : {}),
      })
      removeAtEnd = mkdtempSync(join(tmpdir(), 'sluice-demo-state-'))
      runner = new GroupRunner(log, [pipeline], { guarantee: 'exactly-once', stateDir: removeAtEnd })
      printErr(
        `sluice: fraud demo on Kafka ${backend.brokers.join(',')}: topics ${topics.transactions.name}, ${topics.alerts.name}`,
      )
    } else {
      topics = fraudTopics()
      pipeline = fraudPipeline('fraud-detection', topics)
      const given = values['data-dir']
      const dataDir = given === undefined ? mkdtempSync(join(tmpdir(), 'sluice-demo-fraud-')) : resolve(given)
      if (given === undefined) removeAtEnd = dataDir
      const embedded = await openEmbeddedLog({ dataDir, durability: 'interval' })
      log = embedded
      if (await log.hasTopic(topics.transactions.name)) {
        await log.close()
        throw new UsageError(
          CMD,
          `--data-dir ${dataDir} already holds a fraud demo run, whose state and alerts would blur the score: ` +
            'pick an empty or new directory (or leave --data-dir out for a temporary one)',
        )
      }
      runner = new EmbeddedRunner(embedded, [pipeline])
      printErr(
        `sluice: fraud demo on the embedded log in ${dataDir}${removeAtEnd ? ' (removed at the end)' : ''}`,
      )
    }

    const connectorRunner = new ConnectorRunner(log, toPostgres(topics.alerts), {
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
        const started = await startHttp(http, {
          log,
          runner,
          connectors: () => connectorRunner.status(),
          topics: [topics.transactions, topics.alerts] as TopicDef<unknown>[],
          topologies: [compile(pipeline)],
          ...(runner instanceof GroupRunner ? { instanceId: runner.instanceId } : {}),
        })
        server = started.server
        printErr(started.banner)
        if (server) {
          printErr(
            `sluice: open ${server.url}/ — Overview: ${pipeline.name}, its rate and watermark; Results: ` +
              `topic ${topics.alerts.name} as a live table of alerts by card; Pipeline: the four rules ` +
              `(velocity, declined-approved, amount-profile, last-country); Topics: a live tail of ${topics.transactions.name}`,
          )
        }
      }
      const limits = [
        events === undefined ? null : `${formatCount(events)} transactions`,
        durationMs === undefined ? null : values.duration,
      ].filter((l) => l !== null)
      printErr(
        `sluice: feeding ${formatCount(rate)} transactions/s (seed ${seed}) ` +
          `${limits.length > 0 ? `for ${limits.join(' or ')}` : 'until Ctrl-C'}`,
      )
      const { lines, alerts } = await feedFraud({
        log,
        runner,
        topics,
        rate,
        seed,
        signal: stop.signal,
        ...(events === undefined ? {} : { events }),
        ...(durationMs === undefined ? {} : { durationMs }),
      })
      if (postgresUrl !== undefined) await waitForSink(connectorRunner, alerts)
      await writeOut(`${lines.join('\n')}\n`)
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
      if (removeAtEnd) rmSync(removeAtEnd, { recursive: true, force: true })
    }
  },
}

/** Waits until the PostgreSQL sink has written every alert (or 30 s), and says how far it got. */
async function waitForSink(connectors: ConnectorRunner, alerts: number): Promise<void> {
  const giveUp = Date.now() + 30_000
  let status = connectors.status()[0]!
  while (status.records + status.deadLetters < alerts && Date.now() < giveUp) {
    await new Promise((r) => setTimeout(r, 100))
    status = connectors.status()[0]!
  }
  const problem = status.lastError ? ` (last error: ${status.lastError})` : ''
  printErr(
    `sluice: ${formatCount(status.records)} of ${formatCount(alerts)} alerts written to PostgreSQL table fraud_alerts${problem}`,
  )
}
