/**
 * Query 10, log to file system: every bid with the UTC date (`dt`, yyyy-MM-dd) and minute of
 * the day (`hm`, HH:mm) of its event time — the SQL's `DATE_FORMAT` in Flink's default UTC
 * session — written to files partitioned by both (`fs_sink PARTITIONED BY (dt, hm)`).
 *
 * Two parts, as a user would split them: the pipeline turns bids into rows on an output topic,
 * and a file connector (`q10Files`) writes that topic into Hive-style directories
 * `dt=2025-01-01/hm=00:01/` of NDJSON files. The pipeline commits exactly once; the files are
 * at-least-once (fsynced before the connector commits its position).
 */
import {
  connect,
  ndjsonFileSink,
  pipeline,
  type SinkConnector,
  type TopicDef,
  topic,
} from '../../../src/index.ts'
import { isBid } from '../model.ts'
import type { Query, QueryContext } from './common.ts'

export interface Q10Row {
  auction: number
  bidder: number
  price: number
  dateTime: number
  extra: string
  dt: string
  hm: string
}

export function q10(ctx: QueryContext): Query<Q10Row> {
  const out = topic<Q10Row>(ctx.output)
  const p = pipeline(ctx.name)
  p.from(ctx.events, { watermark: ctx.watermark })
    .filter(isBid)
    .map(({ bid }) => {
      const iso = new Date(bid.dateTime).toISOString() // 2025-01-01T00:01:02.345Z, always UTC
      return {
        auction: bid.auction,
        bidder: bid.bidder,
        price: bid.price,
        dateTime: bid.dateTime,
        extra: bid.extra,
        dt: iso.slice(0, 10),
        hm: iso.slice(11, 16),
      }
    })
    .to(out)
  return { pipeline: p, output: out }
}

/**
 * The file sink of q10: `output` into `dir/dt=…/hm=…/`. Files roll every minute, as the
 * reference's `sink.rolling-policy.rollover-interval` of 1 min. The connector is named after
 * the pipeline (`<pipeline>-files`): its name keys its consumer group.
 */
export function q10Files(ctx: QueryContext, output: TopicDef<Q10Row>, dir: string): SinkConnector<Q10Row> {
  return connect(`${ctx.name}-files`, {
    from: output,
    to: ndjsonFileSink({ dir, rollMs: 60_000, partitionBy: (r) => `dt=${r.dt}/hm=${r.hm}` }),
  })
}
