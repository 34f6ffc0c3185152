/**
 * Which topics a message may go to, and the `'devices/{device}/set'` templates that make them.
 * A template is checked once, when the sink is declared, so that a typo fails the pipeline at
 * start; a topic made from a record is checked per record, and a bad one is dead-lettered.
 */
import { SluiceError } from '../../errors.ts'
import { count, quote } from './format.ts'

const MAX_TOPIC_BYTES = 65_535

/**
 * Why `topic` cannot be published to, or undefined. MQTT 5 §4.7: a topic name is 1 to 65,535
 * bytes of UTF-8 without U+0000, and wildcards are for subscribing only.
 */
export function topicError(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return `the topic function returned ${typeof topic}, not a string`
  if (topic === '') return 'it is empty'
  if (topic.includes('+') || topic.includes('#')) {
    return 'it contains a wildcard (+ or #); wildcards are for subscribing, a message goes to one topic'
  }
  if (topic.includes('\u0000')) return 'it contains the character U+0000'
  if (!topic.isWellFormed()) return 'it is not well-formed Unicode (a lone surrogate): MQTT topics are UTF-8'
  const bytes = Buffer.byteLength(topic)
  if (bytes > MAX_TOPIC_BYTES) {
    return `it is ${count(bytes)} bytes in UTF-8; MQTT allows ${count(MAX_TOPIC_BYTES)}`
  }
  return undefined
}

/** Compiles `'devices/{device}/set'` into a function of the value; refuses a template that can never give a valid topic. */
export function compileTemplate<T>(template: string): (value: T) => string {
  const fail = (why: string): never => {
    throw new SluiceError('SLUICE_INVALID_ARGUMENT', `mqttSink: topic template ${quote(template)} ${why}`)
  }
  const parts: (string | string[])[] = []
  const literal = (s: string) => {
    if (/[{}]/.test(s)) fail('has a { or } that is not part of a {field} placeholder')
    if (/[+#]/.test(s)) fail('contains a wildcard (+ or #); a message goes to one topic')
    if (s !== '') parts.push(s)
  }
  let at = 0
  for (const m of template.matchAll(/\{([^{}]*)\}/g)) {
    literal(template.slice(at, m.index))
    const path = m[1]!.trim()
    if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(path)) {
      fail(`has the placeholder {${m[1]}}: name a field of the value, e.g. {device} or {room.id}`)
    }
    parts.push(path.split('.'))
    at = m.index + m[0].length
  }
  literal(template.slice(at))
  if (parts.every((p) => typeof p === 'string')) {
    const invalid = topicError(template)
    if (invalid !== undefined) fail(`is not a valid MQTT topic: ${invalid}`)
    return () => template
  }
  return (value: T) => parts.map((p) => (typeof p === 'string' ? p : field(value, p))).join('')
}

function field(value: unknown, path: readonly string[]): string {
  let v = value
  for (const name of path)
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[name] : undefined
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') {
    return String(v)
  }
  const what = v === null ? 'null' : v === undefined ? 'missing' : `a ${typeof v}`
  throw new Error(
    `{${path.join('.')}} is ${what} in this record's value (a placeholder takes a string or a number)`,
  )
}
