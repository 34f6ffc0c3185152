/**
 * The demos on Kafka, as a user runs them: `sluice demo <name> --backend kafka://…` with a
 * fixed seed and event count must exit 0 and score as on the embedded log (each run gets its
 * own topics, so earlier runs do not blur the score). Fraud (every rule, the ring rule's
 * repartition by device included), e-commerce (its exact results too) and IoT.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scoreLine, sluice } from '../../helpers/demo-cli.ts'

const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'

for (const [name, args] of [
  ['fraud', ['--events', '3000']],
  ['ecommerce', ['--events', '6000']],
  // Enough simulated time for every kind of case, overheating rooms and their commands too.
  ['iot', ['--events', '15000', '--rate', '5000']],
] as const) {
  test(`sluice demo ${name} --backend kafka:// scores recall ≥ 0.95 and precision ≥ 0.9`, async () => {
    const run = sluice([
      'demo',
      name,
      ...args,
      '--seed',
      '1',
      '--backend',
      `kafka://${brokers}`,
      '--port',
      '0',
    ])
    const { code, stdout } = await run.done
    assert.equal(code, 0, run.stderr())
    const [precision, recall] = scoreLine(stdout)
    assert.ok(recall >= 0.95 && precision >= 0.9, stdout)
    assert.match(run.stderr(), /demo on Kafka/)
    if (name === 'fraud') {
      // Every rule had cases, the ring rule too: its repartition by device works on Kafka.
      const rules = [...stdout.matchAll(/^([\w-]+) +cases +(\d+) +detected +(\d+)/gm)]
      assert.deepEqual(rules.map((m) => m[1]).sort(), [
        'amount-spike',
        'declined-approved',
        'fraud-ring',
        'impossible-travel',
        'velocity',
      ])
      for (const m of rules) assert.ok(Number(m[2]) > 0, `${m[1]}: no case decided\n${stdout}`)
    }
    if (name === 'ecommerce') {
      // The trending windows and recommendation lists equal the plain loops', as on the embedded log.
      const m = /exact: (\d+)\/(\d+) trending windows, (\d+)\/(\d+) recommendation lists/.exec(stdout)
      assert.ok(m && Number(m[2]) > 0 && m[1] === m[2] && m[3] === m[4], stdout)
    }
  })
}
