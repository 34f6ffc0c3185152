/**
 * `sluice serve`: the HTTP server without pipelines — ingest into topics and live
 * subscriptions to them, on the embedded log or on Kafka. For a front door in its own process,
 * or for trying the API.
 */
import { openEmbeddedLog } from '../../log/index.ts'
import { openKafkaLog } from '../../log/kafka/index.ts'
import type { Log } from '../../log/types.ts'
import { DATA_DIR_HELP, dataDirOf, expectPositionals, parseCommandArgs } from '../args.ts'
import { parseBackend } from '../backend.ts'
import { type Command, EXIT_OK } from '../command.ts'
import { HTTP_HELP, HTTP_OPTIONS, planHttp, startHttp } from '../http-flags.ts'
import { printErr, writeOut } from '../output.ts'

const HELP = `Usage: sluice serve [options]

Serves the HTTP API over the log in --data-dir (or on Kafka with --backend kafka://…) until
Ctrl-C: POST /topics/<t>/events (one JSON event, or NDJSON lines), GET /topics/<t>/stream
(Server-Sent Events) and GET /topics/<t>/ws (WebSocket). Ingest answers once the events are
durably appended, with their partitions and offsets.

Options:
  --backend <url>           embedded (default) or kafka://host:port (default: $SLUICE_BACKEND)
${HTTP_HELP}
${DATA_DIR_HELP}

Example:
  sluice serve --port 8080
  curl -X POST localhost:8080/topics/orders/events -H 'content-type: application/json' -d '{"id":1}'
  curl -N 'localhost:8080/topics/orders/stream?from=earliest'
`

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve HTTP ingest and live subscriptions (no pipelines)',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs('serve', args, {
      backend: { type: 'string' },
      ...HTTP_OPTIONS,
    })
    if (values.help) {
      await writeOut(HELP)
      return EXIT_OK
    }
    expectPositionals('serve', positionals, [])
    const http = planHttp('serve', values)
    if (!http) {
      printErr('sluice: serve --no-http has nothing to do')
      return EXIT_OK
    }
    const backend = parseBackend('serve', values.backend ?? process.env.SLUICE_BACKEND)
    const log: Log =
      backend.kind === 'kafka'
        ? await openKafkaLog({
            brokers: backend.brokers,
            ...(backend.tls ? { tls: backend.tls } : {}),
            ...(backend.sasl ? { sasl: backend.sasl } : {}),
          })
        : await openEmbeddedLog({ dataDir: dataDirOf(values) })
    try {
      const { server, banner } = await startHttp({ ...http, explicitPort: true }, { log, topics: [] })
      printErr(banner)
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          printErr(`\nsluice: ${signal}: stopping`)
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          resolve()
        }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
      await server?.close()
      return EXIT_OK
    } finally {
      await log.close()
    }
  },
}
