/**
 * The @kafkats/flow peer (npm, a Kafka Streams-like DSL in TypeScript) on the same Kafka topic
 * as Kafka Streams: the queries it can express, q0, q1 and q2. It has windows, but no
 * watermarks, grace or suppression: a windowed aggregate is a table that emits an update per
 * record and never says a window is final, so q5 (the top auctions of each window), q7 (the
 * top bids of each window) and q8 (people with an auction in their window) cannot be written
 * to emit each window's result once, as the other engines do.
 *
 * Configured as the others: exactly_once, commits every --commit-ms, one stream thread. Timed
 * from `app.start()` until the topology has been handed every input record and the output
 * topic has then stopped growing (wall time up to the later of the two; CPU time includes the
 * quiet second that shows it), in a process of its own; process CPU time, peak heap and RSS
 * sampled every 50 ms. Then the output topic is read back (read_committed, not timed), counted
 * and checksummed.
 *
 * Why not the group's committed offset, as for the others: with 0.12.0 it is no sign of
 * progress. On 20,000 events (q0: 18,400 rows), read every 200 ms it went 150, 580, …, 19,969,
 * then back to 3,344, up to 20,000, back to 4,120, …, and stayed at 19,489, while the output
 * topic got all 18,400 rows once each: a restart would process the last 511 events again.
 * Stopping the app the first time the offset read 20,000 left the topic at 6,486 rows for good.
 *
 * The child: node bench/peers/kafkats.ts --query q0 --input TOPIC --events N [--commit-ms 100] [--broker-pid PID] [--warmup-input TOPIC0]
 */
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { flow, json } from '@kafkats/flow'
import { type KafkaLog, openKafkaLog } from '../../src/log/kafka/index.ts'
import { peakMemory } from '../common.ts'
import type { Bid, Event } from '../nexmark/model.ts'
import { DOLLAR_TO_EURO } from '../nexmark/queries/q1.ts'
import { AUCTION_SKIP } from '../nexmark/queries/q2.ts'
import { type PeerQuery, rowHash } from './checksum.ts'
import { BOOTSTRAP, type KafkaInput, TOPIC_PREFIX } from './kafka.ts'
import { lastJsonLine, type RunResult } from './result.ts'

/** The queries @kafkats/flow can express with the same results as the others. */
export const KAFKATS_QUERIES: readonly PeerQuery[] = ['q0', 'q1', 'q2']

