/**
 * The semantics scenarios (test/semantics/scenarios.ts) on the embedded log: with the
 * embedded runner, and with a consumer-group worker (the runner Kafka uses), each on a fresh
 * log. test/integration/kafka/semantics-kafka.test.ts runs the same scenarios on Kafka.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type EmbeddedLog, EmbeddedRunner, GroupRunner, openEmbeddedLog, type Pipeline } from 'sluice'
import { tempDir } from '../../helpers/temp-dir.ts'
import { runScenario, sortValues } from '../../semantics/run-scenario.ts'
import { scenarios } from '../../semantics/scenarios.ts'

const runners = {
  'embedded runner': (log: EmbeddedLog, pipelines: Pipeline[]) => new EmbeddedRunner(log, pipelines),
  'group worker': (log: EmbeddedLog, pipelines: Pipeline[]) => new GroupRunner(log, pipelines),
}

for (const [label, make] of Object.entries(runners)) {
  describe(`semantics scenarios: ${label}, embedded log`, () => {
    for (const scenario of scenarios(`${label.split(' ')[0]}${process.pid}`)) {
      test(scenario.name, async () => {
        const log = await openEmbeddedLog({ dataDir: tempDir() })
        try {
          const out = await runScenario(log, scenario, (_, pipelines) => make(log, pipelines))
          const expected = Object.fromEntries(
            Object.entries(scenario.expected).map(([k, v]) => [k, sortValues(v)]),
          )
          assert.deepEqual(out, expected)
        } finally {
          await log.close()
        }
      })
    }
  })
}
