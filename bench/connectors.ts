/**
 * `npm run bench:connectors`: one section per connector. Sections live in
 * `bench/connectors/<name>.ts`, one function each; to add one, list it in `sections` below.
 *
 *   npm run bench:connectors                           # every section
 *   npm run bench:connectors -- --only postgres        # one (or a comma-separated list)
 *   npm run bench:connectors -- --rows 100000          # section flags pass through
 *   npm run bench:connectors -- --write-docs           # also (re)write each section's part of docs/benchmarks.md
 *
 * Section flags: postgres --rows N (default 500,000) --batch N (1,000) --pg URL;
 * http --seconds N (5) --connections N (32) --batch N (100); mqtt --messages N (20,000);
 * files --records N (200,000).
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { positiveInt, writeDoc } from './common.ts'
import { benchFiles } from './connectors/files.ts'
import { benchHttp } from './connectors/http.ts'
import { benchMqtt } from './connectors/mqtt.ts'
import { benchPostgres } from './connectors/postgres.ts'
import type { Section, SectionReport } from './connectors/section.ts'

/** A section's own numeric flag, from the arguments passed through. */
function flag(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`)
  return positiveInt(name, at >= 0 ? args[at + 1] : undefined, fallback)
}

const sections: Section[] = [
  { name: 'postgres', run: benchPostgres },
  {
    name: 'http',
    run: async (args) => {
      const result = await benchHttp({
        seconds: flag(args, 'seconds', 5),
        connections: flag(args, 'connections', 32),
        batch: flag(args, 'batch', 100),
      })
      console.table(result.rows)
      console.log(`baseline, in-process producer: ${Math.round(result.baselineEventsPerSecond)} events/s`)
      return httpReport(result, args)
    },
  },
  {
    name: 'mqtt',
    run: async (args) => {
      console.table([
        await benchMqtt({ url: 'mqtt://127.0.0.1:1883', messages: flag(args, 'messages', 20_000) }),
      ])
      return undefined
    },
  },
  {
    name: 'files',
    run: async (args) => {
      console.table(await benchFiles({ records: flag(args, 'records', 200_000) }))
      return undefined
    },
  },
]

function httpReport(result: Awaited<ReturnType<typeof benchHttp>>, args: readonly string[]): SectionReport {
  const int = (n: number) => Math.round(n).toLocaleString('en-US')
  const rows = result.rows.map(
    (r) =>
      `| ${r.shape} | ${int(r.requestsPerSecond)} | ${int(r.eventsPerSecond)} | ${((r.eventsPerSecond / result.baselineEventsPerSecond) * 100).toFixed(0)}% | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} |`,
  )
  return {
    heading: 'HTTP ingest',
    markdown: [
      `\`npm run bench:connectors -- --only http${args.length ? ` ${args.join(' ')}` : ''}\` — ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]!.toFixed(1)}, ${cpus().length} cores.`,
      '',
      '`POST /topics/orders/events` into the embedded log (4 partitions, durability `sync`: each group commit fsynced before the responses), driven by autocannon in its own process on loopback; baseline: the same events appended in-process by a bare producer (no HTTP) in the same run.',
      '',
      '| shape | requests/s | events/s | vs in-process producer | p50 ms | p99 ms | errors |',
      '| :--- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows,
      `| baseline: in-process producer | | ${int(result.baselineEventsPerSecond)} | 100% | | | |`,
    ].join('\n'),
  }
}

const argv = process.argv.slice(2)
const { values } = parseArgs({
  args: argv,
  strict: false,
  options: {
    only: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  process.stdout.write(
    `npm run bench:connectors -- [--only ${sections.map((s) => s.name).join(',')}] [--write-docs] [section flags]\n`,
  )
  process.exit(0)
}
const only = typeof values.only === 'string' ? values.only.split(',') : undefined
const unknown = only?.filter((n) => !sections.some((s) => s.name === n)) ?? []
if (unknown.length > 0) {
  process.stderr.write(
    `unknown section(s) ${unknown.join(', ')}; sections: ${sections.map((s) => s.name).join(', ')}\n`,
  )
  process.exit(2)
}
// Sections get the flags meant for them; the harness's own are taken out.
const sectionArgs = argv.filter((a, i) => a !== '--write-docs' && a !== '--only' && argv[i - 1] !== '--only')
const reports: SectionReport[] = []
for (const section of sections) {
  if (only && !only.includes(section.name)) continue
  process.stdout.write(`\n# ${section.name}\n\n`)
  const report = await section.run(sectionArgs)
  if (report) reports.push(report)
}
if (values['write-docs']) for (const r of reports) writeSection(r)

/** Replaces the section under `## <heading>` in docs/benchmarks.md, or appends it. */
function writeSection(report: SectionReport): void {
  const file = new URL('../docs/benchmarks.md', import.meta.url)
  const text = readFileSync(file, 'utf8')
  const heading = `## ${report.heading}`
  const body = `${heading}\n\n${report.markdown.trimEnd()}\n`
  const start = text.indexOf(heading)
  const next = start < 0 ? -1 : text.indexOf('\n## ', start + heading.length)
  const updated =
    start < 0
      ? `${text.trimEnd()}\n\n${body}`
      : `${text.slice(0, start)}${body}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`
  writeDoc(file, updated)
  process.stderr.write(`wrote "${report.heading}" in docs/benchmarks.md\n`)
}
