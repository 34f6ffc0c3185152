import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ByteWriter, b, binaryCodec, isSluiceError } from 'sluice'
import { xorshift } from '../../../bench/common.ts'

const Order = b.struct({
  id: b.number(),
  qty: b.int32(),
  paid: b.boolean(),
  customer: b.string(),
  note: b.optional(b.string()),
  coupon: b.nullable(b.string()),
  lines: b.array(b.struct({ sku: b.string(), price: b.number() })),
  raw: b.bytes(),
  meta: b.json<Record<string, unknown>>(),
})
type Order = b.Infer<typeof Order>

const Event = b.tagged('type', {
  placed: b.struct({ order: Order }),
  cancelled: b.struct({ id: b.number(), reason: b.nullable(b.string()) }),
  ping: b.struct({}),
})
type Event = b.Infer<typeof Event>

const orders = binaryCodec(Order)
const events = binaryCodec(Event)

const order: Order = {
  id: 2 ** 53 - 1,
  qty: -7,
  paid: true,
  customer: 'Zoë Ångström 日本 🐟',
  coupon: null,
  lines: [
    { sku: 'a', price: 0.1 + 0.2 },
    { sku: '', price: -0 },
  ],
  raw: new Uint8Array([0, 255, 128]),
  meta: { nested: [1, 'two', null] },
}

const sluiceCode = (code: string, message: RegExp) => (e: unknown) =>
  isSluiceError(e, code as 'SLUICE_INVALID_INPUT') && message.test((e as Error).message)

