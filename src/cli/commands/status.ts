/**
 * `sluice status`: the figures of a running `sluice run`, read from its HTTP server
 * (`GET /api/metrics`), as a table — or the JSON itself with `--json`, for scripts.
 */
import { expectPositionals, parseCommandArgs, UsageError } from '../args.ts'
import { type Command, EXIT_FAILURE, EXIT_OK } from '../command.ts'
import { printErr, writeOut } from '../output.ts'
import { type ApiMetrics, renderStatus } from './status-render.ts'

const HELP = `Usage: sluice status [options]

Prints the figures of a running "sluice run" (or "sluice serve") — the same ones as its
GET /metrics and dashboard — in tables:
  pipelines   state, tasks, records in and out (and per second, over --interval), lag in
              records and seconds, watermark, open windows, late records, dead letters
  latency     append time and event time → output committed: p50, p90, p99, p99.9, max
  commits     commits (and per second), commit duration p50 and p99, time blocked on commits
  tasks       per task (one per partition): records in, out, per second, processing time per
              record, lag, watermark, open windows and the next close, late records, dead
              letters, state entries, mapAsync calls in flight and time blocked on them
  inputs      per input partition of each task: watermark, newest event time, idle, quiet time
  connectors  records, dead letters, errors, the last error

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
      await writeOut(renderStatus(first, second))
      return EXIT_OK
    } catch (error) {
      if (!(error instanceof StatusError)) throw error
      printErr(`sluice: error: ${error.message}`)
      return EXIT_FAILURE
    }
  },
}

class StatusError extends Error {}
