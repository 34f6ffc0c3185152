/**
 * Nexmark on the Kafka backend (`--backend kafka`): the events are appended to a one-partition
 * topic of the broker (not timed), then each query runs as one `GroupRunner` worker in this
 * process — what `sluice run --backend kafka://…` runs — with exactly-once commits (Kafka
 * transactions). The clock runs from the runner's start until the group's committed offsets
 * reach the end of every input, repartition topics included. The CPU time is this process's:
 * the broker's own work is not in the per-core figure (it runs in its own JVM).
 *
 * Every run uses topics and groups of its own (a suffix), left on the broker.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GroupRunner, type Log, type ProducerRecord } from '../../src/index.ts'
import { openKafkaLog } from '../../src/log/kafka/index.ts'
import { compile, type Topology } from '../../src/topology/compile.ts'
import { peakMemory } from '../common.ts'
import { type GeneratorConfig, NexmarkGenerator } from './generator.ts'
import { eventsTopic, queryContext } from './queries/common.ts'
import type { QueryResult } from './report.ts'
import type { QuerySpec } from './suite.ts'

export async function runOnKafka(options: {
  brokers: string[]
  specs: readonly QuerySpec[]
  config: GeneratorConfig
  events: number
  progress: (text: string, final?: boolean) => void
}): Promise<QueryResult[]> {
  const { specs, config, events, progress } = options
  for (const spec of specs) {
    if (spec.files) throw new Error(`${spec.id} writes files on this machine: run it with --backend embedded`)
  }
  const log = await openKafkaLog({ brokers: options.brokers, clientId: 'sluice-bench-nexmark' })
  const run = Date.now().toString(36)
  const input = `nexmark-events-${run}`
  const results: QueryResult[] = []
  try {
    const t0 = performance.now()
    await appendEvents(log, input, config, events, (done) =>
      progress(`appending events to Kafka topic ${input} (not timed): ${done.toLocaleString('en-US')}`),
    )
    progress(
      `appended ${events.toLocaleString('en-US')} events to ${input} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      true,
    )
    for (const spec of specs) {
      progress(`${spec.id} (${spec.title}) running on Kafka`)
      const ctx = queryContext(spec.id, config, { events: eventsTopic(input), suffix: `-${run}` })
      const { pipeline, output } = spec.build(ctx)
      const topology = compile(pipeline)
      const stateDir = mkdtempSync(join(tmpdir(), 'sluice-nexmark-kafka-state-'))
      ;(globalThis as { gc?: () => void }).gc?.()
      const memory = peakMemory()
      const cpu0 = process.cpuUsage()
      const started = process.hrtime.bigint()
      const runner = new GroupRunner(log, [pipeline], { guarantee: 'exactly-once', stateDir })
      let seconds: number
      let cpuSeconds: number
      try {
        await runner.start()
        const done = runner.run()
        let failed: unknown = null
        done.catch((e) => {
          failed = e
        })
        while (!(await caughtUp(log, topology))) {
          if (failed) throw failed
          await new Promise((r) => setTimeout(r, 50))
        }
        runner.stop()
        await done
        seconds = Number(process.hrtime.bigint() - started) / 1e9
        const cpu = process.cpuUsage(cpu0)
        cpuSeconds = (cpu.user + cpu.system) / 1e6
      } finally {
        runner.stop()
        rmSync(stateDir, { recursive: true, force: true })
      }
      const { peakRss, peakHeap } = memory.stop()
      const status = runner.status()[0]!
      if (status.deadLetters > 0)
        throw new Error(`${spec.id}: ${status.deadLetters} records went to dead letters`)
      results.push({
        query: spec.id,
        title: spec.title,
        codec: 'json',
        events,
        outputs: await committedRows(log, output.name),
        seconds,
        cpuSeconds,
        peakRss,
        peakHeap,
        commits: status.commits,
      })
      progress(
        `${spec.id} on Kafka: ${Math.round(events / cpuSeconds).toLocaleString('en-US')} events/s per core`,
        true,
      )
    }
  } finally {
    await log.close()
  }
  return results
}

async function appendEvents(
  log: Log,
  topic: string,
  config: GeneratorConfig,
  count: number,
  progress: (done: number) => void,
): Promise<void> {
  await log.createTopic(topic, { partitions: 1 })
  const producer = log.producer()
  const generator = new NexmarkGenerator(config)
  const inflight: Promise<unknown>[] = []
  for (let done = 0; done < count; ) {
    const n = Math.min(10_000, count - done)
    const batch: ProducerRecord[] = new Array(n)
    for (let i = 0; i < n; i++) batch[i] = { key: null, value: Buffer.from(JSON.stringify(generator.next())) }
    if (inflight.length >= 4) await inflight.shift()
    inflight.push(producer.send(topic, batch))
    done += n
    if (done % 200_000 === 0 || done === count) progress(done)
  }
  await Promise.all(inflight)
  await producer.close()
}

/** The group's committed offsets have reached the end of every input (transaction markers included). */
async function caughtUp(log: Log, topology: Topology): Promise<boolean> {
  for (const sub of topology.subtopologies) {
    for (const source of sub.sources) {
      if (!(await log.hasTopic(source.topic))) return false
      const committed = await log.committedOffsets(topology.pipeline, source.topic)
      for (const { partition } of (await log.describeTopic(source.topic)).partitionDetails) {
        const end = await log.resolveOffset({ topic: source.topic, partition }, 'latest')
        if ((committed.get(partition) ?? 0) < end) return false
      }
    }
  }
  return true
}

/** Records of committed transactions in a topic, read back with a read_committed consumer (not timed). */
async function committedRows(log: Log, topic: string): Promise<number> {
  const consumer = log.consumer({
    group: `sluice-bench-count-${Date.now().toString(36)}`,
    topics: [topic],
    reset: 'earliest',
  })
  try {
    let rows = 0
    let quiet = 0
    while (quiet < 3) {
      const records = await consumer.poll({ maxRecords: 10_000, waitMs: 500 })
      rows += records.length
      quiet = records.length === 0 ? quiet + 1 : 0
    }
    return rows
  } finally {
    await consumer.close()
  }
}
