/**
 * `sluice events append|read|tail|state|projections rebuild|migrate`: the event store from the
 * command line. Events print as NDJSON on stdout (one RecordedEvent per line); summaries and
 * progress go to stderr.
 */
import { createInterface } from 'node:readline'
import { SluiceError } from '../../errors.ts'
import { type Projection, rebuildProjection } from '../../eventstore/projections.ts'
import type { ExpectedVersion, NewEvent, RecordedEvent } from '../../eventstore/types.ts'
import { expectPositionals, parseCommandArgs, parseIntFlag, parseTimeFlag, UsageError } from '../args.ts'
import { type Command, EXIT_OK, EXIT_USAGE } from '../command.ts'
import {
  importExport,
  isAggregate,
  isProjection,
  STORE_HELP,
  STORE_OPTIONS,
  withEventStore,
} from '../events-store.ts'
import { formatCount, formatElapsed, printErr, writeOut } from '../output.ts'

const APPEND_HELP = `Usage: sluice events append <stream> [--type T --data JSON] [options] < events.ndjson

Appends events to a stream, all of them or none. One event from --type and --data, or one
per NDJSON line on stdin: {"type": "...", "data": ..., "metadata": {...}, "id": "..."}.
Prints the result ({"nextExpectedVersion", "firstPosition", "lastPosition", "duplicate"}).

Options:
  --type <type>                 the event type (with --data: append one event)
  --data <json>                 the event data (default: null)
  --id <id>                     the event id (retrying with the same id appends nothing)
  --expected-version <v>        any (default), noStream, exists, or the stream's version N;
                                when the stream is elsewhere, nothing is written (exit 1)
${STORE_HELP}

Example:
  sluice events append cart-1 --type ItemAdded --data '{"sku":"a-1"}' --expected-version noStream
  sluice events append cart-1 --expected-version 1 < more-events.ndjson
`

const READ_HELP = `Usage: sluice events read <stream> [options]

Prints a stream's events as NDJSON, oldest first.

Options:
  --backward              newest first
  --from-version <n>      start at this version (forward: up from it; backward: down from it)
  --to-version <n>        forward: stop after this version
  --max-count <n>         at most this many events
${STORE_HELP}

Example:
  sluice events read cart-1
  sluice events read cart-1 --backward --max-count 1
`

const TAIL_HELP = `Usage: sluice events tail [options]

Follows the global order: prints each event (NDJSON) as it is appended, until Ctrl-C or
SIGTERM (exit 0). Starts at the end unless told otherwise.

Options:
  --from-beginning        start with the first event ever appended
  --after <position>      start after this global position
  --type <type>           only events of this type (repeat, or comma-separate, for several)
  --stream-prefix <p>     only events of streams whose id starts with this
  --count <n>             exit after printing this many events
${STORE_HELP}

Example:
  sluice events tail --from-beginning --type ItemAdded,ItemRemoved
`

const STATE_HELP = `Usage: sluice events state <stream> [--as-of <time> | --as-of-version <n>] [options]

The state of a stream as of a time (the last event appended at or before it) or a version.
With --aggregate, folds the events with that aggregate's evolve and prints
{"stream", "version", "state"}; without, prints {"stream", "version", "events"}.

Options:
  --as-of <time>            ISO 8601 time (2025-01-31T12:00:00Z) or ms since the epoch
  --as-of-version <n>       the state after the stream's n-th event
  --aggregate <file[#name]> a module exporting an aggregate() (the default export, the
                            only one, or the one named after #)
${STORE_HELP}

Example:
  sluice events state cart-1 --as-of 2025-01-31T12:00:00Z --aggregate ./cart.ts#cart
`

const REBUILD_HELP = `Usage: sluice events projections rebuild <name> --module <file> [options]

Clears a projection and replays every event into it from position 0, with a progress bar on
stderr. Stop the projection's live runner first. Prints {"projection", "events", "position"}.

Options:
  --module <file>         a module exporting the projection (an object with this name and
                          an apply function)
  --batch-size <n>        events per transaction (default 500)
${STORE_HELP}

Example:
  sluice events projections rebuild balances --module ./projections.ts
`

const MIGRATE_HELP = `Usage: sluice events migrate --postgres <url> [--schema <name>]

Creates or upgrades the PostgreSQL event store's tables (safe to run again, and from several
processes at once). Prints {"from", "to", "applied"}.

Options:
${STORE_HELP}

Example:
  sluice events migrate --postgres postgres://postgres@127.0.0.1/app
`

