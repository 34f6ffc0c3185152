/**
 * `jsonCopy(v)` is `JSON.parse(JSON.stringify(v))` without the text in between: a value handed
 * across a keyBy in memory (runtime/exchange.ts) must be what the step after the keyBy would get
 * through a repartition topic, so a pipeline behaves the same on every runner — and that round
 * trip was a third of Nexmark q7's main thread (bids with a 100-character `extra`). Strings are
 * immutable and shared, not copied, so a copy costs about an object per object.
 *
 * It follows JSON.stringify's serialization rules (ECMA-262 SerializeJSONProperty):
 * - `toJSON(key)` is called first (a Date becomes its ISO string), then Number, String and
 *   Boolean wrapper objects become their primitives;
 * - a non-finite number becomes null, -0 becomes 0; a BigInt throws the same TypeError;
 * - undefined, functions and symbols are left out of objects, null in arrays, undefined alone;
 * - arrays copy indexes 0..length−1 (holes become null); any other object becomes a plain
 *   object of its own enumerable string keys, in their order (Map, Set, RegExp: `{}`), with an
 *   own `__proto__` key kept as a key, as JSON.parse makes it.
 * Past a nesting depth of 1,000 (a cycle, or very deep data) it falls back to the round trip
 * itself, which throws JSON.stringify's own error for a cycle.
 */

const MAX_DEPTH = 1_000

class TooDeep extends Error {}

export function jsonCopy(value: unknown): unknown {
  try {
    return copy(value, '', 0)
  } catch (e) {
    if (!(e instanceof TooDeep)) throw e
    const text = JSON.stringify(value)
    return text === undefined ? undefined : JSON.parse(text)
  }
}

/** `key`: the property name `toJSON` is given (an array index as a number, made a string only then). */
function copy(value: unknown, key: string | number, depth: number): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') value = toJSON.call(value, String(key))
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value + 0 : null
    case 'bigint':
      // What JSON.stringify throws: its message names the problem.
      return JSON.stringify(value)
    case 'object':
      break
    default:
      return undefined // undefined, function, symbol
  }
  if (value === null) return null
  if (depth >= MAX_DEPTH) throw new TooDeep()
  if (Array.isArray(value)) {
    const n = value.length
    const out = new Array(n)
    for (let i = 0; i < n; i++) {
      const x = copy(value[i], i, depth + 1)
      out[i] = x === undefined ? null : x
    }
    return out
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    // Wrapper objects serialize as their primitives.
    if (value instanceof Number) return copy(Number(value), key, depth)
    if (value instanceof String) return String(value)
    if (value instanceof Boolean) return value.valueOf()
    if (value instanceof BigInt) return JSON.stringify(value)
  }
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value)) {
    const x = copy((value as Record<string, unknown>)[k], k, depth + 1)
    if (x === undefined) continue
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true })
    else out[k] = x
  }
  return out
}
