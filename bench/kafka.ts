/**
 * `npm run bench:kafka`: Sluice workers on a real Kafka broker against a bare client pipe, in
 * one run, on the same input topic.
 *
 *   npm run bench:kafka                        # 500,000 events, broker on 127.0.0.1:9092
 *   npm run bench:kafka -- --events 200000 --brokers host:9092
 *   npm run bench:kafka -- --write-docs        # also (re)writes the Kafka section of docs/benchmarks.md
 *
 * Input: Nexmark-style bids `{ auction, bidder, price, at }` (JSON, keyed by auction) in a
 * topic of `--partitions` partitions, produced before any clock starts. Each case reads all of
 * it with a fresh consumer group, in this process, as one worker:
 *
 * (a) bare pipe: @platformatic/kafka's Consumer stream → Producer (idempotent, acks=all) to an
 *     output topic, no decoding, no processing, at-least-once — the floor any engine on this
 *     client pays;
 * (b) Sluice stateless (filter price ≥ 50,000 → map to euros), at-least-once and exactly-once;
 * (c) Sluice keyed tumbling count (10 s windows per auction), exactly-once;
 * (d) @kafkats/flow (the TypeScript peer) running (b), at-least-once and exactly-once.
 *
 * Each case is timed from its start until its group has committed the end of the input (for
 * (a): until every record is acknowledged); events/s per core divides by process CPU time.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { flow, json as kafkatsJson, string as kafkatsString } from '@kafkats/flow'
import {
  Consumer,
  compatibilityPartitioner,
  type Message,
  MessagesStreamModes,
  ProduceAcks,
  Producer,
} from '@platformatic/kafka'
import { count, GroupRunner, type Log, pipeline, topic, tumbling } from '../src/index.ts'
import { openKafkaLog } from '../src/log/kafka/index.ts'
import { positiveInt, writeDoc, xorshift } from './common.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string' },
    partitions: { type: 'string' },
    brokers: { type: 'string' },
    'latency-rate': { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (args.help) {
  process.stdout.write(`npm run bench:kafka -- [options]
  --events N       input events (default 500,000)
  --partitions N   input partitions (default 6)
  --brokers LIST   bootstrap brokers (default $KAFKA_BROKERS or 127.0.0.1:9092)
  --latency-rate N events/s of the latency runs (default 5,000)
  --write-docs     (re)write the Kafka section of docs/benchmarks.md
`)
  process.exit(0)
}
const EVENTS = positiveInt('events', args.events, 500_000)
const PARTITIONS = positiveInt('partitions', args.partitions, 6)
const brokers = (args.brokers ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const run = randomUUID().slice(0, 8)
const input = `bench-bids-${run}`

interface Bid {
  auction: number
  bidder: number
  price: number
  at: number
}

interface Result {
  name: string
  seconds: number
  cpu: number
  outputs: number
}

const log: Log = await openKafkaLog({ brokers })
const say = (s: string) => process.stderr.write(`[bench:kafka] ${s}\n`)

async function prepare(): Promise<void> {
  await log.createTopic(input, { partitions: PARTITIONS })
  const rand = xorshift()
  const producer = log.producer()
  const base = Date.UTC(2026, 0, 1)
  for (let i = 0; i < EVENTS; i += 20_000) {
    const chunk = []
    for (let j = i; j < Math.min(EVENTS, i + 20_000); j++) {
      const bid: Bid = { auction: rand(1_000), bidder: rand(10_000), price: rand(100_000), at: base + j / 10 }
      chunk.push({ key: Buffer.from(String(bid.auction)), value: Buffer.from(JSON.stringify(bid)) })
    }
    await producer.send(input, chunk)
  }
  await producer.close()
}

async function timed(name: string, body: () => Promise<number>): Promise<Result> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const outputs = await body()
  const seconds = (performance.now() - t0) / 1000
  const c = process.cpuUsage(cpu0)
  const result = { name, seconds, cpu: (c.user + c.system) / 1e6, outputs }
  say(
    `${name}: ${Math.round(EVENTS / seconds).toLocaleString('en')} events/s, ${result.cpu.toFixed(2)} s CPU`,
  )
  return result
}

/** (a) The client alone: consume every record and produce it unchanged to another topic. */
async function barePipe(pass = 'timed'): Promise<number> {
  const out = `bench-a-out-${pass}-${run}`
  await log.createTopic(out, { partitions: PARTITIONS })
  const producer = new Producer({
    clientId: `bench-a-${run}`,
    bootstrapBrokers: brokers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
  })
  const consumer = new Consumer({
    clientId: `bench-a-c-${pass}-${run}`,
    groupId: `bench-a-${pass}-${run}`,
    bootstrapBrokers: brokers,
  })
  const stream = await consumer.consume({
    topics: [input],
    mode: MessagesStreamModes.EARLIEST,
    autocommit: false,
  })
  let produced = 0
  let pending: Message<Buffer, Buffer, Buffer, Buffer>[] = []
  const flush = async () => {
    const batch = pending
    pending = []
    await producer.send({
      messages: batch.map((m) => ({ topic: out, key: m.key, value: m.value, partition: m.partition })),
    })
    produced += batch.length
  }
  for await (const message of stream) {
    pending.push(message as Message<Buffer, Buffer, Buffer, Buffer>)
    if (pending.length >= 2_000 || produced + pending.length >= EVENTS) await flush()
    if (produced >= EVENTS) break
  }
  await stream.close()
  await consumer.close(true)
  await producer.close()
  return produced
}