const EVENTS_HELP = `Usage: sluice events <command> [options]

The event store: streams of events per aggregate, and one global order.

Commands:
  append <stream>                 append events (all or none) with an expected version
  read <stream>                   print a stream's events
  tail                            follow the global order
  state <stream> --as-of <time>   a stream's state as of a time or version
  projections rebuild <name>      rebuild a projection from position 0
  migrate --postgres <url>        create or upgrade the PostgreSQL tables

Run "sluice events <command> --help" for the options of each.

Example:
  sluice events append cart-1 --type ItemAdded --data '{"sku":"a-1"}'
  sluice events read cart-1
`

async function append(args: string[]): Promise<number> {
  const cmd = 'events append'
  const { values, positionals } = parseCommandArgs(cmd, args, {
    ...STORE_OPTIONS,
    type: { type: 'string' },
    data: { type: 'string' },
    id: { type: 'string' },
    'expected-version': { type: 'string' },
  })
  if (values.help) return help(APPEND_HELP)
  const [stream] = expectPositionals(cmd, positionals, ['stream'])
  const expectedVersion = parseExpected(cmd, values['expected-version'])
  let events: NewEvent[]
  if (values.type !== undefined) {
    const data = values.data === undefined ? null : parseJsonFlag(cmd, 'data', values.data)
    events = [{ type: values.type, data, ...(values.id ? { id: values.id } : {}) }]
  } else {
    if (values.data !== undefined || values.id !== undefined) {
      throw new UsageError(cmd, '--data and --id need --type (or give the events as NDJSON on stdin)')
    }
    events = await readEventLines()
  }
  const result = await withEventStore(values, { create: true, mode: 'write' }, (store) =>
    store.append(stream!, events, { expectedVersion }),
  )
  await writeOut(`${JSON.stringify(result)}\n`)
  return EXIT_OK
}

async function read(args: string[]): Promise<number> {
  const cmd = 'events read'
  const { values, positionals } = parseCommandArgs(cmd, args, {
    ...STORE_OPTIONS,
    backward: { type: 'boolean' },
    'from-version': { type: 'string' },
    'to-version': { type: 'string' },
    'max-count': { type: 'string' },
  })
  if (values.help) return help(READ_HELP)
  const [stream] = expectPositionals(cmd, positionals, ['stream'])
  const options = {
    ...(values.backward ? { direction: 'backward' as const } : {}),
    ...intOption(cmd, 'from-version', values['from-version'], 1, 'fromVersion'),
    ...intOption(cmd, 'to-version', values['to-version'], 1, 'toVersion'),
    ...intOption(cmd, 'max-count', values['max-count'], 1, 'maxCount'),
  }
  const events = await withEventStore(values, { mode: 'read' }, (store) => store.readStream(stream!, options))
  await writeOut(ndjson(events))
  return EXIT_OK
}

async function tail(args: string[]): Promise<number> {
  const cmd = 'events tail'
  const { values, positionals } = parseCommandArgs(cmd, args, {
    ...STORE_OPTIONS,
    'from-beginning': { type: 'boolean' },
    after: { type: 'string' },
    type: { type: 'string', multiple: true },
    'stream-prefix': { type: 'string' },
    count: { type: 'string' },
  })
  if (values.help) return help(TAIL_HELP)
  expectPositionals(cmd, positionals, [])
  if (values['from-beginning'] && values.after !== undefined) {
    throw new UsageError(cmd, 'give --from-beginning or --after, not both')
  }
  const count = values.count === undefined ? Infinity : parseIntFlag(cmd, 'count', values.count, 1)
  const types = values.type?.flatMap((t) => t.split(',')).filter((t) => t.length > 0)
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await withEventStore(values, { mode: 'read' }, async (store) => {
      let position = values['from-beginning']
        ? 0
        : values.after !== undefined
          ? parseIntFlag(cmd, 'after', values.after)
          : await store.headPosition()
      let printed = 0
      while (!stop.signal.aborted && printed < count) {
        const page = await store.readAll({
          after: position,
          limit: Math.min(500, count - printed),
          ...(types && types.length > 0 ? { types } : {}),
          ...(values['stream-prefix'] ? { streamPrefix: values['stream-prefix'] } : {}),
        })
        await writeOut(ndjson(page.events))
        printed += page.events.length
        position = page.position
        if (page.events.length === 0)
          await store.waitForEvents(position, { timeoutMs: 1_000, signal: stop.signal })
      }
    })
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return EXIT_OK
}

