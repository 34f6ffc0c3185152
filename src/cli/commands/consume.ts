/**
 * `sluice consume <topic>`: prints records as NDJSON, one line per record.
 *
 * Reads partitions directly (fetch by offset) rather than through a group member, so that
 * --partition and the --from-* flags work with or without --group; with --group, the
 * position after each written chunk is committed to the group, and the next run resumes
 * there. Without --follow it stops at the end offsets seen at start.
 */
import type { EmbeddedLog, LogRecord, OffsetSpec, TopicPartitionOffset } from '../../log/index.ts'
import {
  DATA_DIR_HELP,
  dataDirOf,
  expectPositionals,
  parseCommandArgs,
  parseIntFlag,
  parseTimeFlag,
  UsageError,
} from '../args.ts'
import { type Command, EXIT_OK } from '../command.ts'
import { withTopic } from '../open-log.ts'
import { isStdoutClosed, writeOut } from '../output.ts'

const HELP = `Usage: sluice consume <topic> [options]

Prints the topic's records to stdout as NDJSON, one line per record:
  {"topic","partition","offset","timestamp","key","value","headers"}
"timestamp" is an ISO time; "key" is a UTF-8 string or null; "value" is the parsed JSON
when the record holds JSON, else a string (null for a tombstone).

Starts at the beginning of each partition, or, with --group, where that group stopped.
Stops at the end offsets seen at start, unless --follow.

Options:
  --from-beginning      start at the first stored offset (even with --group)
  --from-offset N       start at offset N in each partition read
  --from-time <time>    start at the first record at or after this ISO 8601 time
                        (e.g. 2025-01-31T12:00:00Z) or ms since the epoch
  --partition P         read only partition P
  --group G             resume from group G's committed offsets and commit as records
                        are written
  --max N               stop after N records
  --follow              keep waiting for new records until Ctrl-C (SIGINT) or SIGTERM
${DATA_DIR_HELP}

Example:
  sluice consume page-views --from-beginning --max 10
  sluice consume page-views --group reports | jq .value
`

/** Records per written chunk (and per group commit). */
const CHUNK_RECORDS = 10_000
/** Long-poll wait in --follow mode. */
const FOLLOW_WAIT_MS = 500

/** One partition being read: the next offset to read and where to stop. */
interface Cursor {
  partition: number
  position: number
  /** Stop before this offset (`Infinity` with --follow). */
  end: number
}

