/**
 * The pipeline of `npm run bench:threads`, in a module of its own: the threaded runner's
 * workers import it by path. Count of bids per auction in 10 s tumbling windows, grouped with
 * keyBy (so it has two subtopologies joined by a repartition topic, as most keyed pipelines).
 */
import { count, pipeline, topic, tumbling, type Windowed } from '../src/index.ts'

export interface Bid {
  auction: number
  price: number
  at: number
}

export const PARTITIONS = 4
export const bids = topic<Bid>('bids', { partitions: PARTITIONS, timestamp: (b) => b.at })

export const perAuction = pipeline('bids-per-auction')
perAuction
  .from(bids, { watermark: { maxOutOfOrder: '1s', idleAfter: '1h' } })
  .keyBy((b) => b.auction)
  .window(tumbling({ size: 10_000 }))
  .aggregate(count(), { name: 'count' })
  .to(topic<Windowed<number>>('bid-counts'))
