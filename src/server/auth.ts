/**
 * Bearer-token auth for the HTTP server. A token grants topic patterns to read (subscriptions)
 * and write (ingest), and optionally reading queryable state:
 *
 *   [{ "token": "s3cret", "write": ["orders", "clicks.*"], "read": ["*"], "stores": true }]
 *
 * from `--tokens <file>` or `$SLUICE_TOKENS` (the same JSON). Patterns: an exact topic name, a
 * prefix ending in `*`, or `*` for all. With no tokens configured auth is off — allowed only on
 * a loopback address (the CLI refuses anything else and says how to add tokens).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'

export interface TokenGrant {
  token: string
  /** Topic patterns this token may subscribe to. */
  read?: string[]
  /** Topic patterns this token may ingest into. */
  write?: string[]
  /** May read queryable state (`/stores`). */
  stores?: boolean
  /** A name for logs and errors (never the token itself). */
  name?: string
}

/** `metrics`: any valid token may read figures (they hold names and counts, no record data). */
export type Access = { kind: 'read' | 'write'; topic: string } | { kind: 'stores' } | { kind: 'metrics' }

/** The outcome of checking a request: allowed, or an HTTP status with a message. */
export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; error: string; code: string }

export class Auth {
  readonly #grants: { digest: Buffer; grant: TokenGrant }[]

  constructor(grants: readonly TokenGrant[]) {
    this.#grants = grants.map((grant, i) => {
      if (typeof grant.token !== 'string' || grant.token.length < 8) {
        throw new TypeError(
          `token ${i + 1}${grant.name ? ` (${grant.name})` : ''} must be a string of at least 8 characters`,
        )
      }
      return { digest: digest(grant.token), grant }
    })
  }

  get enabled(): boolean {
    return this.#grants.length > 0
  }

  /** Checks an `Authorization: Bearer <token>` header (or a `token` query parameter, for EventSource/WebSocket in browsers, which cannot set headers). */
  check(authorization: string | undefined, queryToken: string | undefined, access: Access): AuthResult {
    if (!this.enabled) return { ok: true }
    const presented = bearer(authorization) ?? queryToken
    if (presented === undefined) {
      return {
        ok: false,
        status: 401,
        error:
          'this server needs a token: send "Authorization: Bearer <token>" (or ?token= for EventSource/WebSocket)',
        code: 'SLUICE_UNAUTHENTICATED',
      }
    }
    const d = digest(presented)
    // Compare digests in constant time so the response time says nothing about the token.
    const found = this.#grants.find((g) => timingSafeEqual(g.digest, d))
    if (!found) return { ok: false, status: 401, error: 'unknown token', code: 'SLUICE_UNAUTHENTICATED' }
    const { grant } = found
    const allowed =
      access.kind === 'metrics'
        ? true
        : access.kind === 'stores'
          ? grant.stores === true
          : (grant[access.kind] ?? []).some((pattern) => matches(pattern, access.topic))
    if (allowed) return { ok: true }
    const what =
      access.kind === 'read' || access.kind === 'write'
        ? `${access.kind} topic "${access.topic}"`
        : 'read queryable state'
    return {
      ok: false,
      status: 403,
      error: `token${grant.name ? ` "${grant.name}"` : ''} may not ${what}; add it to the token's ${access.kind} list`,
      code: 'SLUICE_FORBIDDEN',
    }
  }
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return m?.[1]
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}

function matches(pattern: string, topic: string): boolean {
  if (pattern === '*') return true
  if (pattern.endsWith('*')) return topic.startsWith(pattern.slice(0, -1))
  return pattern === topic
}

/** Reads grants from a JSON file or string; throws with the place of the problem. */
export function parseTokens(json: string, source: string): TokenGrant[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (e) {
    throw new TypeError(`${source} is not valid JSON: ${(e as Error).message}`)
  }
  if (!Array.isArray(parsed)) {
    throw new TypeError(`${source} must be a JSON array of { "token", "read", "write", "stores" } objects`)
  }
  return parsed.map((entry, i) => {
    const e = entry as Record<string, unknown>
    const where = `${source}[${i}]`
    if (typeof e !== 'object' || e === null || typeof e.token !== 'string') {
      throw new TypeError(`${where} needs a "token" string`)
    }
    for (const field of ['read', 'write'] as const) {
      const v = e[field]
      if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw new TypeError(
          `${where}.${field} must be an array of topic patterns such as ["orders", "clicks.*", "*"]`,
        )
      }
    }
    if (e.stores !== undefined && typeof e.stores !== 'boolean')
      throw new TypeError(`${where}.stores must be true or false`)
    return e as unknown as TokenGrant
  })
}

export function loadTokens(file: string | undefined, env: string | undefined): TokenGrant[] {
  if (file !== undefined) return parseTokens(readFileSync(file, 'utf8'), file)
  if (env !== undefined && env.trim() !== '') return parseTokens(env, '$SLUICE_TOKENS')
  return []
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || /^127\./.test(host)
}
