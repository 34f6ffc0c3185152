/**
 * `sluice demo fraud`: the fraud-detection example (examples/fraud/) — generated card
 * transactions, five rules, alerts scored against the fraud cases the generator injected.
 */
import { FraudGenerator } from '../../../examples/fraud/generator.ts'
import { type FraudTopics, fraudPipeline, fraudTopics } from '../../../examples/fraud/pipeline.ts'
import { formatScore, type Score, score } from '../../../examples/fraud/score.ts'
import { UsageError } from '../args.ts'
import { formatCount, printErr } from '../output.ts'
import { collect, pace, paceOf, progressLine, settle, watermarkOf } from './feed.ts'
import type { DemoSpec } from './spec.ts'

const brief = (s: Score) =>
  `precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} (${s.detected}/${s.cases} cases)`

export const fraudDemo: DemoSpec<FraudTopics> = {
  name: 'fraud',
  pipelineName: 'fraud-detection',
  unit: 'transactions',
  defaultRate: 2_000,
  help: (common) => `Usage: sluice demo fraud [options]

Runs the fraud-detection example (examples/fraud/) end to end: starts its pipeline as
"sluice run" would, serves the dashboard, feeds it generated card transactions at --rate per
second, and at the end (or on Ctrl-C) prints how many of the injected fraud cases the alerts
found (recall) and how many alerts were right (precision), per rule and overall.

The transactions depend on --seed only: cards with home countries, typical amounts and the
devices their holders pay from, merchants, about 2% declines, some late deliveries, and
injected cases of five kinds (velocity bursts, three declines then an approval, an amount far
above the card's usual, impossible travel, and fraud rings: several stolen cards paying from
one device). Event time is simulated: about one second per transaction.

Options:
  --postgres <url>          also write the alerts to table fraud_alerts there (created if
                            missing), e.g. postgres://postgres@127.0.0.1:5432/test
${common}

Example:
  sluice demo fraud                                   # open http://127.0.0.1:8080/, Ctrl-C to score
  sluice demo fraud --events 20000 --port 0
  sluice demo fraud --rate 500 --duration 2m --seed 7
  sluice demo fraud --backend kafka://127.0.0.1:9092
  sluice demo fraud --postgres postgres://postgres@127.0.0.1:5432/test
`,
  options: { postgres: { type: 'string' } },
  topics: fraudTopics,
  pipelines: (name, topics) => [fraudPipeline(name, topics)],

  async prepare(flags, topics) {
    const url = flags.postgres
    if (typeof url !== 'string') return { connectors: [] }
    // Loaded on use: the other runs need no PostgreSQL client.
    const { alertsToPostgres, createAlertsTable } = await import('../../../examples/fraud/postgres.ts')
    try {
      await createAlertsTable(url)
    } catch (error) {
      throw new UsageError('demo', `--postgres: ${(error as Error).message}`)
    }
    return {
      connectors: [alertsToPostgres(url, topics.alerts)],
      // Score only once every alert is in the table, so what the table holds matches the score.
      async afterFeed(connectors, result) {
        const giveUp = Date.now() + 30_000
        let status = connectors.status()[0]!
        while (status.records + status.deadLetters < result.outputs && Date.now() < giveUp) {
          await new Promise((r) => setTimeout(r, 100))
          status = connectors.status()[0]!
        }
        const problem = status.lastError ? ` (last error: ${status.lastError})` : ''
        printErr(
          `sluice: ${formatCount(status.records)} of ${formatCount(result.outputs)} alerts written to PostgreSQL table fraud_alerts${problem}`,
        )
      },
    }
  },

  guide: (url, topics) =>
    `sluice: open ${url}/ — Overview: the pipeline, its rate and watermark; Results: ` +
    `topic ${topics.alerts.name} as a live table of alerts by card; Pipeline: the five rules ` +
    `(velocity, declined-approved, amount-profile, last-country, and shared-device after the ` +
    `repartition by device); Topics: a live tail of ${topics.transactions.name}`,

  async feed(run) {
    const { log, runner, topics, signal } = run
    const generator = new FraudGenerator({ seed: run.seed })
    const alerts = collect(log, topics.alerts)
    const progress = (sent: number, perSecond: number) => {
      const status = runner.status()
      const live = score(alerts.values, generator.cases, watermarkOf(status))
      printErr(
        `${progressLine('transactions', sent, perSecond, status, `alerts ${formatCount(alerts.values.length)}`)}; live score: ${brief(live)}`,
      )
    }
    try {
      const sent = await pace({
        ...paceOf(run),
        next() {
          const tx = generator.next()
          const record = {
            key: Buffer.from(tx.cardId),
            value: topics.transactions.codec.encode(tx),
            timestamp: Date.parse(tx.at),
          }
          return { topic: topics.transactions.name, record }
        },
        progress,
      })
      printErr(`sluice: sent ${formatCount(sent)} transactions; waiting for the pipeline to process them…`)
      await settle(runner, signal, alerts)
      progress(sent, Number.NaN)
      const final = score(alerts.values, generator.cases, watermarkOf(runner.status()))
      const undecided = generator.cases.length - final.cases
      const lines = [
        `fraud demo: ${formatCount(sent)} transactions, ${formatCount(generator.cases.length)} injected cases` +
          `${undecided > 0 ? ` (${undecided} too recent to decide: left out, with their alerts)` : ''}, ` +
          `${formatCount(alerts.values.length)} alerts`,
        ...formatScore(final),
      ]
      return { lines, outputs: alerts.values.length }
    } finally {
      await alerts.close()
    }
  },
}