export const consumeCommand: Command = {
  name: 'consume',
  summary: 'print records of a topic as NDJSON',
  help: HELP,
  async run(args) {
    const cmd = 'consume'
    const { values, positionals } = parseCommandArgs(cmd, args, {
      'from-beginning': { type: 'boolean' },
      'from-offset': { type: 'string' },
      'from-time': { type: 'string' },
      partition: { type: 'string' },
      group: { type: 'string' },
      max: { type: 'string' },
      follow: { type: 'boolean' },
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    const [topic] = expectPositionals(cmd, positionals, ['topic'])
    const starts = (['from-beginning', 'from-offset', 'from-time'] as const).filter(
      (f) => values[f] !== undefined,
    )
    if (starts.length > 1) {
      throw new UsageError(cmd, `use only one of --${starts.join(', --')}`)
    }
    let start: OffsetSpec | null = null
    if (values['from-beginning']) start = 'earliest'
    if (values['from-offset'] !== undefined)
      start = { offset: parseIntFlag(cmd, 'from-offset', values['from-offset']) }
    if (values['from-time'] !== undefined)
      start = { timestamp: parseTimeFlag(cmd, 'from-time', values['from-time']) }
    const partition = values.partition === undefined ? null : parseIntFlag(cmd, 'partition', values.partition)
    const max = values.max === undefined ? Number.POSITIVE_INFINITY : parseIntFlag(cmd, 'max', values.max, 1)
    if (values.group === '') throw new UsageError(cmd, '--group needs a name')
    const group = values.group ?? null
    const follow = values.follow ?? false

    return withTopic(dataDirOf(values), topic!, {}, async (log) => {
      const cursors = await openCursors(log, topic!, { start, partition, group, follow })
      const stop = stopSignal()
      try {
        await consume(log, topic!, cursors, { max, group, follow, stop })
      } finally {
        stop.dispose()
      }
      return EXIT_OK
    })
  },
}

async function openCursors(
  log: EmbeddedLog,
  topic: string,
  options: { start: OffsetSpec | null; partition: number | null; group: string | null; follow: boolean },
): Promise<Cursor[]> {
  const description = await log.describeTopic(topic)
  const partitions =
    options.partition === null ? description.partitionDetails.map((p) => p.partition) : [options.partition]
  // Throws a clear error for a partition the topic does not have.
  for (const p of partitions) log.partition({ topic, partition: p })
  const committed = options.group
    ? await log.committedOffsets(options.group, topic)
    : new Map<number, number>()
  const cursors: Cursor[] = []
  for (const p of partitions) {
    const tp = { topic, partition: p }
    const resume = committed.get(p)
    // A committed offset that retention has since passed resolves to the first stored one.
    const spec: OffsetSpec = options.start ?? (resume === undefined ? 'earliest' : { offset: resume })
    const end = options.follow ? Number.POSITIVE_INFINITY : await log.resolveOffset(tp, 'latest')
    cursors.push({ partition: p, position: await log.resolveOffset(tp, spec), end })
  }
  return cursors
}

async function consume(
  log: EmbeddedLog,
  topic: string,
  cursors: Cursor[],
  options: { max: number; group: string | null; follow: boolean; stop: StopSignal },
): Promise<void> {
  let remaining = options.max
  let rotate = 0
  while (remaining > 0 && !options.stop.stopped && !isStdoutClosed()) {
    let text = ''
    let count = 0
    const moved: TopicPartitionOffset[] = []
    // Start at a rotating partition so one busy partition cannot starve the others.
    for (let k = 0; k < cursors.length && count < CHUNK_RECORDS && count < remaining; k++) {
      const cursor = cursors[(rotate + k) % cursors.length]!
      if (cursor.position >= cursor.end) continue
      const want = Math.min(CHUNK_RECORDS - count, remaining - count)
      const records = log.read({ topic, partition: cursor.partition }, cursor.position, { maxRecords: want })
      let last = -1
      for (const r of records) {
        if (r.offset >= cursor.end) break
        text += formatRecord(r)
        count++
        last = r.offset
      }
      if (last >= 0) {
        cursor.position = last + 1
        moved.push({ topic, partition: cursor.partition, offset: cursor.position })
      } else if (records.length > 0) {
        cursor.position = cursor.end
      }
    }
    rotate = (rotate + 1) % cursors.length
    if (count > 0) {
      await writeOut(text)
      // Let a pending EPIPE surface before committing records the reader may not have taken.
      await new Promise((r) => setImmediate(r))
      if (isStdoutClosed()) return
      if (options.group) await log.commitOffsets(options.group, moved)
      remaining -= count
      continue
    }
    if (!options.follow) return
    const parts = cursors.map((c) => log.partition({ topic, partition: c.partition }))
    await Promise.race([log.waitForAppend(parts, FOLLOW_WAIT_MS), options.stop.promise])
  }
}

const utf8 = new TextDecoder()

/** One NDJSON line. The key order is fixed so lines diff and grep well. */
export function formatRecord(r: LogRecord): string {
  return `${JSON.stringify({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: new Date(r.timestamp).toISOString(),
    key: r.key === null ? null : utf8.decode(r.key),
    value: r.value === null ? null : decodeValue(r.value),
    headers: r.headers,
  })}\n`
}

function decodeValue(bytes: Uint8Array): unknown {
  const text = utf8.decode(bytes)
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

interface StopSignal {
  readonly stopped: boolean
  /** Resolves on SIGINT or SIGTERM. */
  readonly promise: Promise<void>
  dispose(): void
}

/** SIGINT/SIGTERM end the read after the current chunk; the command then exits 0. */
function stopSignal(): StopSignal {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  const signal = {
    stopped: false,
    promise,
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
  function onSignal() {
    signal.stopped = true
    resolve()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return signal
}
