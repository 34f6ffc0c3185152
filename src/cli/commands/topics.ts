/**
 * `sluice topics create|list|describe|delete`: managing topics of the embedded log.
 */
import type { TopicConfig, TopicDescription } from '../../log/index.ts'
import { parseDuration } from '../../util/duration.ts'
import { parseSize } from '../../util/size.ts'
import {
  DATA_DIR_HELP,
  dataDirOf,
  expectPositionals,
  parseCommandArgs,
  parseIntFlag,
  parseWith,
  UsageError,
} from '../args.ts'
import { type Command, EXIT_OK, EXIT_USAGE } from '../command.ts'
import { logExists, withLog, withTopic } from '../open-log.ts'
import { formatBytes, formatCount, formatDuration, formatTable, printErr, writeOut } from '../output.ts'

const CREATE_HELP = `Usage: sluice topics create <name> --partitions N [options]

Creates a topic. Names use letters, digits, ".", "_" and "-" (Kafka's rules).

Options:
  --partitions N            number of partitions (required; records with the same key
                            always go to the same partition)
  --retention <duration>    delete records older than this, e.g. 12h, 7d (default: keep)
  --retention-bytes <size>  keep at most this much per partition, e.g. 1GiB (default: no limit)
  --compact                 keep only the latest record per key (every record needs a key)
  --max-record-bytes <size> largest accepted record (default: 1MiB)
${DATA_DIR_HELP}

Example:
  sluice topics create page-views --partitions 4 --retention 7d
`

const LIST_HELP = `Usage: sluice topics list [--json]

Lists the topics with their partition count, offsets and size.

Options:
  --json            print a JSON array instead of a table
${DATA_DIR_HELP}

Example:
  sluice topics list --data-dir ./data
`

const DESCRIBE_HELP = `Usage: sluice topics describe <name> [--json]

Shows a topic's settings and, per partition, the first and next offset and the bytes stored.

Options:
  --json            print the description as JSON
${DATA_DIR_HELP}

Example:
  sluice topics describe page-views
`

const DELETE_HELP = `Usage: sluice topics delete <name>

Deletes a topic with all its records and the consumer-group offsets committed for it.

Options:
${DATA_DIR_HELP}

Example:
  sluice topics delete page-views
`

const TOPICS_HELP = `Usage: sluice topics <create|list|describe|delete> [options]

Manages topics.

Commands:
  create <name> --partitions N   create a topic
  list                           list topics
  describe <name>                partitions, offsets and size of a topic
  delete <name>                  delete a topic and its records

Run "sluice topics <command> --help" for the options of each.

Example:
  sluice topics create orders --partitions 3
  sluice topics list
`

async function create(args: string[]): Promise<number> {
  const cmd = 'topics create'
  const { values, positionals } = parseCommandArgs(cmd, args, {
    partitions: { type: 'string' },
    retention: { type: 'string' },
    'retention-bytes': { type: 'string' },
    compact: { type: 'boolean' },
    'max-record-bytes': { type: 'string' },
  })
  if (values.help) return help(CREATE_HELP)
  const [name] = expectPositionals(cmd, positionals, ['name'])
  if (values.partitions === undefined) throw new UsageError(cmd, 'missing --partitions N')
  const config: TopicConfig = { partitions: parseIntFlag(cmd, 'partitions', values.partitions, 1) }
  const { retention, compact } = values
  const retentionBytes = values['retention-bytes']
  const maxRecordBytes = values['max-record-bytes']
  if (retention !== undefined)
    config.retentionMs = parseWith(cmd, 'retention', () => parseDuration(retention))
  if (retentionBytes !== undefined)
    config.retentionBytes = parseWith(cmd, 'retention-bytes', () => parseSize(retentionBytes))
  if (maxRecordBytes !== undefined)
    config.maxRecordBytes = parseWith(cmd, 'max-record-bytes', () => parseSize(maxRecordBytes))
  if (compact) config.compact = true
  const dataDir = dataDirOf(values)
  const topic = await withLog(dataDir, { create: true }, (log) => log.createTopic(name!, config))
  await writeOut(
    `created topic "${topic.name}" (${partitionCount(topic)}, ${settings(topic)}) in ${dataDir}\n`,
  )
  return EXIT_OK
}

