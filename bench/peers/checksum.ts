/**
 * The row checksum every engine computes over its results (the Java side:
 * bench/peers/common/src/main/java/sluice/peers/Row.java and Rows.java): each row's whole-number
 * fields mixed into a 32-bit hash (h · 31 + v, wrapping), strings by their length, q1's euro
 * price as floor(price × 100); the checksum is the wrapping sum of the rows' hashes, so it does
 * not depend on the order rows come out in. `v | 0` keeps the low 32 bits of a whole number
 * as Java's `(int)` of a long does, so both sides agree bit for bit.
 */
import type { Bid } from '../nexmark/model.ts'
import type { Q1Row } from '../nexmark/queries/q1.ts'
import type { Q2Row } from '../nexmark/queries/q2.ts'
import type { Q5Row } from '../nexmark/queries/q5.ts'
import type { Q7Row } from '../nexmark/queries/q7.ts'
import type { Q8Row } from '../nexmark/queries/q8.ts'

const SEED = 17

function mix(h: number, v: number): number {
  return (Math.imul(h, 31) + (v | 0)) | 0
}

const HASHES = {
  q0: (b: Bid) => {
    let h = mix(SEED, b.auction)
    h = mix(h, b.bidder)
    h = mix(h, b.price)
    h = mix(h, b.dateTime)
    h = mix(h, b.channel.length)
    h = mix(h, b.url.length)
    return mix(h, b.extra.length)
  },
  q1: (r: Q1Row) => {
    let h = mix(SEED, r.auction)
    h = mix(h, r.bidder)
    h = mix(h, Math.floor(r.price * 100))
    h = mix(h, r.dateTime)
    return mix(h, r.extra.length)
  },
  q2: (r: Q2Row) => mix(mix(SEED, r.auction), r.price),
  q5: (r: Q5Row) => mix(mix(mix(mix(SEED, r.auction), r.num), r.starttime), r.endtime),
  q7: (r: Q7Row) => {
    let h = mix(SEED, r.auction)
    h = mix(h, r.bidder)
    h = mix(h, r.price)
    h = mix(h, r.dateTime)
    return mix(h, r.extra.length)
  },
  q8: (r: Q8Row) => mix(mix(mix(SEED, r.id), r.name.length), r.starttime),
} as const

/** The queries every peer harness runs (and the checksum knows). */
export const PEER_QUERIES = Object.keys(HASHES) as (keyof typeof HASHES)[]
export type PeerQuery = keyof typeof HASHES

export function isPeerQuery(id: string): id is PeerQuery {
  return Object.hasOwn(HASHES, id)
}

/** A row's hash for query `query`; rows are the query's result objects (as JSON-parsed from a topic). */
export function rowHash(query: PeerQuery, row: unknown): number {
  return (HASHES[query] as (r: unknown) => number)(row)
}

export interface Tally {
  outputs: number
  checksum: number
}

/** Count and checksum of a list of rows. */
export function tally(query: PeerQuery, rows: Iterable<unknown>): Tally {
  let outputs = 0
  let checksum = 0
  for (const row of rows) {
    outputs++
    checksum = (checksum + rowHash(query, row)) | 0
  }
  return { outputs, checksum }
}
