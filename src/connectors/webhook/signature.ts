/**
 * The `Sluice-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * Signing the time with the body lets a receiver refuse a captured request replayed later; the
 * `v1=` scheme name leaves room for another algorithm beside it without breaking receivers.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'Sluice-Signature'

/** The header value for `body` sent at `time` (ms since the epoch). */
export function signWebhook(secret: string, body: string, time = Date.now()): string {
  const t = Math.floor(time / 1000)
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
  return `t=${t},v1=${v1}`
}

/**
 * For receivers: true when `header` is a valid signature of `body` (the raw request body, as
 * received) made with `secret` no more than `toleranceSeconds` from now.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | null | undefined,
  body: string,
  toleranceSeconds = 300,
): boolean {
  if (!header) return false
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=')
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const
    }),
  )
  const t = Number(parts.get('t'))
  const given = parts.get('v1')
  if (!Number.isInteger(t) || given === undefined) return false
  if (Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest()
  const actual = Buffer.from(given, 'hex')
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
