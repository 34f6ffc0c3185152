/**
 * The Nexmark queries Sluice runs, each with its reference implementation and how the two
 * are compared. Used by the benchmark (main.ts) and the correctness tests
 * (test/unit/nexmark/queries.test.ts).
 */
import type { SinkConnector, TopicDef } from '../../src/index.ts'
import type { GeneratorConfig } from './generator.ts'
import type { Event } from './model.ts'
import type { Query, QueryContext } from './queries/common.ts'
import { q0 } from './queries/q0.ts'
import { q1 } from './queries/q1.ts'
import { q2 } from './queries/q2.ts'
import { q3 } from './queries/q3.ts'
import { q4 } from './queries/q4.ts'
import { q5 } from './queries/q5.ts'
import { q6 } from './queries/q6.ts'
import { q7 } from './queries/q7.ts'
import { q8 } from './queries/q8.ts'
import { q9 } from './queries/q9.ts'
import { q10, q10Files } from './queries/q10.ts'
import { q11 } from './queries/q11.ts'
import { q12 } from './queries/q12.ts'
import { q13 } from './queries/q13.ts'
import { q14 } from './queries/q14.ts'
import { q15 } from './queries/q15.ts'
import { q16 } from './queries/q16.ts'
import { q17 } from './queries/q17.ts'
import { q18 } from './queries/q18.ts'
import { q19 } from './queries/q19.ts'
import { q20 } from './queries/q20.ts'
import { q21 } from './queries/q21.ts'
import { q22 } from './queries/q22.ts'
import { q0 as r0 } from './reference/q0.ts'
import { q1 as r1 } from './reference/q1.ts'
import { q2 as r2 } from './reference/q2.ts'
import { q3 as r3 } from './reference/q3.ts'
import { q4 as r4 } from './reference/q4.ts'
import { q5 as r5 } from './reference/q5.ts'
import { q6 as r6 } from './reference/q6.ts'
import { q7 as r7 } from './reference/q7.ts'
import { q8 as r8 } from './reference/q8.ts'
import { q9 as r9 } from './reference/q9.ts'
import { q10 as r10 } from './reference/q10.ts'
import { q11 as r11 } from './reference/q11.ts'
import { q12 as r12 } from './reference/q12.ts'
import { q13 as r13 } from './reference/q13.ts'
import { q14 as r14 } from './reference/q14.ts'
import { q15 as r15 } from './reference/q15.ts'
import { q16 as r16 } from './reference/q16.ts'
import { q17 as r17 } from './reference/q17.ts'
import { q18 as r18 } from './reference/q18.ts'
import { q19 as r19 } from './reference/q19.ts'
import { q20 as r20 } from './reference/q20.ts'
import { q21 as r21 } from './reference/q21.ts'
import { q22 as r22 } from './reference/q22.ts'

/**
 * How a query's output is compared with its reference:
 * - `rows`: every row, as a multiset (the order of rows is not part of the query);
 * - `latest`: queries that update a result per key as input arrives (a running aggregate):
 *   the last row emitted for each key — the result table once all input is in.
 */
export type Comparison<Row> = { kind: 'rows' } | { kind: 'latest'; key: (row: Row) => string | number }

export interface QuerySpec<Row = unknown> {
  readonly id: string
  readonly title: string
  build(ctx: QueryContext): Query<Row>
  reference(events: readonly Event[], config: GeneratorConfig): Row[]
  readonly compare: Comparison<Row>
  /**
   * A query whose result is files (q10): the connector that writes its output topic into
   * `dir`. The benchmark runs it beside the pipeline, and the run ends once it has written
   * every output row. `reference` gives the rows of the output topic.
   */
  readonly files?: (ctx: QueryContext, output: TopicDef<Row>, dir: string) => SinkConnector<Row>
}

function spec<Row>(s: QuerySpec<Row>): QuerySpec<unknown> {
  return s as unknown as QuerySpec<unknown>
}

const rows = { kind: 'rows' } as const

