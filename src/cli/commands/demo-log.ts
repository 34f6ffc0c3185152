/**
 * `sluice demo-log` (what `npm start` runs): the embedded log end to end in a few seconds.
 * Creates a topic, appends page-view events keyed by user, reads them all back with a
 * consumer group, checks nothing was lost or duplicated, and removes its data again.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ProducerRecord } from '../../log/index.ts'
import {
  expectPositionals,
  parseCommandArgs,
  parseDurabilityFlag,
  parseIntFlag,
  UsageError,
} from '../args.ts'
import { type Command, EXIT_FAILURE, EXIT_OK } from '../command.ts'
import { withLog } from '../open-log.ts'
import {
  formatCount,
  formatElapsed,
  formatMegabytes,
  formatMegabytesPerSecond,
  formatRate,
  printErr,
  writeOut,
} from '../output.ts'

const HELP = `Usage: sluice demo-log [options]

Runs the embedded log end to end: creates a topic with 4 partitions, appends page-view
events keyed by user, reads them all back with a consumer group and prints how fast each
step was. Works in a fresh temporary directory that is removed at the end.

Options:
  --records N       how many events to append (default: 200000)
  --durability <m>  sync (default) or interval
  --data-dir <dir>  run in a new directory inside <dir> (default: the OS temp dir);
                    only that new directory is removed
  -h, --help        show this help

Example:
  sluice demo-log
  sluice demo-log --records 1000000 --durability interval
`

const TOPIC = 'page-views'
const GROUP = 'demo-readers'
const PARTITIONS = 4
const CHUNK_RECORDS = 10_000
/** Sends outstanding at once: keeps the log's group commit busy, as a real ingest does. */
const INFLIGHT_SENDS = 4
const PAGES = ['/', '/pricing', '/docs', '/docs/log', '/blog', '/signup', '/products/42', '/cart']
const REFERRERS = ['https://news.example', 'https://search.example', null]

export const demoLogCommand: Command = {
  name: 'demo-log',
  summary: 'append and read back 200,000 events to see the embedded log work (npm start)',
  help: HELP,
  async run(args) {
    const cmd = 'demo-log'
    const { values, positionals } = parseCommandArgs(cmd, args, {
      records: { type: 'string' },
      durability: { type: 'string' },
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    expectPositionals(cmd, positionals, [])
    const total = values.records === undefined ? 200_000 : parseIntFlag(cmd, 'records', values.records, 1)
    const durability = parseDurabilityFlag(cmd, values.durability) ?? 'sync'
    const parent = values['data-dir'] ?? tmpdir()
    let dataDir: string
    try {
      dataDir = mkdtempSync(join(parent, 'sluice-demo-'))
    } catch (error) {
      throw new UsageError(
        cmd,
        `cannot create a directory in --data-dir ${parent}: ${(error as Error).message}`,
      )
    }
    try {
      return await withLog(dataDir, { create: true, durability }, async (log) => {
        const say = (line: string) => writeOut(`${line}\n`)
        await say(`embedded log in ${dataDir} (durability ${durability})`)
        await log.createTopic(TOPIC, { partitions: PARTITIONS })
        await say(`created topic "${TOPIC}" with ${PARTITIONS} partitions`)

        // Build the input before the clock starts: the demo measures the log, not JSON.stringify.
        const users = Math.max(1, Math.min(10_000, Math.ceil(total / 20)))
        const chunks: ProducerRecord[][] = []
        let appendedBytes = 0
        for (let i = 0; i < total; i += CHUNK_RECORDS) {
          const chunk: ProducerRecord[] = []
          for (let j = i; j < Math.min(total, i + CHUNK_RECORDS); j++) {
            const record = pageView(j, users)
            appendedBytes += record.key!.length + record.value!.length
            chunk.push(record)
          }
          chunks.push(chunk)
        }

        const producer = log.producer()
        let started = performance.now()
        const inflight = new Set<Promise<unknown>>()
        for (const chunk of chunks) {
          const send = producer.send(TOPIC, chunk)
          inflight.add(send)
          void send.finally(() => inflight.delete(send)).catch(() => {})
          if (inflight.size >= INFLIGHT_SENDS) await Promise.race(inflight)
        }
        await Promise.all(inflight)
        await producer.close()
        const appendMs = performance.now() - started
        await say(
          `append  ${formatCount(total)} events, ${formatMegabytes(appendedBytes)} in ${formatElapsed(appendMs)}: ` +
            `${formatRate(total, appendMs, 'records')}, ${formatMegabytesPerSecond(appendedBytes, appendMs)}` +
            ` (acknowledged ${durability === 'sync' ? 'after fsync' : 'at commit'})`,
        )

        const consumer = log.consumer({ group: GROUP, topics: [TOPIC] })
        started = performance.now()
        let read = 0
        let readBytes = 0
        const seen = new Map<number, number>()
        for (;;) {
          const records = await consumer.poll({ maxRecords: CHUNK_RECORDS })
          if (records.length === 0) break
          for (const r of records) {
            readBytes += (r.key?.length ?? 0) + (r.value?.length ?? 0)
            // Offsets of a partition must come back in order, each exactly once.
            const expected = seen.get(r.partition) ?? 0
            if (r.offset !== expected)
              throw new Error(`partition ${r.partition}: read offset ${r.offset}, expected ${expected}`)
            seen.set(r.partition, expected + 1)
          }
          read += records.length
          await consumer.commit()
        }
        await consumer.close()
        const readMs = performance.now() - started
        await say(
          `read    ${formatCount(read)} events, ${formatMegabytes(readBytes)} in ${formatElapsed(readMs)}: ` +
            `${formatRate(read, readMs, 'records')}, ${formatMegabytesPerSecond(readBytes, readMs)}` +
            ` (consumer group "${GROUP}")`,
        )

        const committed = await log.committedOffsets(GROUP, TOPIC)
        const description = await log.describeTopic(TOPIC)
        const offsets = description.partitionDetails.map(
          (p) =>
            `p${p.partition} ${formatCount(p.startOffset)}..${formatCount(p.endOffset - 1)}` +
            ` (committed ${formatCount(committed.get(p.partition) ?? 0)})`,
        )
        await say(`offsets ${offsets.join(', ')}`)
        await say(
          `events are keyed by user (${formatCount(users)} users): each user's views stay in one partition, in order`,
        )
        if (read !== total || appendedBytes !== readBytes) {
          printErr(`sluice: error: appended ${total} events but read back ${read}`)
          return EXIT_FAILURE
        }
        await say(`ok: every event read back once; removing ${dataDir}`)
        return EXIT_OK
      })
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  },
}

/** A small page-view event, keyed by user so one user's views stay in order on one partition. */
function pageView(i: number, users: number): ProducerRecord {
  const user = `user-${(i * 7919) % users}`
  const event = {
    type: 'page_view',
    user,
    page: PAGES[i % PAGES.length],
    referrer: REFERRERS[i % REFERRERS.length],
    durationMs: 200 + ((i * 37) % 5000),
    at: 1_735_689_600_000 + i * 50,
  }
  return { key: Buffer.from(user), value: Buffer.from(JSON.stringify(event)) }
}
