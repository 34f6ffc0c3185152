/**
 * `sluice produce <topic>`: appends NDJSON lines (stdin or --file) as records.
 *
 * All or nothing: every line is validated before the first record is sent, so a malformed
 * line in the middle of a file does not leave half of it in the topic. (With --skip-invalid
 * the invalid lines are dropped and the rest is written.)
 */
import { open } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { SluiceError } from '../../errors.ts'
import { recordSize } from '../../log/embedded/batch-codec.ts'
import type { ProducerRecord, TopicDescription } from '../../log/index.ts'
import {
  DATA_DIR_HELP,
  dataDirOf,
  expectPositionals,
  parseCommandArgs,
  parseDurabilityFlag,
  UsageError,
} from '../args.ts'
import { type Command, EXIT_FAILURE, EXIT_OK } from '../command.ts'
import { withTopic } from '../open-log.ts'
import {
  formatBytes,
  formatCount,
  formatElapsed,
  formatRate,
  printErr,
  printError,
  writeOut,
} from '../output.ts'

const HELP = `Usage: sluice produce <topic> [options] < records.ndjson

Appends one record per line of NDJSON from stdin (or --file). The record's value is the
line's bytes; every line must be valid JSON. Empty lines are skipped. Nothing is written
unless every line is valid (or --skip-invalid is given). Prints one summary line to stderr.

Options:
  --key-field <field>       use this top-level field of each line as the record key, so
                            lines with the same value land on the same partition
                            (a line without the field is invalid)
  --file <path>             read this file instead of stdin
  --skip-invalid            skip invalid lines (counted in the summary) and write the rest
  --durability <mode>       sync (default): acknowledged once on disk;
                            interval: fsync every 100 ms, faster, may lose the last
                            100 ms of records on power loss
${DATA_DIR_HELP}

Example:
  echo '{"user":"ada","page":"/"}' | sluice produce page-views --key-field user
  sluice produce page-views --file views.ndjson --skip-invalid
`

/** Records per `send`: big enough to batch well, small enough to keep memory flat while sending. */
const CHUNK_RECORDS = 10_000
/** Invalid lines printed one by one before "... and N more". */
const MAX_REPORTED = 10

interface InvalidLine {
  line: number
  problem: string
}

export const produceCommand: Command = {
  name: 'produce',
  summary: 'append NDJSON lines from stdin or a file to a topic',
  help: HELP,
  async run(args) {
    const cmd = 'produce'
    const { values, positionals } = parseCommandArgs(cmd, args, {
      'key-field': { type: 'string' },
      file: { type: 'string' },
      'skip-invalid': { type: 'boolean' },
      durability: { type: 'string' },
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    const [topic] = expectPositionals(cmd, positionals, ['topic'])
    const durability = parseDurabilityFlag(cmd, values.durability)
    const keyField = values['key-field']
    const skipInvalid = values['skip-invalid'] ?? false
    const options = durability ? { durability } : {}

    return withTopic(dataDirOf(values), topic!, options, async (log) => {
      const description = await log.describeTopic(topic!)
      if (description.compact && keyField === undefined) {
        throw new UsageError(
          cmd,
          `topic "${topic}" is compacted, so every record needs a key: pass --key-field <field>`,
        )
      }
      const started = performance.now()
      const input = await readRecords(values.file, keyField, description)
      if (input.invalid.length > 0 && !skipInvalid) {
        for (const bad of input.invalid.slice(0, MAX_REPORTED)) printError(`line ${bad.line}: ${bad.problem}`)
        if (input.invalid.length > MAX_REPORTED)
          printError(`... and ${formatCount(input.invalid.length - MAX_REPORTED)} more invalid lines`)
        printError(
          `${formatCount(input.invalid.length)} of ${formatCount(input.lines)} lines are invalid; nothing was written. ` +
            'Fix them, or pass --skip-invalid to write only the valid lines.',
        )
        return EXIT_FAILURE
      }

      const producer = log.producer()
      let sent = 0
      try {
        for (let i = 0; i < input.records.length; i += CHUNK_RECORDS) {
          const chunk = input.records.slice(i, i + CHUNK_RECORDS)
          await producer.send(topic!, chunk)
          sent += chunk.length
        }
      } catch (error) {
        if (sent > 0) printError(`${formatCount(sent)} records were written before this error:`)
        throw error
      } finally {
        await producer.close()
      }

      const ms = performance.now() - started
      let summary =
        `produced ${formatCount(sent)} record${sent === 1 ? '' : 's'} (${formatBytes(input.bytes)}) ` +
        `to "${topic}" in ${formatElapsed(ms)}, ${formatRate(sent, ms, 'records')}`
      const first = input.invalid[0]
      if (first) {
        summary += `; skipped ${formatCount(input.invalid.length)} invalid line${input.invalid.length === 1 ? '' : 's'} (first: line ${first.line}: ${first.problem})`
      }
      printErr(summary)
      return EXIT_OK
    })
  },
}

interface Input {
  records: ProducerRecord[]
  invalid: InvalidLine[]
  /** Lines read, empty ones included (line numbers count them). */
  lines: number
  /** Key and value bytes of the valid records. */
  bytes: number
}

/** Reads and validates every line. Lines are streamed, so no single huge string is built. */
async function readRecords(
  file: string | undefined,
  keyField: string | undefined,
  topic: TopicDescription,
): Promise<Input> {
  const handle = file === undefined ? null : await openInput(file)
  if (!handle && process.stdin.isTTY)
    printErr('reading NDJSON from stdin, one record per line; end with Ctrl-D')
  const stream = handle ? handle.createReadStream({ encoding: 'utf8' }) : process.stdin.setEncoding('utf8')
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
  const result: Input = { records: [], invalid: [], lines: 0, bytes: 0 }
  try {
    for await (const line of lines) {
      result.lines++
      if (line.trim() === '') continue
      const checked = checkLine(line, keyField, topic.maxRecordBytes)
      if (typeof checked === 'string') {
        result.invalid.push({ line: result.lines, problem: checked })
        continue
      }
      result.records.push(checked)
      result.bytes += checked.value!.length + (checked.key?.length ?? 0)
    }
  } finally {
    lines.close()
    await handle?.close()
  }
  return result
}

async function openInput(file: string) {
  try {
    return await open(file, 'r')
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new SluiceError('SLUICE_INVALID_INPUT', `cannot read --file ${file}: ${reason}`)
  }
}

/** A valid line as a record, or what is wrong with it. */
function checkLine(
  line: string,
  keyField: string | undefined,
  maxRecordBytes: number,
): ProducerRecord | string {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`
  }
  const record: ProducerRecord = { value: Buffer.from(line, 'utf8') }
  if (keyField !== undefined) {
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return `--key-field "${keyField}" needs a JSON object, but the line is ${describeJson(parsed)}`
    }
    const key = (parsed as Record<string, unknown>)[keyField]
    if (!Object.hasOwn(parsed, keyField) || key === undefined) return `has no field "${keyField}" for the key`
    if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
      return `field "${keyField}" is ${describeJson(key)}; a key must be a string, number or boolean`
    }
    record.key = Buffer.from(String(key), 'utf8')
  }
  const size = recordSize(record)
  if (size > maxRecordBytes) {
    return `record is ${formatBytes(size)}; the topic accepts at most ${formatBytes(maxRecordBytes)} (topics create --max-record-bytes)`
  }
  return record
}

function describeJson(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