export const QUERIES: readonly QuerySpec[] = [
  spec({ id: 'q0', title: 'pass-through', build: q0, reference: r0, compare: rows }),
  spec({ id: 'q1', title: 'currency conversion', build: q1, reference: r1, compare: rows }),
  spec({ id: 'q2', title: 'selection', build: q2, reference: r2, compare: rows }),
  spec({ id: 'q3', title: 'local item suggestion', build: q3, reference: r3, compare: rows }),
  spec({
    id: 'q4',
    title: 'average price per category',
    build: q4,
    reference: r4,
    compare: { kind: 'latest', key: (r) => r.category },
  }),
  spec({ id: 'q5', title: 'hot items', build: q5, reference: r5, compare: rows }),
  spec({
    id: 'q6',
    title: 'average selling price by seller',
    build: q6,
    reference: r6,
    compare: { kind: 'latest', key: (r) => r.seller },
  }),
  spec({ id: 'q7', title: 'highest bid', build: q7, reference: r7, compare: rows }),
  spec({ id: 'q8', title: 'monitor new users', build: q8, reference: r8, compare: rows }),
  spec({ id: 'q9', title: 'winning bids', build: q9, reference: r9, compare: rows }),
  spec({
    id: 'q10',
    title: 'log to file system',
    build: q10,
    reference: r10,
    compare: rows,
    files: q10Files,
  }),
  spec({ id: 'q11', title: 'user sessions', build: q11, reference: r11, compare: rows }),
  spec({ id: 'q12', title: 'processing-time windows', build: q12, reference: r12, compare: rows }),
  spec({ id: 'q13', title: 'bounded side input join', build: q13, reference: r13, compare: rows }),
  spec({ id: 'q14', title: 'calculation', build: q14, reference: r14, compare: rows }),
  spec({
    id: 'q15',
    title: 'bidding statistics report',
    build: q15,
    reference: r15,
    compare: { kind: 'latest', key: (r) => r.day },
  }),
  spec({
    id: 'q16',
    title: 'channel statistics report',
    build: q16,
    reference: r16,
    compare: { kind: 'latest', key: (r) => `${r.channel} ${r.day}` },
  }),
  spec({
    id: 'q17',
    title: 'auction statistics report',
    build: q17,
    reference: r17,
    compare: { kind: 'latest', key: (r) => `${r.auction} ${r.day}` },
  }),
  spec({
    id: 'q18',
    title: 'find last bid',
    build: q18,
    reference: r18,
    compare: { kind: 'latest', key: (r) => `${r.bidder} ${r.auction}` },
  }),
  spec({
    id: 'q19',
    title: 'auction top-10 price',
    build: q19,
    reference: r19,
    compare: { kind: 'latest', key: (r) => r.auction },
  }),
  spec({ id: 'q20', title: 'expand bid with auction', build: q20, reference: r20, compare: rows }),
  spec({ id: 'q21', title: 'add channel id', build: q21, reference: r21, compare: rows }),
  spec({ id: 'q22', title: 'get URL directories', build: q22, reference: r22, compare: rows }),
]

export function querySpec(id: string): QuerySpec | undefined {
  return QUERIES.find((q) => q.id === id)
}

/**
 * Rows in a canonical form for comparison: JSON-normalized (as they come back from a topic),
 * reduced to the latest row per key where the comparison says so, and sorted by their JSON.
 */
export function canonical<Row>(rows: readonly Row[], compare: Comparison<Row>): string[] {
  let list: readonly Row[] = rows
  if (compare.kind === 'latest') {
    const latest = new Map<string | number, Row>()
    for (const r of rows) latest.set(compare.key(r), r)
    list = [...latest.values()]
  }
  return list.map((r) => JSON.stringify(sortedKeys(r))).sort()
}

/** The same value with object keys in sorted order, so that field order never matters. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(value).sort()) out[k] = sortedKeys((value as Record<string, unknown>)[k])
  return out
}
