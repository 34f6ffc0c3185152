/**
 * Query 21, add a channel id: each bid from a known channel with that channel's id — 0–3 for
 * Apple, Google, Facebook and Baidu, else the `channel_id` parameter of its url; bids with
 * neither are dropped.
 */
import { pipeline, topic } from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q21Row {
  auction: number
  bidder: number
  price: number
  channel: string
  channelId: string
}

const HOT_CHANNEL_IDS: Readonly<Record<string, string>> = {
  apple: '0',
  google: '1',
  facebook: '2',
  baidu: '3',
}
const CHANNEL_ID = /(&|^)channel_id=([^&]*)/

export function q21(ctx: QueryContext): Query<Q21Row> {
  const out = topic<Q21Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .flatMap(({ bid }) => {
      const channelId = HOT_CHANNEL_IDS[bid.channel.toLowerCase()] ?? CHANNEL_ID.exec(bid.url)?.[2]
      if (channelId === undefined) return []
      return [{ auction: bid.auction, bidder: bid.bidder, price: bid.price, channel: bid.channel, channelId }]
    })
    .to(out)
  return { pipeline: p, output: out }
}