async function state(args: string[]): Promise<number> {
  const cmd = 'events state'
  const { values, positionals } = parseCommandArgs(cmd, args, {
    ...STORE_OPTIONS,
    'as-of': { type: 'string' },
    'as-of-version': { type: 'string' },
    aggregate: { type: 'string' },
  })
  if (values.help) return help(STATE_HELP)
  const [stream] = expectPositionals(cmd, positionals, ['stream'])
  if (values['as-of'] !== undefined && values['as-of-version'] !== undefined) {
    throw new UsageError(cmd, 'give --as-of or --as-of-version, not both')
  }
  const time = values['as-of'] === undefined ? undefined : parseTimeFlag(cmd, 'as-of', values['as-of'])
  const version =
    values['as-of-version'] === undefined
      ? undefined
      : parseIntFlag(cmd, 'as-of-version', values['as-of-version'])
  const aggregate =
    values.aggregate === undefined
      ? undefined
      : await importExport(cmd, 'aggregate', values.aggregate, 'an aggregate()', isAggregate)
  const asOf = { ...(time === undefined ? {} : { time }), ...(version === undefined ? {} : { version }) }
  const out = await withEventStore(values, { mode: 'read' }, async (store) => {
    // An unknown stream is an error here, not an initial state: the id is probably mistyped.
    const all = await store.readStream(stream!)
    // The events up to the first one past the version or the time: what `load` folds.
    const upTo: RecordedEvent[] = []
    for (const e of all) {
      if ((version !== undefined && e.version > version) || (time !== undefined && e.timestamp > time)) break
      upTo.push(e)
    }
    const asOfJson = time === undefined ? {} : { asOf: new Date(time).toISOString() }
    if (!aggregate) {
      return { stream, version: upTo.at(-1)?.version ?? 0, ...asOfJson, events: upTo }
    }
    const loaded = await aggregate.load(store, stream!, { asOf })
    return { stream, version: loaded.version, ...asOfJson, state: loaded.state }
  })
  await writeOut(`${JSON.stringify(out, null, 2)}\n`)
  return EXIT_OK
}

async function projections(args: string[]): Promise<number> {
  const [sub, ...rest] = args
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    if (sub === undefined) {
      process.stderr.write(REBUILD_HELP)
      return EXIT_USAGE
    }
    return help(REBUILD_HELP)
  }
  if (sub !== 'rebuild') {
    throw new UsageError('events projections', `unknown command "events projections ${sub}"; use rebuild`)
  }
  const cmd = 'events projections rebuild'
  const { values, positionals } = parseCommandArgs(cmd, rest, {
    ...STORE_OPTIONS,
    module: { type: 'string' },
    'batch-size': { type: 'string' },
  })
  if (values.help) return help(REBUILD_HELP)
  const [name] = expectPositionals(cmd, positionals, ['name'])
  if (values.module === undefined)
    throw new UsageError(cmd, 'missing --module <file> (the module exporting the projection)')
  const batchSize =
    values['batch-size'] === undefined ? 500 : parseIntFlag(cmd, 'batch-size', values['batch-size'], 1)
  const projection = await importExport(
    cmd,
    'module',
    values.module,
    `a projection named "${name}"`,
    (v): v is Projection => isProjection(v) && v.name === name,
  )
  const started = Date.now()
  const bar = progressBar(name!)
  const result = await withEventStore(values, { mode: 'write' }, (store) =>
    rebuildProjection(store, projection, { batchSize, onProgress: (p) => bar.update(p) }),
  )
  bar.done()
  printErr(
    `rebuilt projection "${name}": ${formatCount(result.events)} events up to position ${formatCount(result.position)} in ${formatElapsed(Date.now() - started)}`,
  )
  await writeOut(
    `${JSON.stringify({ projection: name, events: result.events, position: result.position })}\n`,
  )
  return EXIT_OK
}

