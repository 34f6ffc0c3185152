/**
 * `sluice status`: the figures of a running `sluice run`, read from its HTTP server
 * (`GET /api/metrics`), as a table — or the JSON itself with `--json`, for scripts.
 */
import type { ConnectorStatus } from '../../connectors/status.ts'
import type { PipelineMetrics } from '../../runtime/metrics/snapshot.ts'
import type { LatencySummary } from '../../server/metrics-routes.ts'
import { expectPositionals, parseCommandArgs, UsageError } from '../args.ts'
import { type Command, EXIT_FAILURE, EXIT_OK } from '../command.ts'
import { formatCount, printErr, writeOut } from '../output.ts'

const HELP = `Usage: sluice status [options]

Prints the figures of a running "sluice run" (or "sluice serve"): per pipeline its state,
tasks, records in and out (and per second, over --interval), lag, watermark, latency
percentiles, late records and dead letters; per connector its records and errors.

Options:
  --url <url>        the server of the run (default http://127.0.0.1:8080, or $SLUICE_URL)
  --token <token>    a bearer token, when the server has tokens (default: $SLUICE_TOKEN)
  --interval <ms>    sample twice this far apart to show rates (default 1000; 0: no rates)
  --json             print GET /api/metrics as JSON (one sample) and exit
  -h, --help         show this help

Example:
  sluice status
  sluice status --url http://10.0.0.5:8080 --token "$TOKEN"
  sluice status --json | jq '.pipelines[] | {pipeline, lag: [.tasks[].positions[].lag] | add}'
`

interface ApiMetrics {
  at: number
  pipelines: Array<PipelineMetrics & { latency: LatencySummary; eventLatency: LatencySummary }>
  connectors: ConnectorStatus[]
}

export const statusCommand: Command = {
  name: 'status',
  summary: "show a running sluice's figures (pipelines, lag, latency, connectors)",
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs('status', args, {
      url: { type: 'string' },
      token: { type: 'string' },
      interval: { type: 'string' },
      json: { type: 'boolean' },
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    expectPositionals('status', positionals, [])
    const base = (values.url ?? process.env.SLUICE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '')
    if (!/^https?:\/\/[^/]+/.test(base))
      throw new UsageError('status', `--url must be http(s)://host:port, got "${base}"`)
    const interval = values.interval === undefined ? 1000 : Number(values.interval)
    if (!Number.isInteger(interval) || interval < 0)
      throw new UsageError('status', `--interval must be whole ms ≥ 0, got "${values.interval}"`)
    const token = values.token ?? process.env.SLUICE_TOKEN
    const get = async (): Promise<ApiMetrics> => {
      let res: Response
      try {
        res = await fetch(
          `${base}/api/metrics`,
          token ? { headers: { authorization: `Bearer ${token}` } } : {},
        )
      } catch (error) {
        throw new StatusError(
          `no sluice answers at ${base} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}): is "sluice run" running there? (--url)`,
        )
      }
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: string }
        throw new StatusError(`${base}/api/metrics answered ${res.status}: ${body.error ?? res.statusText}`)
      }
      return (await res.json()) as ApiMetrics
    }
    try {
      const first = await get()
      if (values.json) {
        await writeOut(`${JSON.stringify(first)}\n`)
        return EXIT_OK
      }
      let second: ApiMetrics | null = null
      if (interval > 0) {
        await new Promise((r) => setTimeout(r, interval))
        second = await get()
      }
      await writeOut(render(first, second))
      return EXIT_OK
    } catch (error) {
      if (!(error instanceof StatusError)) throw error
      printErr(`sluice: error: ${error.message}`)
      return EXIT_FAILURE
    }
  },
}

class StatusError extends Error {}

function render(a: ApiMetrics, b: ApiMetrics | null): string {
  const now = b ?? a
  const seconds = b ? (b.at - a.at) / 1000 : 0
  const rows: string[][] = [
    [
      'pipeline',
      'state',
      'tasks',
      'in',
      'out',
      'in/s',
      'lag',
      'watermark',
      'p50 ms',
      'p99 ms',
      'late',
      'dead letters',
    ],
  ]
  for (const p of now.pipelines) {
    const before = a.pipelines.find((x) => x.pipeline === p.pipeline)
    const recordsIn = total(p, (t) => t.recordsIn)
    const rate = b && before ? (recordsIn - total(before, (t) => t.recordsIn)) / seconds : Number.NaN
    const lags = p.tasks.flatMap((t) => t.positions.map((x) => x.lag))
    const wms = p.tasks.map((t) => t.watermark).filter((w): w is number => w !== null)
    rows.push([
      p.pipeline,
      p.state,
      String(p.tasks.length),
      formatCount(recordsIn),
      formatCount(total(p, (t) => t.recordsOut)),
      Number.isNaN(rate) ? '-' : formatCount(Math.round(rate)),
      lags.some((l) => l === null) ? '?' : formatCount(lags.reduce<number>((n, l) => n + (l ?? 0), 0)),
      wms.length === 0 ? 'none yet' : new Date(Math.min(...wms)).toISOString().replace('.000Z', 'Z'),
      p.latency.count === 0 ? '-' : p.latency.p50.toFixed(1),
      p.latency.count === 0 ? '-' : p.latency.p99.toFixed(1),
      formatCount(total(p, (t) => t.windows.reduce((n, w) => n + w.lateRecords, 0) + (t.lateDropped ?? 0))),
      formatCount(total(p, (t) => t.deadLetters)),
    ])
  }
  let out = table(rows)
  if (now.connectors.length > 0) {
    const c: string[][] = [
      ['connector', 'kind', 'type', 'topic', 'state', 'records', 'dead letters', 'errors', 'last error'],
    ]
    for (const x of now.connectors) {
      c.push([
        x.name,
        x.kind,
        x.type,
        x.topic,
        x.state,
        formatCount(x.records),
        formatCount(x.deadLetters),
        formatCount(x.errors),
        x.lastError?.slice(0, 60) ?? '',
      ])
    }
    out += `\n${table(c)}`
  }
  return out
}

function total(p: PipelineMetrics, f: (t: PipelineMetrics['tasks'][number]) => number): number {
  return p.tasks.reduce((n, t) => n + f(t), 0)
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return `${rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`
}
