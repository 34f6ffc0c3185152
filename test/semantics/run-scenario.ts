/**
 * Runs a semantics scenario (scenarios.ts) on a Log with a runner: creates its inputs, appends
 * each phase once every group has committed the previous one, stops the runner, and returns
 * every output topic's committed values (read_committed on Kafka), sorted.
 */
import { compile, type Log, type Pipeline } from 'sluice'
import type { Scenario } from './scenarios.ts'

export interface ScenarioRunner {
  start(): Promise<void>
  run(): Promise<void>
  stop(): void
}

export async function runScenario(
  log: Log,
  scenario: Scenario,
  makeRunner: (log: Log, pipelines: Pipeline[]) => ScenarioRunner,
  timeoutMs = 60_000,
): Promise<Record<string, unknown[]>> {
  for (const t of scenario.inputs) await log.createTopic(t.name, { partitions: t.partitions ?? 1 })
  const runner = makeRunner(log, scenario.pipelines)
  await runner.start()
  const running = runner.run()
  let failed: unknown = null
  running.catch((error) => {
    failed = error
  })
  const producer = log.producer()
  try {
    for (const [i, phase] of scenario.phases.entries()) {
      for (const a of phase.append) {
        await producer.send(a.topic, {
          ...(a.key === undefined ? {} : { key: Buffer.from(a.key) }),
          // A null value is a tombstone (a table's delete).
          value: a.value === null ? null : Buffer.from(JSON.stringify(a.value)),
          ...(a.partition === undefined ? {} : { partition: a.partition }),
        })
      }
      await settled(log, scenario.pipelines, timeoutMs, () => failed)
      for (const [label, expected] of Object.entries(phase.expect ?? {})) {
        const actual = await values(log, scenario.outputs[label]!)
        const want = sortValues(expected)
        if (JSON.stringify(actual) !== JSON.stringify(want)) {
          throw new Error(
            `after phase ${i + 1}, output "${label}" is ${JSON.stringify(actual)}; expected ${JSON.stringify(want)}`,
          )
        }
      }
    }
  } finally {
    await producer.close()
    runner.stop()
    await running.catch(() => {})
  }
  if (failed) throw failed
  const out: Record<string, unknown[]> = {}
  for (const [label, name] of Object.entries(scenario.outputs)) out[label] = await values(log, name)
  return out
}

/** Every input of every pipeline (sources and repartition topics) committed to its end. */
async function settled(
  log: Log,
  pipelines: Pipeline[],
  timeoutMs: number,
  failed: () => unknown,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const inputs = pipelines.map((p) => {
    const topology = compile(p)
    return {
      group: p.name,
      topics: [...new Set(topology.subtopologies.flatMap((s) => s.sources.map((x) => x.topic)))],
    }
  })
  for (;;) {
    let behind = ''
    for (const { group, topics } of inputs) {
      for (const topic of topics) {
        if (!(await log.hasTopic(topic))) {
          behind = `${topic} does not exist yet`
          break
        }
        const committed = await log.committedOffsets(group, topic)
        for (const { partition } of (await log.describeTopic(topic)).partitionDetails) {
          const end = await log.resolveOffset({ topic, partition }, 'latest')
          const at = committed.get(partition) ?? 0
          if (at < end) behind = `${group} at ${at} of ${end} on ${topic}/${partition}`
        }
      }
    }
    if (!behind) return
    if (failed()) throw failed()
    if (Date.now() > deadline) throw new Error(`the scenario did not settle in ${timeoutMs} ms: ${behind}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function values(log: Log, name: string): Promise<unknown[]> {
  const out: unknown[] = []
  if (!(await log.hasTopic(name))) return out
  for (const { partition } of (await log.describeTopic(name)).partitionDetails) {
    const tp = { topic: name, partition }
    const end = await log.resolveOffset(tp, 'latest')
    let offset = await log.resolveOffset(tp, 'earliest')
    while (offset < end) {
      const batch = await log.fetch(tp, offset)
      if (batch.length === 0) break
      for (const r of batch) out.push(r.value === null ? null : JSON.parse(Buffer.from(r.value).toString()))
      offset = batch[batch.length - 1]!.offset + 1
    }
  }
  return sortValues(out)
}

/** Values in a stable order (by their JSON), to compare multisets. */
export function sortValues(values: readonly unknown[]): unknown[] {
  return [...values].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))
}