async function migrateCommand(args: string[]): Promise<number> {
  const cmd = 'events migrate'
  const { values, positionals } = parseCommandArgs(cmd, args, STORE_OPTIONS)
  if (values.help) return help(MIGRATE_HELP)
  expectPositionals(cmd, positionals, [])
  const url = values.postgres ?? (process.env.SLUICE_EVENTS_POSTGRES || undefined)
  if (url === undefined)
    throw new UsageError(cmd, 'missing --postgres <url> (the embedded store needs no migration)')
  const pg = (await import('pg')).default
  const { migrate } = await import('../../eventstore/postgres/migrations.ts')
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const result = await migrate(client, values.schema ? { schema: values.schema } : {})
    await writeOut(`${JSON.stringify(result)}\n`)
  } finally {
    await client.end()
  }
  return EXIT_OK
}

/** A bar on a terminal (redrawn in place); on a pipe, a line per 10% so logs stay short. */
function progressBar(name: string) {
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  let lastLine = ''
  const render = (p: { position: number; head: number; events: number }) => {
    const fraction = p.head === 0 ? 1 : Math.min(1, p.position / p.head)
    const width = 30
    const filled = Math.round(fraction * width)
    return (
      `rebuilding ${name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
      `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatCount(p.events)} events  ` +
      `position ${formatCount(p.position)}/${formatCount(p.head)}`
    )
  }
  return {
    update(p: { position: number; head: number; events: number }) {
      lastLine = render(p)
      if (tty) {
        process.stderr.write(`\r\x1b[2K${lastLine}`)
        return
      }
      const tenth = Math.floor((p.head === 0 ? 1 : Math.min(1, p.position / p.head)) * 10)
      if (tenth > lastTenth) {
        lastTenth = tenth
        printErr(lastLine)
      }
    },
    done() {
      if (tty && lastLine) process.stderr.write('\n')
    },
  }
}

/** NDJSON events from stdin: every line is checked before anything is appended. */
async function readEventLines(): Promise<NewEvent[]> {
  const events: NewEvent[] = []
  let n = 0
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    n++
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw new SluiceError('SLUICE_INVALID_INPUT', `stdin line ${n} is not JSON; nothing was appended`)
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof (value as { type?: unknown }).type !== 'string'
    ) {
      throw new SluiceError(
        'SLUICE_INVALID_INPUT',
        `stdin line ${n} is not an event {"type": "...", "data": ...}; nothing was appended`,
      )
    }
    events.push(value as NewEvent)
  }
  if (events.length === 0) {
    throw new SluiceError(
      'SLUICE_INVALID_INPUT',
      'no events on stdin; give NDJSON lines {"type": "...", "data": ...}, or --type and --data',
    )
  }
  return events
}

function parseExpected(cmd: string, value: string | undefined): ExpectedVersion {
  if (value === undefined || value === 'any') return 'any'
  if (value === 'noStream' || value === 'no-stream') return 'noStream'
  if (value === 'exists') return 'exists'
  return parseIntFlag(cmd, 'expected-version', value)
}

function parseJsonFlag(cmd: string, flag: string, value: string): unknown {
  try {
    return JSON.parse(value)
  } catch {
    throw new UsageError(
      cmd,
      `--${flag} must be JSON, got ${value.length > 60 ? `${value.slice(0, 60)}…` : value}`,
    )
  }
}

function intOption<K extends string>(
  cmd: string,
  flag: string,
  value: string | undefined,
  min: number,
  key: K,
): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: parseIntFlag(cmd, flag, value, min) } as Record<K, number>)
}

function ndjson(events: readonly RecordedEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('')
}

async function help(text: string): Promise<number> {
  await writeOut(text)
  return EXIT_OK
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  append,
  read,
  tail,
  state,
  projections,
  migrate: migrateCommand,
}

export const eventsCommand: Command = {
  name: 'events',
  summary: 'the event store: append, read, tail, state as of a time, rebuild projections',
  help: EVENTS_HELP,
  async run(args) {
    const [sub, ...rest] = args
    if (sub === '--help' || sub === '-h' || sub === 'help') return help(EVENTS_HELP)
    if (sub === undefined) {
      process.stderr.write(EVENTS_HELP)
      return EXIT_USAGE
    }
    const run = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined
    if (!run) {
      const names = Object.keys(SUBCOMMANDS).join(', ')
      throw new UsageError(
        'events',
        sub.startsWith('-')
          ? `expected a command (${names}) before "${sub}"`
          : `unknown command "events ${sub}"; use ${names}`,
      )
    }
    return run(rest)
  },
}
