/**
 * Engine semantics on the Kafka backend: every scenario of test/semantics/scenarios.ts (windows
 * of each kind with out-of-order and late records, keyBy through a repartition topic,
 * event-time timers, running aggregates, merge/split and dead letters) on a consumer-group
 * worker over Kafka, exactly-once, must commit the same hand-computed results as on the
 * embedded log (test/unit/engine/scenarios.test.ts). Outputs are read read_committed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { GroupRunner, type Log } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import { runScenario, sortValues } from '../../semantics/run-scenario.ts'
import { scenarios } from '../../semantics/scenarios.ts'

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = `${Date.now().toString(36)}${process.pid}`

let kafka: Log
before(async () => {
  kafka = await openKafkaLog({ brokers })
})
after(async () => {
  for (const t of await kafka.listTopics()) if (t.includes(run)) await kafka.deleteTopic(t).catch(() => {})
  await kafka.close()
})

describe('semantics scenarios: group worker on Kafka, exactly-once', () => {
  for (const scenario of scenarios(run)) {
    test(scenario.name, async () => {
      const out = await runScenario(kafka, scenario, (log, pipelines) => new GroupRunner(log, pipelines))
      const expected = Object.fromEntries(
        Object.entries(scenario.expected).map(([k, v]) => [k, sortValues(v)]),
      )
      assert.deepEqual(out, expected)
    })
  }
})
