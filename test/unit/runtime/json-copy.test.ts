/**
 * jsonCopy is JSON.parse(JSON.stringify(v)) without the text: the same value, the same key
 * order, the same errors — checked against the round trip itself on the awkward cases and on
 * random data.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { jsonCopy } from '../../../src/runtime/json-copy.ts'

const roundTrip = (v: unknown) => {
  const text = JSON.stringify(v)
  return text === undefined ? undefined : JSON.parse(text)
}

/** Same value and, for objects, the same key order all the way down. */
function assertSame(v: unknown, what: string): void {
  const want = roundTrip(v)
  const got = jsonCopy(v)
  assert.deepStrictEqual(got, want, what)
  assert.equal(JSON.stringify(got), JSON.stringify(want), `${what}: key order`)
}

class Point {
  x = 1
  y = 2
  get sum() {
    return this.x + this.y
  }
}

test('the awkward cases come out as the JSON round trip makes them', () => {
  const sparse: number[] = [1]
  sparse[2] = 3 // index 1 is a hole
  const cases: Array<[string, unknown]> = [
    ['string', 'héllo \ud800 lone surrogate'],
    ['numbers', [0, -0, 1.5, 1e21, -1e-7, Number.MAX_SAFE_INTEGER, 0.1 + 0.2]],
    ['non-finite numbers', { a: Number.NaN, b: Number.POSITIVE_INFINITY, c: [Number.NEGATIVE_INFINITY] }],
    ['booleans and null', [true, false, null]],
    [
      'undefined, functions, symbols',
      { a: undefined, b: () => 1, c: Symbol('s'), d: [undefined, () => 1, Symbol('t')] },
    ],
    ['a Date', { at: new Date(1_700_000_000_123) }],
    [
      'nested toJSON with its key',
      { a: { toJSON: (k: string) => `key=${k}` }, list: [{ toJSON: (k: string) => k }] },
    ],
    ['toJSON returning undefined', { a: { toJSON: () => undefined }, b: [{ toJSON: () => undefined }] }],
    ['wrapper objects', [Object(3), Object('s'), Object(false), { n: Object(Number.NaN) }]],
    ['class instances (own enumerable fields only)', new Point()],
    ['Map, Set, RegExp, Error', { m: new Map([[1, 2]]), s: new Set([1]), r: /x/g, e: new Error('e') }],
    ['typed arrays', { bytes: new Uint8Array([1, 2, 3]) }],
    ['sparse arrays', sparse],
    ['integer-like keys first', { b: 1, 2: 'two', a: 3, 1: 'one' }],
    ['null prototype', Object.assign(Object.create(null), { a: 1 })],
    ['an own __proto__ key', JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')],
    ['empty', [{}, []]],
    ['deep but not too deep', JSON.parse(`${'['.repeat(500)}1${']'.repeat(500)}`)],
  ]
  for (const [what, v] of cases) assertSame(v, what)
  assert.equal(jsonCopy(undefined), undefined)
  assert.equal(
    jsonCopy(() => 1),
    undefined,
  )
  assert.equal(({} as { polluted?: boolean }).polluted, undefined, 'no prototype was polluted')
})

test('what JSON.stringify refuses is refused with its error', () => {
  assert.throws(
    () => jsonCopy({ n: 10n }),
    (e: unknown) => e instanceof TypeError && /BigInt/.test(e.message),
  )
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  assert.throws(
    () => jsonCopy(cyclic),
    (e: unknown) => e instanceof TypeError && /circular/i.test(e.message),
  )
  // Very deep acyclic data still comes out (through the round trip).
  const text = `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`
  const deep = JSON.parse(text)
  const copied = jsonCopy(deep)
  assert.notEqual(copied, deep)
  assert.equal(JSON.stringify(copied), text)
})

test('a copy: changing it or the original afterwards does not change the other', () => {
  const original = { bid: { price: 5, tags: ['a'] } }
  const copied = jsonCopy(original) as typeof original
  copied.bid.price = 6
  copied.bid.tags.push('b')
  original.bid.tags.push('c')
  assert.deepEqual(original, { bid: { price: 5, tags: ['a', 'c'] } })
  assert.deepEqual(copied, { bid: { price: 6, tags: ['a', 'b'] } })
})

test('random data of every JSON shape', () => {
  let seed = 42
  const rand = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  const leaf = (): unknown => {
    const pick = Math.floor(rand() * 9)
    if (pick === 0) return null
    if (pick === 1) return rand() < 0.5
    if (pick === 2) return Math.floor(rand() * 1e6) - 5e5
    if (pick === 3) return rand() * 1e10
    if (pick === 4)
      return String.fromCharCode(
        ...Array.from({ length: Math.floor(rand() * 8) }, () => 32 + Math.floor(rand() * 0x2ff)),
      )
    if (pick === 5) return undefined
    if (pick === 6) return new Date(Math.floor(rand() * 2e12))
    if (pick === 7) return Number.NaN
    return -0
  }
  const value = (depth: number): unknown => {
    if (depth > 4 || rand() < 0.3) return leaf()
    if (rand() < 0.5) return Array.from({ length: Math.floor(rand() * 5) }, () => value(depth + 1))
    const o: Record<string, unknown> = {}
    for (let i = Math.floor(rand() * 5); i > 0; i--)
      o[rand() < 0.2 ? String(Math.floor(rand() * 10)) : `k${Math.floor(rand() * 20)}`] = value(depth + 1)
    return o
  }
  for (let i = 0; i < 2_000; i++) assertSame(value(0), `random value ${i}`)
})
