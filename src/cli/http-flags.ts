/**
 * The HTTP server flags `sluice run` and `sluice serve` share, and starting the server from
 * them: the default port is 8080; auth is off only on a loopback address without tokens, and
 * the banner says which.
 */
import type { ConnectorStatus } from '../connectors/status.ts'
import type { TopicDef } from '../dsl/topic.ts'
import type { Log } from '../log/types.ts'
import type { PipelineMetrics } from '../runtime/metrics/snapshot.ts'
import { isLoopback, loadTokens } from '../server/auth.ts'
import { type Queryable, type RunningServer, startServer } from '../server/server.ts'
import type { Topology } from '../topology/compile.ts'
import { parseIntFlag, UsageError } from './args.ts'

export const HTTP_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'no-http': { type: 'boolean' },
  tokens: { type: 'string' },
  cors: { type: 'string' },
  'max-body': { type: 'string' },
} as const

export const HTTP_HELP = `  --port <n>                the HTTP port (default 8080; 0: any free one): the dashboard
                            at /, ingest POST /topics/<t>/events, live GET
                            /topics/<t>/stream (SSE) and /topics/<t>/ws (WebSocket),
                            queryable state GET /stores/…
  --host <addr>             the address to serve on (default 127.0.0.1)
  --no-http                 serve nothing over HTTP
  --tokens <file>           bearer tokens with per-topic scopes, a JSON array such as
                            [{"token":"…","write":["orders"],"read":["*"],"stores":true}]
                            (default: $SLUICE_TOKENS); required off loopback
  --cors <origins>          comma-separated origins browsers may call from, or *
  --max-body <bytes>        largest ingest request (default 16777216)`

export interface HttpValues {
  port?: string | undefined
  host?: string | undefined
  'no-http'?: boolean | undefined
  tokens?: string | undefined
  cors?: string | undefined
  'max-body'?: string | undefined
}

export interface HttpPlan {
  command: string
  port: number
  /** The user chose the port: a clash is an error, not a warning. */
  explicitPort: boolean
  host: string
  tokens: ReturnType<typeof loadTokens>
  cors: string[]
  maxBodyBytes: number
}

/** Validates the flags (a usage error names the flag); undefined with --no-http. */
export function planHttp(command: string, values: HttpValues): HttpPlan | undefined {
  if (values['no-http']) {
    for (const flag of ['port', 'host', 'tokens', 'cors', 'max-body'] as const) {
      if (values[flag] !== undefined)
        throw new UsageError(command, `--${flag} and --no-http do not go together`)
    }
    return undefined
  }
  const port = values.port === undefined ? 8080 : parseIntFlag(command, 'port', values.port, 0)
  if (port > 65_535) throw new UsageError(command, `--port takes 0 to 65535, got ${port}`)
  const host = values.host ?? '127.0.0.1'
  let tokens: ReturnType<typeof loadTokens>
  try {
    tokens = loadTokens(values.tokens, process.env.SLUICE_TOKENS)
  } catch (error) {
    throw new UsageError(command, `--tokens: ${(error as Error).message}`)
  }
  if (tokens.length === 0 && !isLoopback(host)) {
    throw new UsageError(
      command,
      `--host ${host} would let anyone who reaches it write and read topics: configure tokens ` +
        '(--tokens FILE or $SLUICE_TOKENS), or serve on 127.0.0.1',
    )
  }
  const maxBodyBytes =
    values['max-body'] === undefined
      ? 16 * 1024 * 1024
      : parseIntFlag(command, 'max-body', values['max-body'], 1)
  const cors =
    values.cors === undefined
      ? []
      : values.cors
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o !== '')
  return { command, port, explicitPort: values.port !== undefined, host, tokens, cors, maxBodyBytes }
}

/**
 * Starts the server; returns it and the banner line. On the default port, a port in use is a
 * warning (another worker on this machine may hold it) and the run goes on without HTTP.
 */
export async function startHttp(
  plan: HttpPlan,
  parts: {
    log: Log
    runner?: Queryable & { metrics?(): PipelineMetrics[] }
    connectors?: () => ConnectorStatus[]
    topics: Iterable<TopicDef<unknown>>
    topologies?: readonly Topology[]
    instanceId?: string
  },
): Promise<{ server: RunningServer | null; banner: string }> {
  try {
    const server = await startServer({
      host: plan.host,
      port: plan.port,
      log: parts.log,
      topics: parts.topics,
      tokens: plan.tokens,
      cors: plan.cors,
      maxBodyBytes: plan.maxBodyBytes,
      ...(parts.runner ? { runner: parts.runner } : {}),
      ...(parts.connectors ? { connectors: parts.connectors } : {}),
      ...(parts.topologies ? { topologies: parts.topologies } : {}),
      ...(parts.instanceId ? { ingest: { instanceId: parts.instanceId } } : {}),
    })
    const auth =
      plan.tokens.length > 0
        ? `bearer tokens required (${plan.tokens.length} configured)`
        : 'no auth: bound to loopback without tokens'
    return {
      server,
      banner: `sluice: serving ${server.url} (dashboard at /; POST /topics/<t>/events, GET /topics/<t>/stream, GET /stores); ${auth}`,
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && !plan.explicitPort) {
      return {
        server: null,
        banner: `sluice: warning: port ${plan.port} is in use (another sluice?): not serving HTTP; pick one with --port N`,
      }
    }
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UsageError(
        'run',
        `--port ${plan.port} is in use on ${plan.host}: pick another port (0: any free one)`,
      )
    }
    throw error
  }
}