async function list(args: string[]): Promise<number> {
  const cmd = 'topics list'
  const { values, positionals } = parseCommandArgs(cmd, args, { json: { type: 'boolean' } })
  if (values.help) return help(LIST_HELP)
  expectPositionals(cmd, positionals, [])
  const dataDir = dataDirOf(values)
  const topics = logExists(dataDir)
    ? await withLog(dataDir, {}, async (log) =>
        Promise.all((await log.listTopics()).map((name) => log.describeTopic(name))),
      )
    : []
  if (values.json) {
    await writeOut(`${JSON.stringify(topics.map(summaryJson))}\n`)
  } else if (topics.length === 0) {
    printErr(`no topics in ${dataDir}`)
  } else {
    const rows = topics.map((t) => {
      const s = summaryJson(t)
      return [t.name, String(t.partitions), formatCount(s.records), formatBytes(s.bytes), settings(t)]
    })
    await writeOut(formatTable([['TOPIC', 'PARTITIONS', 'RECORDS', 'SIZE', 'SETTINGS'], ...rows], [1, 2, 3]))
  }
  return EXIT_OK
}

async function describe(args: string[]): Promise<number> {
  const cmd = 'topics describe'
  const { values, positionals } = parseCommandArgs(cmd, args, { json: { type: 'boolean' } })
  if (values.help) return help(DESCRIBE_HELP)
  const [name] = expectPositionals(cmd, positionals, ['name'])
  const topic = await withTopic(dataDirOf(values), name!, {}, (log) => log.describeTopic(name!))
  if (values.json) {
    await writeOut(`${JSON.stringify(topic, null, 2)}\n`)
    return EXIT_OK
  }
  const s = summaryJson(topic)
  const rows = topic.partitionDetails.map((p) => [
    String(p.partition),
    formatCount(p.startOffset),
    formatCount(p.endOffset),
    formatCount(p.endOffset - p.startOffset),
    formatBytes(p.bytes),
  ])
  rows.push(['total', '', '', formatCount(s.records), formatBytes(s.bytes)])
  await writeOut(
    `topic "${topic.name}": ${partitionCount(topic)}, ${settings(topic)}\n\n` +
      formatTable([['PARTITION', 'START', 'END', 'RECORDS', 'SIZE'], ...rows], [1, 2, 3, 4]),
  )
  return EXIT_OK
}

async function remove(args: string[]): Promise<number> {
  const cmd = 'topics delete'
  const { values, positionals } = parseCommandArgs(cmd, args, {})
  if (values.help) return help(DELETE_HELP)
  const [name] = expectPositionals(cmd, positionals, ['name'])
  const dataDir = dataDirOf(values)
  await withTopic(dataDir, name!, {}, (log) => log.deleteTopic(name!))
  await writeOut(`deleted topic "${name}" from ${dataDir}\n`)
  return EXIT_OK
}

function partitionCount(t: TopicDescription): string {
  return `${t.partitions} partition${t.partitions === 1 ? '' : 's'}`
}

/** Totals of a topic. Records is `end - start` summed: exact unless compaction removed some. */
function summaryJson(t: TopicDescription) {
  let records = 0
  let bytes = 0
  for (const p of t.partitionDetails) {
    records += p.endOffset - p.startOffset
    bytes += p.bytes
  }
  return { name: t.name, partitions: t.partitions, records, bytes }
}

function settings(t: TopicDescription): string {
  const parts = [t.retentionMs === null ? 'retention forever' : `retention ${formatDuration(t.retentionMs)}`]
  if (t.retentionBytes !== null) parts.push(`retention-bytes ${formatBytes(t.retentionBytes)}`)
  if (t.compact) parts.push('compacted')
  parts.push(`max record ${formatBytes(t.maxRecordBytes)}`)
  return parts.join(', ')
}

async function help(text: string): Promise<number> {
  await writeOut(text)
  return EXIT_OK
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  create,
  list,
  describe,
  delete: remove,
}

export const topicsCommand: Command = {
  name: 'topics',
  summary: 'create, list, describe and delete topics',
  help: TOPICS_HELP,
  async run(args) {
    const [sub, ...rest] = args
    if (sub === '--help' || sub === '-h' || sub === 'help') return help(TOPICS_HELP)
    if (sub === undefined) {
      process.stderr.write(TOPICS_HELP)
      return EXIT_USAGE
    }
    const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined
    if (!run) {
      throw new UsageError(
        'topics',
        sub.startsWith('-')
          ? `expected a command (create, list, describe, delete) before "${sub}"`
          : `unknown command "topics ${sub}"; use create, list, describe or delete`,
      )
    }
    return run(rest)
  },
}
