/**
 * Query 13, bounded side input join: every bid with the value the side input holds for its
 * auction id mod 10,000. The side input is a fixed file, `bench/nexmark/side-input.csv`
 * (`key,value`, keys 0–9,999; value `item-` and (key · 7919 mod 10,000) in base 36).
 *
 * The DSL has no bounded source or broadcast side input: the file is read when the pipeline
 * is built, into a map every task holds, and `map` looks the key up — the SQL's lookup join
 * `FOR SYSTEM_TIME AS OF` processing time, on a table that never changes.
 */
import { readFileSync } from 'node:fs'
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q13Row {
  auction: number
  bidder: number
  price: number
  dateTime: number
  value: string
}

export const SIDE_INPUT_FILE = new URL('../side-input.csv', import.meta.url)
export const Q13_KEYS = 10_000

function readSideInput(file: URL): Map<number, string> {
  const side = new Map<number, string>()
  const lines = readFileSync(file, 'utf8').split('\n')
  for (const line of lines.slice(1)) {
    if (line === '') continue
    const comma = line.indexOf(',')
    const key = Number(line.slice(0, comma))
    if (comma < 0 || !Number.isInteger(key)) {
      throw new Error(
        `q13: ${file.pathname}: "${line}" is not "key,value" with a whole-number key; fix the file`,
      )
    }
    side.set(key, line.slice(comma + 1))
  }
  return side
}

export function q13(ctx: QueryContext): Query<Q13Row> {
  const side = readSideInput(SIDE_INPUT_FILE)
  const out = topic<Q13Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    // An inner join: a bid whose key the file lacks has no row.
    .flatMap(({ bid: b }) => {
      const value = side.get(b.auction % Q13_KEYS)
      return value === undefined
        ? []
        : [{ auction: b.auction, bidder: b.bidder, price: b.price, dateTime: b.dateTime, value }]
    })
    .to(out)
  return { pipeline: p, output: out }
}
