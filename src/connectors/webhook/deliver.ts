/**
 * One webhook POST with retries: network errors, timeouts, 408, 429 and 5xx are retried with
 * exponential backoff (a `Retry-After` replaces the backoff for that wait); any other non-2xx
 * answer is final, since sending the same batch again would get the same refusal.
 */
import { sleep } from '../status.ts'
import { SIGNATURE_HEADER, signWebhook } from './signature.ts'

export interface DeliveryOptions {
  url: string
  headers: Record<string, string>
  secret: string | undefined
  timeoutMs: number
  retries: number
  initialBackoffMs: number
  maxBackoffMs: number
  signal: AbortSignal
}

/** Longest `Retry-After` obeyed: a receiver asking for an hour most likely means "not today". */
const MAX_RETRY_AFTER_MS = 10 * 60 * 1000

/**
 * Posts `body`; resolves with undefined once a 2xx answer came, or with the reason delivery was
 * given up. Rejects only when `signal` aborts: the batch then counts as not delivered.
 */
export async function deliver(
  options: DeliveryOptions,
  body: string,
  idempotencyKey: string,
): Promise<string | undefined> {
  const { signal } = options
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted()
    const headers: Record<string, string> = {
      ...options.headers,
      'content-type': 'application/json',
      'idempotency-key': idempotencyKey,
    }
    // Signed per attempt: the signed time must be fresh for the receiver's tolerance window.
    if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signWebhook(options.secret, body)
    let failure: { error: string; retry: boolean; retryAfterMs?: number | undefined }
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        body,
        headers,
        redirect: 'manual',
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      })
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel()
        return undefined
      }
      const text = (await response.text().catch(() => '')).trim().slice(0, 300)
      const s = response.status
      failure = {
        error:
          s >= 300 && s < 400
            ? `HTTP ${s} redirect to ${response.headers.get('location') ?? '(no location)'}; set url to the address it redirects to`
            : `HTTP ${s}${response.statusText ? ` ${response.statusText}` : ''}${text ? `: ${text}` : ''}`,
        retry: s >= 500 || s === 408 || s === 429,
        retryAfterMs: retryAfter(response.headers.get('retry-after')),
      }
    } catch (error) {
      if (signal.aborted) throw error
      failure = { error: requestError(error, options.timeoutMs), retry: true }
    }
    if (!failure.retry) return `POST ${options.url} refused (not retried): ${failure.error}`
    if (attempt >= options.retries) {
      return `POST ${options.url} failed ${attempt + 1} times; last: ${failure.error}`
    }
    const backoff = Math.min(options.maxBackoffMs, options.initialBackoffMs * 2 ** attempt)
    await sleep(failure.retryAfterMs ?? jitter(backoff), signal)
  }
}

/** `Retry-After` as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number(header)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now()
  if (Number.isNaN(ms)) return undefined
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms))
}

function requestError(error: unknown, timeoutMs: number): string {
  const e = error as Error & { cause?: { message?: string; code?: string } }
  if (e.name === 'TimeoutError') return `no response within ${timeoutMs} ms (timeoutMs)`
  const cause = e.cause?.code ?? e.cause?.message
  return cause ? `${e.message} (${cause})` : e.message
}

/** ±20%, so workers retrying the same receiver do not move in step. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4))
}
