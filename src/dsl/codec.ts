/** Turns values into record bytes and back. JSON by default. */
export interface Codec<T> {
  readonly encode: (value: T) => Uint8Array
  readonly decode: (bytes: Uint8Array) => T
}

const utf8Decoder = new TextDecoder()

export const jsonCodec: Codec<unknown> = {
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(utf8Decoder.decode(bytes)),
}

export const stringCodec: Codec<string> = {
  encode: (value) => Buffer.from(value),
  decode: (bytes) => utf8Decoder.decode(bytes),
}
