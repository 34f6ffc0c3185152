/**
 * Schemas for binary codecs: what a value looks like, declared once, from which `binaryCodec`
 * compiles an encoder and a decoder and TypeScript infers the value's type.
 *
 *   const Bid = b.struct({ auction: b.number(), price: b.number(), url: b.string() })
 *   type Bid = b.Infer<typeof Bid>          // { auction: number; price: number; url: string }
 *   topic<Bid>('bids', { codec: binaryCodec(Bid) })
 *
 * The bytes hold values only, in the declared order: no field names, no types. So a reader
 * must use the schema the writer used; changing a schema means a new topic (or a version
 * field of your own in a `tagged` union). docs/concepts/codecs.md has the format.
 */

/** A schema node as the compiler sees it. */
export type Node =
  | { readonly kind: 'number' | 'int32' | 'boolean' | 'string' | 'bytes' | 'json' }
  | { readonly kind: 'nullable' | 'optional' | 'array'; readonly of: Node }
  | { readonly kind: 'struct'; readonly fields: ReadonlyArray<readonly [string, Node]> }
  | { readonly kind: 'oneOf'; readonly cases: ReadonlyArray<readonly [string, Node]> }
  | {
      readonly kind: 'tagged'
      readonly tag: string
      readonly cases: ReadonlyArray<readonly [string, StructNode]>
    }

export type StructNode = Extract<Node, { kind: 'struct' }>

declare const VALUE: unique symbol

/** A schema whose values are `T`. `T` is only a type: nothing of it exists at run time. */
export interface Schema<T> {
  readonly node: Node
  readonly [VALUE]?: T
}

/** A struct field that may be missing (or `undefined`). */
export interface OptionalSchema<T> extends Schema<T> {
  readonly optional: true
}

/** A struct's schema: `tagged` takes these. */
export interface StructSchema<T> extends Schema<T> {
  readonly node: StructNode
}

/** The type of a schema's values. */
export type Infer<S> = S extends Schema<infer T> ? T : never

type Fields = Record<string, Schema<unknown>>
type Flat<T> = { [K in keyof T]: T[K] } & {}
type StructOf<F extends Fields> = Flat<
  { -readonly [K in keyof F as F[K] extends OptionalSchema<unknown> ? never : K]: Infer<F[K]> } & {
    -readonly [K in keyof F as F[K] extends OptionalSchema<unknown> ? K : never]?: Infer<F[K]>
  }
>
type OneOf<C extends Fields> = { [K in keyof C]: { [P in K]: Infer<C[K]> } }[keyof C]
type Tagged<Tag extends string, C extends Record<string, StructSchema<unknown>>> = {
  [K in keyof C]: Flat<{ [P in Tag]: K } & Infer<C[K]>>
}[keyof C]

const leaf = <T>(kind: 'number' | 'int32' | 'boolean' | 'string' | 'bytes' | 'json'): Schema<T> => ({
  node: { kind },
})

/** A JavaScript number, as 8 bytes (IEEE 754 double): any number round-trips exactly. */
export const number = (): Schema<number> => leaf('number')
/** An integer from -2^31 to 2^31-1, as 4 bytes; anything else is refused when encoded. */
export const int32 = (): Schema<number> => leaf('int32')
export const boolean = (): Schema<boolean> => leaf('boolean')
/** Text, as its UTF-8 bytes after their length. */
export const string = (): Schema<string> => leaf('string')
/** Raw bytes (a Uint8Array; decoded as a copy, never a view of the record). */
export const bytes = (): Schema<Uint8Array> => leaf('bytes')
/** Any JSON value, as its JSON text: for the parts of a value that have no fixed shape. */
export const json = <T = unknown>(): Schema<T> => leaf('json')

/** `T` or `null`. */
export function nullable<T>(of: Schema<T>): Schema<T | null> {
  return { node: { kind: 'nullable', of: of.node } }
}

/** A struct field that may be left out; decoded values leave the key out too. */
export function optional<T>(of: Schema<T>): OptionalSchema<T> {
  return { node: { kind: 'optional', of: of.node }, optional: true }
}

export function array<T>(of: Schema<T>): Schema<T[]> {
  return { node: { kind: 'array', of: of.node } }
}

/** An object with these fields, written in this order. Other keys of a value are not written. */
export function struct<F extends Fields>(fields: F): StructSchema<StructOf<F>> {
  return { node: { kind: 'struct', fields: Object.entries(fields).map(([k, s]) => [k, s.node] as const) } }
}

/**
 * An object with exactly one of these keys, `{ bid: … }` or `{ person: … }`: the key is
 * written as one byte. The first key (in this order) a value has is the one written.
 */
export function oneOf<C extends Fields>(cases: C): Schema<OneOf<C>> {
  const entries = Object.entries(cases)
  if (entries.length === 0 || entries.length > 255) throw new RangeError('oneOf takes 1 to 255 cases')
  return { node: { kind: 'oneOf', cases: entries.map(([k, s]) => [k, s.node] as const) } }
}

/**
 * A discriminated union: `tag`'s value picks the struct, `{ type: 'deposited', amount: 5 }`.
 * The tag is written as one byte.
 */
export function tagged<Tag extends string, C extends Record<string, StructSchema<unknown>>>(
  tag: Tag,
  cases: C,
): Schema<Tagged<Tag, C>> {
  const entries = Object.entries(cases)
  if (entries.length === 0 || entries.length > 255) throw new RangeError('tagged takes 1 to 255 cases')
  for (const [name, s] of entries) {
    if (s.node.fields.some(([f]) => f === tag))
      throw new RangeError(
        `tagged("${tag}"): case "${name}" has a field "${tag}" of its own; the tag is written for it`,
      )
  }
  return { node: { kind: 'tagged', tag, cases: entries.map(([k, s]) => [k, s.node] as const) } }
}
