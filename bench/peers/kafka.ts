/**
 * The Kafka side of the peers: the broker scripts/kafka.sh runs (127.0.0.1:9092; started by
 * hand, never by the benchmark), the input topic loaded once from the events file (not timed),
 * and Kafka Streams runs over it (bench/peers/kafka-streams/). @kafkats/flow reads the same topic.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { runJava } from './java.ts'
import { type RunResult, toResult } from './result.ts'

export const BOOTSTRAP = '127.0.0.1:9092'
const ROOT = resolve(import.meta.dirname, '../..')
/** Every topic the harnesses create starts with this, so a failed run's leftovers can be found and deleted. */
export const TOPIC_PREFIX = 'sluice-peers-'

export interface KafkaInput {
  topic: string
  /** The first events, for the untimed warm-up run (when asked for). */
  warmupTopic?: string
  /** The broker's pid: the harnesses report its CPU time over their timed part. */
  brokerPid: number
  close(): void
}

/** The running broker's pid, or an error that says how to start it. */
function brokerPid(): number {
  const status = spawnSync('bash', [resolve(ROOT, 'scripts/kafka.sh'), 'status'], { encoding: 'utf8' })
  if (status.status !== 0) {
    throw new Error(
      `Kafka Streams and @kafkats/flow need the broker on ${BOOTSTRAP}: start it with \`bash scripts/kafka.sh start\` (or leave them out: --peers flink)`,
    )
  }
  return Number(readFileSync(resolve(ROOT, '.cache/kafka/kafka.pid'), 'utf8').trim())
}

function deleteTopics(prefix: string): void {
  runJava('kafka-streams', 'sluice.peers.streams.Topics', ['--bootstrap', BOOTSTRAP, '--prefix', prefix])
}

/**
 * Loads the events file (and the warm-up file) into fresh one-partition topics (not timed);
 * `close()` deletes every topic of the benchmark's.
 */
export function loadKafkaInput(file: string, warmupFile?: string): KafkaInput {
  const pid = brokerPid()
  deleteTopics(TOPIC_PREFIX)
  const load = (topic: string, from: string) =>
    runJava('kafka-streams', 'sluice.peers.streams.LoadTopic', [
      '--bootstrap',
      BOOTSTRAP,
      '--topic',
      topic,
      '--file',
      from,
    ])
  const topic = `${TOPIC_PREFIX}events-${process.pid}`
  load(topic, file)
  const warmupTopic = warmupFile === undefined ? undefined : `${TOPIC_PREFIX}warmup-${process.pid}`
  if (warmupTopic) load(warmupTopic, warmupFile!)
  return {
    topic,
    ...(warmupTopic ? { warmupTopic } : {}),
    brokerPid: pid,
    close: () => deleteTopics(TOPIC_PREFIX),
  }
}

export function runKafkaStreams(
  query: string,
  input: KafkaInput,
  events: number,
  commitMs: number,
): RunResult {
  const line = runJava('kafka-streams', 'sluice.peers.streams.NexmarkStreams', [
    '--query',
    query,
    '--bootstrap',
    BOOTSTRAP,
    '--input',
    input.topic,
    '--events',
    String(events),
    '--commit-ms',
    String(commitMs),
    '--broker-pid',
    String(input.brokerPid),
    ...(input.warmupTopic ? ['--warmup-input', input.warmupTopic] : []),
  ])
  return toResult('kafka-streams', line)
}