export function runKafkats(query: PeerQuery, input: KafkaInput, events: number, commitMs: number): RunResult {
  const child = spawnSync(
    process.execPath,
    [
      import.meta.filename,
      '--query',
      query,
      '--input',
      input.topic,
      '--events',
      String(events),
      '--commit-ms',
      String(commitMs),
      '--broker-pid',
      String(input.brokerPid),
      ...(input.warmupTopic ? ['--warmup-input', input.warmupTopic] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 30 * 60_000,
    },
  )
  if (child.status !== 0)
    throw new Error(`@kafkats/flow ${query}: the run failed (exit ${child.status ?? child.signal})`)
  return lastJsonLine(child.stdout) as unknown as RunResult
}

type Row = Bid | { auction: number; bidder: number; price: number; dateTime: number; extra: string }

/** The query as a flow topology from `input` to `output`. */
function topology(
  app: ReturnType<typeof flow>,
  query: PeerQuery,
  input: string,
  output: string,
  seen: { count: number },
): void {
  const bids = app
    .stream<Buffer, Event>(input, { value: json<Event>(), offsetReset: 'earliest' })
    // Counts the records the topology has been handed: the harness's "all input is in".
    .peek(() => {
      seen.count++
    })
    .filter((_k, e) => e !== null && 'bid' in e)
    .mapValues((e) => (e as { bid: Bid }).bid)
  const out = { value: json<Row>() }
  if (query === 'q0') bids.to(output, { value: json<Bid>() })
  else if (query === 'q1') {
    bids
      .mapValues((b) => ({
        auction: b!.auction,
        bidder: b!.bidder,
        price: DOLLAR_TO_EURO * b!.price,
        dateTime: b!.dateTime,
        extra: b!.extra,
      }))
      .to(output, out)
  } else if (query === 'q2') {
    bids
      .filter((_k, b) => b!.auction % AUCTION_SKIP === 0)
      .mapValues((b) => ({ auction: b!.auction, price: b!.price }) as unknown as Row)
      .to(output, out)
  } else throw new Error(`@kafkats/flow cannot express ${query} (see bench/peers/kafkats.ts)`)
}

/** The broker's user + system CPU time (ms) from /proc/PID/stat, in USER_HZ ticks of 10 ms. */
function brokerCpuMs(pid: number): number {
  if (pid <= 0) return 0
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

/** How long the output must stay the same, once the input is committed, for the run to be over. */
const QUIET_MS = 1_000

interface AppRun {
  outputs: number
  checksum: number
  wallMs: number
  cpuMs: number
  peakHeap: number
  peakRss: number
  brokerCpuMs: number
  events: number
}

/** One application over `input`, from start until its committed offset reaches the input's end. */
async function runApp(
  log: KafkaLog,
  query: PeerQuery,
  input: string,
  commitMs: number,
  brokerPid: number,
): Promise<AppRun> {
  const appId = `${TOPIC_PREFIX}kafkats-${query}-${randomUUID().slice(0, 8)}`
  const output = `${appId}-out`
  await log.createTopic(output, { partitions: 1 })
  const end = await log.resolveOffset({ topic: input, partition: 0 }, 'latest')
  const app = flow({
    applicationId: appId,
    client: { brokers: [BOOTSTRAP], clientId: appId, logLevel: 'warn' },
    processingGuarantee: 'exactly_once',
    commitIntervalMs: commitMs,
    numStreamThreads: 1,
  })
  const seen = { count: 0 }
  topology(app, query, input, output, seen)
  const memory = peakMemory()
  const broker0 = brokerCpuMs(brokerPid)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await app.start()
  // Done when the topology has seen every input record and the output topic has then stayed
  // the same for QUIET_MS (its transactions commit every commitMs): the group's committed
  // offset cannot say it, see the header.
  const out = { topic: output, partition: 0 }
  let outputEnd = 0
  let lastGrowth = performance.now()
  let allSeenAt = Number.POSITIVE_INFINITY
  for (;;) {
    if (app.state() === 'ERROR') throw new Error(`@kafkats/flow ${query}: the application failed`)
    if (seen.count >= end && allSeenAt === Number.POSITIVE_INFINITY) allSeenAt = performance.now()
    const now = await log.resolveOffset(out, 'latest')
    if (now !== outputEnd) {
      outputEnd = now
      lastGrowth = performance.now()
    }
    if (performance.now() - Math.max(allSeenAt, lastGrowth) >= QUIET_MS) break
    await new Promise((r) => setTimeout(r, 20))
  }
  const wallMs = Math.max(allSeenAt, lastGrowth) - t0
  const cpu = process.cpuUsage(cpu0)
  const broker1 = brokerCpuMs(brokerPid)
  const { peakRss, peakHeap } = memory.stop()
  await app.close()
  // The committed rows, read_committed, from the start to the end.
  let outputs = 0
  let checksum = 0
  const tp = { topic: output, partition: 0 }
  const last = await log.resolveOffset(tp, 'latest')
  for (let offset = 0; offset < last; ) {
    const records = await log.fetch(tp, offset)
    if (records.length === 0) break
    for (const r of records) {
      outputs++
      checksum = (checksum + rowHash(query, JSON.parse(Buffer.from(r.value!).toString('utf8')))) | 0
    }
    offset = records[records.length - 1]!.offset + 1
  }
  await log.deleteTopic(output)
  return {
    outputs,
    checksum,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakHeap,
    peakRss,
    brokerCpuMs: broker1 - broker0,
    events: end,
  }
}

async function child(): Promise<void> {
  const { values } = parseArgs({
    options: {
      query: { type: 'string' },
      input: { type: 'string' },
      events: { type: 'string' },
      'commit-ms': { type: 'string', default: '100' },
      'broker-pid': { type: 'string', default: '-1' },
      'warmup-input': { type: 'string' },
    },
  })
  const query = values.query as PeerQuery
  if (!KAFKATS_QUERIES.includes(query)) throw new Error(`@kafkats/flow cannot express ${query}`)
  const commitMs = Number(values['commit-ms'])
  const brokerPid = Number(values['broker-pid'])
  const log = await openKafkaLog({ brokers: [BOOTSTRAP], clientId: 'sluice-peers-kafkats' })
  try {
    // The same query over a topic of the first events, untimed, so V8 has compiled the hot code.
    if (values['warmup-input']) await runApp(log, query, values['warmup-input'], commitMs, brokerPid)
    const run = await runApp(log, query, values.input!, commitMs, brokerPid)
    if (run.events !== Number(values.events))
      throw new Error(`the input topic holds ${run.events} events, not ${values.events}`)
    const version = JSON.parse(
      readFileSync(resolve(import.meta.dirname, '../../node_modules/@kafkats/flow/package.json'), 'utf8'),
    ) as { version: string }
    const result: RunResult = {
      engine: 'kafkats',
      query,
      events: run.events,
      outputs: run.outputs,
      checksum: run.checksum,
      wallMs: run.wallMs,
      cpuMs: run.cpuMs,
      peakHeap: run.peakHeap,
      peakRss: run.peakRss,
      extra: {
        brokerCpuMs: run.brokerCpuMs,
        kafkatsFlowVersion: version.version,
        commitMs,
        warmedUp: values['warmup-input'] !== undefined,
      },
    }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await log.close()
  }
  // The flow's clients may keep sockets or timers open after close.
  process.exit(0)
}

if (import.meta.main) await child()
