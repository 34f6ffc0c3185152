/**
 * Nexmark q10 end to end, as the benchmark runs it: the pipeline on `EmbeddedRunner` and its
 * file connector on `ConnectorRunner`, over a temp embedded log. Once the pipeline has committed
 * everything and the connector has written every output row, the directory tree must equal the
 * reference: the same partition directories (`dt=…/hm=…`), and in each the same multiset of rows
 * — exactly, since a clean run of the at-least-once file sink must not repeat a line.
 *
 * The events start at 23:57 UTC on New Year's Eve and span 400 s of event time, so the files
 * fall in seven minutes over two days (and two years).
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, before, test } from 'node:test'
import { generateEvents, generatorConfig } from '../../../bench/nexmark/generator.ts'
import { eventsTopic, queryContext } from '../../../bench/nexmark/queries/common.ts'
import { q10, q10Files } from '../../../bench/nexmark/queries/q10.ts'
import { q10Partitions } from '../../../bench/nexmark/reference/q10.ts'
import { appendEvents, EVENTS_TOPIC, runQuery } from '../../../bench/nexmark/run.ts'
import { canonical, querySpec } from '../../../bench/nexmark/suite.ts'
import { ConnectorRunner, type EmbeddedLog, EmbeddedRunner, openEmbeddedLog } from '../../../src/index.ts'
import { waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const EVENTS = 10_000
const config = generatorConfig({
  firstEventRate: 25,
  outOfOrderGroupSize: 37,
  seed: 7,
  baseTime: Date.UTC(2025, 11, 31, 23, 57, 0),
})
const events = generateEvents(EVENTS, config)
const rows = (list: readonly unknown[]) =>
  canonical(JSON.parse(JSON.stringify(list)) as unknown[], { kind: 'rows' })

/** The lines of every file below `dir`, parsed, by directory relative to `dir`; and the file names. */
function readTree(dir: string): { rows: Map<string, unknown[]>; files: string[] } {
  const out = new Map<string, unknown[]>()
  const files: string[] = []
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) {
        walk(path)
        continue
      }
      files.push(relative(dir, path))
      const list = out.get(relative(dir, d)) ?? []
      for (const line of readFileSync(path, 'utf8').split('\n')) if (line !== '') list.push(JSON.parse(line))
      out.set(relative(dir, d), list)
    }
  }
  walk(dir)
  return { rows: out, files }
}

function assertEqualsReference(dir: string): void {
  const want = q10Partitions(events)
  const got = readTree(dir)
  const days = new Set([...want.keys()].map((k) => k.split('/')[0]))
  assert.ok(
    want.size >= 5 && days.size === 2,
    `the reference spans ${want.size} minutes over ${days.size} days`,
  )
  assert.deepEqual([...got.rows.keys()].sort(), [...want.keys()].sort(), 'partition directories')
  for (const [partition, list] of want) {
    const written = got.rows.get(partition)!
    assert.equal(
      written.length,
      list.length,
      `${partition}: ${written.length} rows, the reference has ${list.length}`,
    )
    assert.deepEqual(rows(written), rows(list), `${partition}: rows differ from the reference`)
  }
  for (const f of got.files) assert.match(f, /^dt=\d{4}-\d\d-\d\d\/hm=\d\d:\d\d\/[^/]+\.ndjson$/)
}

let log: EmbeddedLog
before(async () => {
  log = await openEmbeddedLog({ dataDir: tempDir() })
  await appendEvents(log, config, EVENTS, () => {})
})
after(() => log.close())

test('q10 (log to file system): the pipeline and its file connector write exactly the reference rows per partition', async () => {
  const ctx = queryContext('q10', config, { suffix: '-files-test', events: eventsTopic(EVENTS_TOPIC) })
  const { pipeline, output } = q10(ctx)
  const dir = join(tempDir(), 'bids')
  const runner = new EmbeddedRunner(log, [pipeline])
  await runner.start()
  const connectors = new ConnectorRunner(log, [q10Files(ctx, output, dir)])
  connectors.start()
  const running = runner.run()
  const end = (topic: string) => log.partitionsOf(topic).reduce((n, p) => n + p.highWatermark, 0)
  try {
    await waitFor(
      'the pipeline to commit every event',
      async () => ((await log.committedOffsets(ctx.name, EVENTS_TOPIC)).get(0) ?? 0) >= EVENTS,
      60_000,
    )
    // The output topic's end is final now; the connector counts a batch once it is fsynced.
    await waitFor(
      'the connector to write every row',
      () => connectors.status()[0]!.records >= end(output.name),
      60_000,
    )
  } finally {
    runner.stop()
    await running
    await connectors.stop()
  }
  const status = connectors.status()[0]!
  assert.equal(status.records, end(output.name))
  assert.equal(status.deadLetters, 0)
  assert.equal(status.errors, 0)
  assert.equal(runner.status()[0]!.deadLetters, 0)
  assertEqualsReference(dir)
})

test('q10 through the benchmark runner: timed until the files hold every row, then counted', async () => {
  const dir = join(tempDir(), 'bench-files')
  const measured = await runQuery(log, querySpec('q10')!, config, { filesDir: dir })
  const want = [...q10Partitions(events).values()].reduce((n, list) => n + list.length, 0)
  assert.equal(measured.outputs, want)
  assert.deepEqual(
    { lines: measured.files?.lines, directories: measured.files?.directories },
    { lines: want, directories: q10Partitions(events).size },
  )
  assertEqualsReference(dir)
})