/** Runs a pipeline as one in-process worker until its group has committed the whole input. */
async function sluice(
  build: (name: string) => ReturnType<typeof pipeline>,
  options: ConstructorParameters<typeof GroupRunner>[2],
): Promise<number> {
  const name = `bench-${randomUUID().slice(0, 8)}`
  const p = build(name)
  const runner = new GroupRunner(log, [p], options)
  await runner.start()
  const running = runner.run()
  const ends = new Map<number, number>()
  for (let partition = 0; partition < PARTITIONS; partition++) {
    ends.set(partition, await log.resolveOffset({ topic: input, partition }, 'latest'))
  }
  for (;;) {
    const committed = await log.committedOffsets(name, input)
    if ([...ends].every(([partition, end]) => (committed.get(partition) ?? 0) >= end)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  const out = runner.status()[0]!.recordsOut
  runner.stop()
  await running
  return out
}

/**
 * (d) The same stateless workload on @kafkats/flow, the TypeScript peer (Kafka Streams-like
 * DSL on its own client), as one app instance: done when its group (the applicationId) has
 * committed the whole input.
 */
async function kafkatsFlow(guarantee: 'at_least_once' | 'exactly_once'): Promise<number> {
  const applicationId = `bench-kafkats-${randomUUID().slice(0, 8)}`
  const out = `${applicationId}-out`
  await log.createTopic(out, { partitions: PARTITIONS })
  const app = flow({
    applicationId,
    client: { brokers, clientId: applicationId },
    processingGuarantee: guarantee,
  })
  let outputs = 0
  let seen = 0
  app
    .stream(input, { key: kafkatsString(), value: kafkatsJson<Bid>(), offsetReset: 'earliest' })
    .filter((_k, b) => {
      seen++
      return b !== null && b.price >= 50_000
    })
    .mapValues((b) => {
      outputs++
      // The filter let only non-null bids through; the DSL's types do not narrow across steps.
      const bid = b as Bid
      return { auction: bid.auction, euros: Math.round(bid.price * 0.92) }
    })
    .to(out, { key: kafkatsString(), value: kafkatsJson() })
  await app.start()
  const ends = new Map<number, number>()
  for (let partition = 0; partition < PARTITIONS; partition++) {
    ends.set(partition, await log.resolveOffset({ topic: input, partition }, 'latest'))
  }
  const deadline = Date.now() + 120_000
  for (;;) {
    const committed = await log.committedOffsets(applicationId, input)
    if ([...ends].every(([partition, end]) => (committed.get(partition) ?? 0) >= end)) break
    // At-least-once commits offsets on a timer (every 5 s): count it done once every record
    // went through, so the timer does not decide the figure.
    if (guarantee === 'at_least_once' && seen >= EVENTS) break
    if (Date.now() > deadline) {
      throw new Error(`@kafkats/flow saw ${seen} of ${EVENTS} records in 120 s (state ${app.state()})`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  await app.close()
  return outputs
}

const bids = () => topic<Bid>(input, { timestamp: (b) => b.at })

function stateless(name: string) {
  const p = pipeline(name)
  p.from(bids())
    .filter((b) => b.price >= 50_000)
    .map((b) => ({ auction: b.auction, euros: Math.round(b.price * 0.92) }))
    .to(topic(`${name}-out`))
  return p
}

function windowed(name: string) {
  const p = pipeline(name)
  p.from(bids(), { watermark: { maxOutOfOrder: '1s' } })
    .keyed()
    .window(tumbling({ size: '10s' }))
    .aggregate(count(), { name: 'bids-per-auction' })
    .to(topic(`${name}-out`))
  return p
}

interface Latency {
  guarantee: 'at-least-once' | 'exactly-once'
  rate: number
  samples: number
  p50: number
  p99: number
  max: number
}

/**
 * End-to-end latency at a steady rate: a producer appends stamped bids to a one-partition
 * topic every millisecond (what the rate owes), a stateless pipeline maps them, and a
 * read_committed reader of the output takes now − stamp for every record it sees. 1 s of
 * warm-up, then `LATENCY_SECONDS` measured.
 */
async function latency(guarantee: Latency['guarantee'], rate: number): Promise<Latency> {
  const id = randomUUID().slice(0, 8)
  const inTopic = `bench-lat-in-${id}`
  const outTopic = `bench-lat-out-${id}`
  await log.createTopic(inTopic, { partitions: 1 })
  const p = pipeline(`bench-lat-${id}`)
  p.from(topic<Bid & { sent: number }>(inTopic, { timestamp: (b) => b.at }))
    .filter((b) => b.price >= 50_000)
    .map((b) => ({ auction: b.auction, euros: Math.round(b.price * 0.92), sent: b.sent }))
    .to(topic(outTopic, { partitions: 1 }))
  const runner = new GroupRunner(log, [p], { guarantee })
  await runner.start()
  const running = runner.run()
  while (runner.status()[0]!.tasks === 0) await new Promise((r) => setTimeout(r, 20))
  const now = () => performance.timeOrigin + performance.now()
  const t0 = now()
  const measureFrom = t0 + 1_000
  const end = measureFrom + LATENCY_SECONDS * 1_000
  const lat: number[] = []
  const producer = log.producer({ lingerMs: 1 })
  let sent = 0
  let reading = true
  const reader = (async () => {
    const tp = { topic: outTopic, partition: 0 }
    let offset = 0
    while (reading) {
      const records = await log.fetch(tp, offset, { waitMs: 50 })
      const at = now()
      for (const r of records) {
        const v = JSON.parse(Buffer.from(r.value ?? []).toString()) as { sent: number }
        if (v.sent >= measureFrom && v.sent < end) lat.push(at - v.sent)
        offset = r.offset + 1
      }
    }
  })()
  const sends: Promise<unknown>[] = []
  while (now() < end) {
    const owed = Math.floor(((now() - t0) / 1000) * rate) - sent
    for (let i = 0; i < owed; i++, sent++) {
      const bid = {
        auction: sent % 1_000,
        bidder: sent % 7_919,
        price: 50_000 + (sent % 50_000),
        at: Date.now(),
        sent: now(),
      }
      sends.push(
        producer.send(inTopic, {
          key: Buffer.from(String(bid.auction)),
          value: Buffer.from(JSON.stringify(bid)),
        }),
      )
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await Promise.all(sends)
  await new Promise((r) => setTimeout(r, 1_500))
  reading = false
  await reader
  await producer.close()
  runner.stop()
  await running
  lat.sort((x, y) => x - y)
  const q = (f: number) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] ?? Number.NaN
  const result = {
    guarantee,
    rate,
    samples: lat.length,
    p50: q(0.5),
    p99: q(0.99),
    max: lat[lat.length - 1] ?? Number.NaN,
  }
  say(
    `latency ${guarantee} at ${rate}/s: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms (${lat.length} samples)`,
  )
  return result
}

const KAFKATS_VERSION = (
  JSON.parse(
    readFileSync(new URL('../node_modules/@kafkats/flow/package.json', import.meta.url), 'utf8'),
  ) as {
    version: string
  }
).version
const LATENCY_SECONDS = 5
const LATENCY_RATE = positiveInt('latency-rate', args['latency-rate'], 5_000)
const latencies: Latency[] = []

const load0 = loadavg()[0]!
say(`producing ${EVENTS.toLocaleString('en')} bids to ${input} (${PARTITIONS} partitions)`)
await prepare()
const results: Result[] = []
try {
  // An untimed pass first: the client's code paths, the broker's caches and the page cache are
  // warm for (a) as they are for the cases after it.
  say('warm-up: one untimed pass of (a)')
  await barePipe('warm-up')
  results.push(await timed('(a) bare client pipe, at-least-once', barePipe))
  results.push(
    await timed('(b) Sluice stateless, at-least-once', () =>
      sluice(stateless, { guarantee: 'at-least-once' }),
    ),
  )
  results.push(
    await timed('(b) Sluice stateless, exactly-once', () => sluice(stateless, { guarantee: 'exactly-once' })),
  )
  results.push(
    await timed('(c) Sluice tumbling count, exactly-once', () =>
      sluice(windowed, { guarantee: 'exactly-once' }),
    ),
  )
  results.push(await timed('(d) @kafkats/flow stateless, at-least-once', () => kafkatsFlow('at_least_once')))
  // Not (d) exactly-once yet: with 6 partitions its group had not committed the end of the
  // input 120 s after every record went through (2 partitions did, in a probe). To look into.
  latencies.push(await latency('at-least-once', LATENCY_RATE))
  latencies.push(await latency('exactly-once', LATENCY_RATE))
} finally {
  for (const t of await log.listTopics()) {
    if (t.includes(run) || t.startsWith('bench-')) await log.deleteTopic(t).catch(() => {})
  }
  await log.close()
}

const a = results[0]!
const rows = results.map((r) => {
  const perSecond = EVENTS / r.seconds
  const perCore = EVENTS / r.cpu
  return `| ${r.name} | ${EVENTS.toLocaleString('en')} | ${r.outputs.toLocaleString('en')} | ${r.seconds.toFixed(2)} | ${r.cpu.toFixed(2)} | ${Math.round(perSecond).toLocaleString('en')} | ${Math.round(perCore).toLocaleString('en')} | ${r === a ? '' : `${Math.round((perSecond / (EVENTS / a.seconds)) * 100)}%`} |`
})
const table = [
  '| case | events | outputs | wall s | CPU s | events/s per worker | events/s per core | vs (a) |',
  '| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
].join('\n')
const latencyTable = [
  '| guarantee | rate events/s | samples | p50 ms | p99 ms | max ms |',
  '| :--- | ---: | ---: | ---: | ---: | ---: |',
  ...latencies.map(
    (l) =>
      `| ${l.guarantee} | ${l.rate.toLocaleString('en')} | ${l.samples.toLocaleString('en')} | ${l.p50.toFixed(1)} | ${l.p99.toFixed(1)} | ${l.max.toFixed(1)} |`,
  ),
].join('\n')
process.stdout.write(`${table}\n\n${latencyTable}\n`)
if (args['write-docs']) {
  const file = new URL('../docs/benchmarks.md', import.meta.url)
  const text = readFileSync(file, 'utf8')
  const section = `## Kafka workers (\`npm run bench:kafka\`)

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:kafka -- ${process.argv.slice(2).join(' ')}\` on ${availableParallelism()} CPUs, Node ${process.version}, one Kafka 4.4.0 broker (\`scripts/kafka.sh\`) on the same machine; 1-minute load average ${load0.toFixed(2)} at the start and ${loadavg()[0]!.toFixed(2)} at the end.

${table}

End-to-end latency of the stateless pipeline (producer append → output visible to a read_committed reader):

${latencyTable}

- Input: ${EVENTS.toLocaleString('en')} JSON bids keyed by auction (1,000 auctions) in ${PARTITIONS} partitions, produced before the clock starts.
- One worker per case, in the benchmark process; "per worker" = events ÷ wall time, "per core" = events ÷ process CPU time (the broker's CPU is not counted, and it shares the machine's cores).
- Before the timed cases, one untimed pass of (a) warms the client, the broker and the page cache. Wall times on a 2-core machine that also runs the broker are noisy: repeat runs have put (b) between 80% and 130% of (a).
- Latency: one-partition topics; a producer (linger 1 ms) appends stamped bids at the rate, the worker maps them, a read_committed reader in the same process takes now − stamp; 1 s warm-up, then 5 s measured. Exactly-once adds the transaction round trips (AddPartitions, TxnOffsetCommit, EndTxn and the markers) to every commit.
- (d) is @kafkats/flow ${KAFKATS_VERSION}, the TypeScript peer, running the stateless workload of (b) with its own client (\`processingGuarantee: 'at_least_once'\`, defaults otherwise; its exactly-once run is left out for now: its group had not committed the end of a 6-partition input 120 s after processing the last record); its at-least-once case counts as done when every record went through its filter, since it commits offsets on a 5 s timer.
- (a) copies every record (consume stream → idempotent producer, batches of 2,000), no decoding; (b) decodes JSON, filters about half, maps and encodes; (c) counts per auction in 10 s tumbling windows with changelogged state. Sluice commits when its input drains, else every 100 ms; exactly-once commits are Kafka transactions with the input offsets.
`
  const start = text.indexOf('## Kafka workers')
  const next = start < 0 ? -1 : text.indexOf('\n## ', start + 1)
  const updated =
    start < 0
      ? `${text.trimEnd()}\n\n${section}`
      : `${text.slice(0, start)}${section}${next < 0 ? '' : text.slice(next)}`
  writeDoc(file, updated)
  say('wrote docs/benchmarks.md')
}
