/**
 * Where `sluice run` keeps its log: `--backend` or `SLUICE_BACKEND`.
 *
 *   embedded                     the embedded log in --data-dir (the default)
 *   kafka://host:port[,host:port]
 *   kafkas://host:port           the same over TLS (system CAs; SLUICE_KAFKA_CA=file for others)
 *   kafka://user:pass@host:port?sasl=scram-sha-512   SASL (plain, scram-sha-256, scram-sha-512);
 *                                credentials may come from SLUICE_KAFKA_USERNAME/PASSWORD instead
 *
 * Redpanda and other brokers that speak the Kafka protocol use the same URLs.
 */
import { readFileSync } from 'node:fs'
import { UsageError } from './args.ts'

export type Backend =
  | { kind: 'embedded' }
  | {
      kind: 'kafka'
      brokers: string[]
      tls?: { ca?: string }
      sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
    }

const MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const

/** Parses a backend URL; `env` supplies SLUICE_KAFKA_* settings. Errors name the fix. */
export function parseBackend(
  command: string,
  value: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Backend {
  if (value === undefined || value === '' || value === 'embedded') return { kind: 'embedded' }
  const bad = (why: string) =>
    new UsageError(
      command,
      `--backend ${JSON.stringify(value)}: ${why}. Use "embedded" or a URL such as kafka://127.0.0.1:9092`,
    )
  const match = /^(kafkas?):\/\/(?:([^@/]*)@)?([^/?#]+)\/?(?:\?(.*))?$/.exec(value)
  if (!match) throw bad('not a backend URL')
  const [, scheme, userinfo, hosts, query] = match
  const brokers = hosts!.split(',').map((h) => h.trim())
  for (const b of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(b)) {
      throw bad(`broker "${b}" is not host:port`)
    }
  }
  const params = new URLSearchParams(query ?? '')
  for (const key of params.keys()) {
    if (key !== 'sasl' && key !== 'tls') throw bad(`unknown option "${key}" (known: sasl, tls)`)
  }
  const backend: Extract<Backend, { kind: 'kafka' }> = { kind: 'kafka', brokers }
  const tls = scheme === 'kafkas' || params.get('tls') === 'true' || params.get('tls') === '1'
  if (tls) {
    const caFile = env.SLUICE_KAFKA_CA
    backend.tls = caFile ? { ca: readFileSync(caFile, 'utf8') } : {}
  }
  const sasl = params.get('sasl')?.toLowerCase()
  if (sasl !== undefined || userinfo !== undefined) {
    const mechanism = MECHANISMS[(sasl ?? 'plain') as keyof typeof MECHANISMS]
    if (!mechanism)
      throw bad(`unknown SASL mechanism "${sasl}" (known: ${Object.keys(MECHANISMS).join(', ')})`)
    const [user, pass] = (userinfo ?? '').split(':').map((s) => decodeURIComponent(s))
    const username = user || env.SLUICE_KAFKA_USERNAME
    const password = pass ?? env.SLUICE_KAFKA_PASSWORD
    if (!username || password === undefined) {
      throw bad(
        'SASL needs a username and password: kafka://user:pass@host:port or SLUICE_KAFKA_USERNAME/PASSWORD',
      )
    }
    backend.sasl = { mechanism, username, password }
  }
  return backend
}
