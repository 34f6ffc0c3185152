/**
 * Talking to the server: the bearer token (kept in sessionStorage, so it lasts as long as the
 * tab), JSON calls that turn failures into ApiError, and EventSource URLs (which cannot carry
 * headers, so the token goes in `?token=`).
 */

const TOKEN_KEY = 'sluice-token'

export class ApiError extends Error {
  /** 0 when the server did not answer at all. */
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

const unauthorizedListeners = new Set<() => void>()

/** Called when a call is refused for want of a valid token (the server may have restarted with others). */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener)
  return () => unauthorizedListeners.delete(listener)
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  const token = storedToken()
  if (token !== null) headers.set('authorization', `Bearer ${token}`)
  let res: Response
  try {
    res = await fetch(path, { ...init, headers })
  } catch {
    throw new ApiError(0, 'SLUICE_UNREACHABLE', 'the server does not answer')
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; code?: string }
    if (res.status === 401) for (const listener of unauthorizedListeners) listener()
    throw new ApiError(
      res.status,
      body.code ?? 'SLUICE_HTTP',
      body.error ?? `${res.status} ${res.statusText}`,
    )
  }
  return (await res.json()) as T
}

/** The URL of a topic's live stream (Server-Sent Events). */
export function streamUrl(topic: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params)
  const token = storedToken()
  if (token !== null) query.set('token', token)
  return `/topics/${encodeURIComponent(topic)}/stream?${query}`
}

export interface Session {
  auth: boolean
  token: 'none' | 'valid' | 'invalid'
}

/** Whether this server wants a token and whether ours is good: answered without a 401. */
export function session(): Promise<Session> {
  return api<Session>('/api/session')
}