describe('binaryCodec', () => {
  test('round-trips every kind of field, optional fields left out stay out', () => {
    const back = orders.decode(orders.encode(order))
    assert.deepStrictEqual(back, order)
    assert.ok(!('note' in back), 'a missing optional field is not decoded as undefined')
    assert.ok(Object.is(back.lines[1]!.price, -0))
    const noted = { ...order, note: 'leave at the door' }
    assert.deepStrictEqual(orders.decode(orders.encode(noted)), noted)
  })

  test('tagged unions round-trip each case, the tag first', () => {
    const all: Event[] = [
      { type: 'placed', order },
      { type: 'cancelled', id: 4, reason: null },
      { type: 'cancelled', id: 5, reason: 'out of stock' },
      { type: 'ping' },
    ]
    for (const e of all) assert.deepStrictEqual(events.decode(events.encode(e)), e)
    assert.deepEqual(Object.keys(events.decode(events.encode(all[1]!))), ['type', 'id', 'reason'])
  })

  test('oneOf writes the first key a value has, and refuses a value with none', () => {
    const U = binaryCodec(b.oneOf({ n: b.number(), s: b.string() }))
    assert.deepStrictEqual(U.decode(U.encode({ n: 1 })), { n: 1 })
    assert.deepStrictEqual(U.decode(U.encode({ s: 'x' })), { s: 'x' })
    assert.throws(
      () => U.encode({} as never),
      sluiceCode('SLUICE_INVALID_INPUT', /value: .*an object with one of the keys n, s/),
    )
  })

  test('random values round-trip exactly, through encode and through encodeInto one after another', () => {
    const next = xorshift(11)
    // A float in [0, 1).
    const rand = () => next(2 ** 30) / 2 ** 30
    const text = (n: number) => {
      let s = ''
      for (let i = 0; i < n; i++) {
        const r = rand()
        // ASCII mostly, some Latin-1, BMP and astral chars, and lengths across the varint steps.
        s +=
          r < 0.8 ? String.fromCharCode(32 + Math.floor(rand() * 95)) : r < 0.9 ? 'é' : r < 0.97 ? '語' : '🐟'
      }
      return s
    }
    const lengths = [0, 1, 8, 9, 42, 43, 127, 128, 5461, 5462, 20_000]
    const values: Order[] = []
    for (let i = 0; i < 300; i++) {
      values.push({
        id: (rand() - 0.5) * 1e12,
        qty: Math.floor((rand() - 0.5) * 2 ** 32),
        paid: rand() < 0.5,
        customer: text(lengths[i % lengths.length]!),
        ...(rand() < 0.5 ? { note: text(Math.floor(rand() * 20)) } : {}),
        coupon: rand() < 0.5 ? null : text(3),
        lines: Array.from({ length: Math.floor(rand() * 4) }, () => ({ sku: text(5), price: rand() * 100 })),
        raw: new Uint8Array(Math.floor(rand() * 5)).map(() => Math.floor(rand() * 256)),
        meta: { i, s: text(4) },
      })
    }
    const w = new ByteWriter(16)
    const ends: number[] = []
    for (const v of values) {
      assert.deepStrictEqual(orders.decode(orders.encode(v)), v)
      orders.encodeInto!(v, w)
      ends.push(w.pos)
    }
    // One buffer holding them all (grown many times from 16 bytes), each decoded where it lies.
    const all = w.written()
    values.forEach((v, i) => {
      assert.deepStrictEqual(orders.decodeAt!(all, i === 0 ? 0 : ends[i - 1]!, ends[i]!), v)
    })
  })

  test('a value that does not fit the schema is refused with its path', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...order, id: '1' }, /value\.id: it is the string "1", and the schema says a number/],
      [{ ...order, qty: 1.5 }, /value\.qty: .*an integer/],
      [{ ...order, qty: 2 ** 31 }, /value\.qty/],
      [{ ...order, customer: undefined }, /value\.customer: it is missing/],
      [{ ...order, coupon: undefined }, /value\.coupon: it is missing/],
      [
        {
          ...order,
          lines: [
            { sku: 'a', price: 1 },
            { sku: 2, price: 1 },
          ],
        },
        /value\.lines\[1\]\.sku/,
      ],
      [{ ...order, meta: undefined }, /value\.meta: .*a JSON value/],
      [{ ...order, raw: [1, 2] }, /value\.raw: it is an array, and the schema says a Uint8Array/],
      [null, /value: it is null, and the schema says an object/],
    ]
    for (const [v, message] of cases) {
      assert.throws(() => orders.encode(v as Order), sluiceCode('SLUICE_INVALID_INPUT', message))
    }
    assert.throws(
      () => events.encode({ type: 'shipped' } as never),
      sluiceCode('SLUICE_INVALID_INPUT', /value\.type: .*one of placed, cancelled, ping/),
    )
  })

  test('a failed encodeInto leaves what it wrote for the caller to drop', () => {
    const w = new ByteWriter()
    orders.encodeInto!(order, w)
    const good = w.pos
    assert.throws(() => orders.encodeInto!({ ...order, lines: 'x' } as never, w))
    // The sink rewinds to where the value started; the first value is intact.
    w.pos = good
    assert.deepStrictEqual(orders.decode(w.written()), order)
  })

  test('damaged or foreign bytes are refused, never decoded into a wrong value', () => {
    const bytes = orders.encode(order)
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(
        () => orders.decode(bytes.subarray(0, cut)),
        sluiceCode('SLUICE_INVALID_INPUT', /ends early|left over|flag byte|array of/),
        `cut at ${cut}`,
      )
    }
    assert.throws(
      () => orders.decode(Buffer.concat([bytes, Buffer.from([0])])),
      sluiceCode('SLUICE_INVALID_INPUT', /1 bytes left over/),
    )
    assert.throws(
      () => events.decode(Buffer.from([9])),
      sluiceCode('SLUICE_INVALID_INPUT', /case 9 of a union with 3/),
    )
    assert.throws(
      () => binaryCodec(b.nullable(b.number())).decode(Buffer.from([2])),
      sluiceCode('SLUICE_INVALID_INPUT', /a flag byte of 2/),
    )
    assert.throws(
      () => binaryCodec(b.string()).decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])),
      sluiceCode('SLUICE_INVALID_INPUT', /more than 32 bits/),
    )
    // A JSON field whose text is not JSON: refused as damaged, not with a SyntaxError.
    const J = binaryCodec(b.struct({ meta: b.json() }))
    assert.throws(
      () => J.decode(Buffer.from([3, 0x7b, 0x78, 0x7d])),
      sluiceCode('SLUICE_INVALID_INPUT', /a JSON field that does not parse/),
    )
    // JSON text is not this codec's: refused with what to do.
    assert.throws(
      () => orders.decode(Buffer.from(JSON.stringify(order))),
      sluiceCode('SLUICE_INVALID_INPUT', /read the topic with the codec it was written with/),
    )
  })

  test('lengths are LEB128: minimal ones and padded ones read the same', () => {
    const s = binaryCodec(b.string())
    assert.deepEqual([...s.encode('hi')], [2, 104, 105])
    // 43 chars may take 129 bytes: 2 bytes are reserved for the length, padded when shorter.
    const long = 'x'.repeat(43)
    assert.deepEqual([...s.encode(long).subarray(0, 2)], [43 | 0x80, 0])
    assert.equal(s.decode(Buffer.from([43, ...Buffer.from(long)])), long)
    assert.equal(s.decode(s.encode(long)), long)
  })

  test('strings of every short length read back exact, ASCII or not at any place', () => {
    const S = binaryCodec(b.struct({ s: b.string(), n: b.number() }))
    for (let n = 1; n <= 24; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7) % 90))).join('')
      assert.equal(S.decode(S.encode({ s: ascii, n })).s, ascii)
      for (let at = 0; at < n; at++) {
        for (const c of ['é', '\u0080', '€', '🐟']) {
          const s = ascii.slice(0, at) + c + ascii.slice(at + 1)
          assert.deepStrictEqual(S.decode(S.encode({ s, n })), { s, n })
        }
      }
    }
  })

  test('decoded bytes are copies: the value does not keep the buffer it came from', () => {
    const R = binaryCodec(b.struct({ raw: b.bytes() }))
    const buf = R.encode({ raw: new Uint8Array([1, 2, 3]) })
    const v = R.decode(buf)
    buf.fill(0)
    assert.deepEqual([...v.raw], [1, 2, 3])
    assert.notEqual(v.raw.buffer, buf.buffer)
  })

  test('schemas are checked when made', () => {
    assert.throws(() => b.oneOf({}), /1 to 255 cases/)
    assert.throws(() => b.tagged('type', { a: b.struct({ type: b.string() }) }), /field "type" of its own/)
  })
})
