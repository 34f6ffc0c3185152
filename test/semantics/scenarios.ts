/**
 * Engine semantics as scenarios that run on every runner and backend: the embedded runner and
 * a consumer-group worker on the embedded log (test/unit/engine/scenarios.test.ts), and a
 * consumer-group worker on Kafka (test/integration/kafka/semantics-kafka.test.ts). The same
 * pipelines, unchanged, must commit the same hand-computed results everywhere.
 *
 * A scenario appends its input phase by phase; a phase is appended once every group of the
 * scenario has committed all of its inputs (sources and repartition topics) to their end.
 * Watermarks move between read batches (as Flink's periodic watermarks do), so what a phase
 * boundary separates is decided by the input, never by timing: a record meant to be late is
 * appended in a phase after the one that moved the watermark past its window.
 *
 * The finer rules of each operator are tested record by record on the TestDriver
 * (test/unit/engine/); these scenarios prove that the runners and backends keep them —
 * state, timers and watermarks through commits, changelogs and repartition topics.
 * New operators (joins, patterns…) add their scenario here and run on Kafka with no more work.
 */
import {
  compile,
  count,
  hopping,
  type Keyed,
  type Pipeline,
  pattern,
  pipeline,
  session,
  sum,
  topic,
  tumbling,
  type Windowed,
} from 'sluice'

export interface Append {
  topic: string
  value: unknown
  key?: string
  partition?: number
}

export interface Phase {
  append: Append[]
  /** Output label → every value committed once this phase has settled (optional). */
  expect?: Record<string, unknown[]>
}

export interface Scenario {
  name: string
  pipelines: Pipeline[]
  /** Source topics, created with their declared partition count (default 1). */
  inputs: Array<{ name: string; partitions: number | undefined }>
  phases: Phase[]
  /** Output label → topic name. */
  outputs: Record<string, string>
  /** Output label → the values expected, in any order (compared sorted). */
  expected: Record<string, unknown[]>
}

const EXACT = { maxOutOfOrder: '5s', idleAfter: '1h' } as const

interface Event {
  k: string
  at: number
}
const ev = (k: string, at: number): Event => ({ k, at })

/** Every scenario, with topic and pipeline names made unique by `run`. */
export function scenarios(run: string): Scenario[] {
  const n = (name: string) => `${name}-${run}`
  const list: Scenario[] = []

  {
    // Input a@1000 a@3000 b@4000 a@12000 a@2000 z@100000, then a@500.
    // - a@2000 is out of order but within the bound (W = 12000 − 5000 = 7000 < 10000): it counts;
    // - z@100000 moves W to 95000: every window before it closes;
    // - a@500, in the next phase, finds its windows closed: late, to the side topic.
    const events = topic<Event>(n('sem-events'), { timestamp: (e) => e.at, key: (e) => e.k })
    const tumblingOut = topic<Windowed<number>>(n('sem-tumbling-out'))
    const lateOut = topic<Event>(n('sem-late-out'))
    const sessionOut = topic<Windowed<number>>(n('sem-session-out'))
    const t = pipeline(n('sem-tumbling'))
    t.from(events, { watermark: EXACT })
      .keyed()
      .window(tumbling({ size: '10s' }), { late: lateOut })
      .aggregate(count(), { name: 'count' })
      .to(tumblingOut)
    const s = pipeline(n('sem-session'))
    s.from(events, { watermark: EXACT })
      .keyed()
      .window(session({ gap: '5s' }))
      .aggregate(count(), { name: 'count' })
      .to(sessionOut)
    const at = (e: Event): Append => ({ topic: events.name, value: e })
    list.push({
      name: 'tumbling windows with out-of-order and late records; session windows merging',
      pipelines: [t, s],
      inputs: [events],
      phases: [
        {
          append: [
            ev('a', 1000),
            ev('a', 3000),
            ev('b', 4000),
            ev('a', 12000),
            ev('a', 2000),
            ev('z', 100000),
          ].map(at),
          expect: { late: [] },
        },
        { append: [at(ev('a', 500))] },
      ],
      outputs: { tumbling: tumblingOut.name, late: lateOut.name, session: sessionOut.name },
      expected: {
        tumbling: [
          { key: 'a', start: 0, end: 10000, value: 3 },
          { key: 'a', start: 10000, end: 20000, value: 1 },
          { key: 'b', start: 0, end: 10000, value: 1 },
        ],
        late: [{ k: 'a', at: 500 }],
        // a@1000, a@2000, a@3000 merge into one session [1000, 3000 + 5000); a@12000 is alone.
        session: [
          { key: 'a', start: 1000, end: 8000, value: 3 },
          { key: 'a', start: 12000, end: 17000, value: 1 },
          { key: 'b', start: 4000, end: 9000, value: 1 },
        ],
      },
    })
  }

  {
    // Hopping 10 s every 5 s: a record at t counts in [t − t mod 5000 − 5000, +10 s) and the next.
    //   a@1000 → [−5000, 5000), [0, 10000)     a@6000 → [0, 10000), [5000, 15000)
    //   a@12000 → [5000, 15000), [10000, 20000) b@7000 → [0, 10000), [5000, 15000)
    // z@100000 (next phase) moves W to 95000 and closes them all; z's own windows stay open.
    const src = topic<Event>(n('sem-hop-in'), { timestamp: (e) => e.at, key: (e) => e.k })
    const out = topic<Windowed<number>>(n('sem-hop-out'))
    const p = pipeline(n('sem-hop'))
    p.from(src, { watermark: EXACT })
      .keyed()
      .window(hopping({ size: '10s', advance: '5s' }))
      .aggregate(count(), { name: 'count' })
      .to(out)
    const at = (e: Event): Append => ({ topic: src.name, value: e })
    list.push({
      name: 'hopping windows: each record in size/advance windows',
      pipelines: [p],
      inputs: [src],
      phases: [
        // W = 7000: only [−5000, 5000) has ended.
        {
          append: [ev('a', 1000), ev('a', 6000), ev('a', 12000), ev('b', 7000)].map(at),
          expect: { out: [{ key: 'a', start: -5000, end: 5000, value: 1 }] },
        },
        { append: [at(ev('z', 100000))] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { key: 'a', start: -5000, end: 5000, value: 1 },
          { key: 'a', start: 0, end: 10000, value: 2 },
          { key: 'a', start: 5000, end: 15000, value: 2 },
          { key: 'a', start: 10000, end: 20000, value: 1 },
          { key: 'b', start: 0, end: 10000, value: 1 },
          { key: 'b', start: 5000, end: 15000, value: 1 },
        ],
      },
    })
  }

  {
    // keyBy across three source partitions: one user's clicks from every partition meet in
    // one task, and that task's watermark is the minimum over the three upstream tasks — so
    // the windows close only once every partition has moved past them (phase 2).
    interface Click {
      user: string
      at: number
    }
    const src = topic<Click>(n('sem-rekey-in'), { timestamp: (c) => c.at, partitions: 3 })
    const out = topic<Windowed<number>>(n('sem-rekey-out'))
    const p = pipeline(n('sem-rekey'))
    p.from(src, { watermark: EXACT })
      .keyBy((c) => c.user)
      .window(tumbling({ size: '10s' }))
      .aggregate(count(), { name: 'count' })
      .to(out)
    const on = (partition: number, user: string, at: number): Append => ({
      topic: src.name,
      value: { user, at },
      partition,
    })
    list.push({
      name: 'keyBy: a repartition topic between stages, watermarks as the minimum over upstream tasks',
      pipelines: [p],
      inputs: [src],
      phases: [
        {
          append: [
            on(0, 'u1', 1000),
            on(0, 'u2', 2000),
            on(1, 'u1', 3000),
            on(1, 'u1', 11000),
            on(2, 'u2', 4000),
          ],
          expect: { out: [] },
        },
        // Two partitions past the windows: partition 2 still holds W at 4000 − 5000.
        { append: [on(0, 'x', 100000), on(1, 'x', 100000)], expect: { out: [] } },
        { append: [on(2, 'x', 100000)] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { key: 'u1', start: 0, end: 10000, value: 2 },
          { key: 'u1', start: 10000, end: 20000, value: 1 },
          { key: 'u2', start: 0, end: 10000, value: 2 },
        ],
      },
    })
  }

  {
    // process(): an event-time timer per key at its record's time + 1 s, registered once per
    // key and time, firing when the watermark reaches it — kept in state across commits.
    interface Ping {
      device: string
      at: number
    }
    interface Fired {
      device: string
      time: number
    }
    const src = topic<Ping>(n('sem-timer-in'), { timestamp: (x) => x.at, key: (x) => x.device })
    const out = topic<Fired>(n('sem-timer-out'))
    const p = pipeline(n('sem-timer'))
    p.from(src, { watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
      .process<Fired>({
        name: 'expire-after-1s',
        process(ping, ctx) {
          ctx.timers.eventTime(ping.at + 1000)
        },
        onTimer(timer, ctx) {
          ctx.emit({ device: ctx.key, time: timer.time })
        },
      })
      .to(out)
    const at = (device: string, t: number): Append => ({ topic: src.name, value: { device, at: t } })
    list.push({
      name: 'process(): event-time timers survive commits and fire on the watermark',
      pipelines: [p],
      inputs: [src],
      // W = 500 after phase 1: nothing fires. Phase 2 (W = 1600) fires a@1100 and b@1500;
      // c's timer (2600) stays pending.
      phases: [
        { append: [at('a', 100), at('a', 100), at('b', 500)], expect: { out: [] } },
        { append: [at('c', 1600)] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { device: 'a', time: 1100 },
          { device: 'b', time: 1500 },
        ],
      },
    })
  }

  {
    // A running aggregate per key (no window): every update is emitted.
    interface Spend {
      card: string
      amount: number
    }
    const src = topic<Spend>(n('sem-running-in'), { key: (s) => s.card })
    const out = topic<Keyed<number>>(n('sem-running-out'))
    const p = pipeline(n('sem-running'))
    p.from(src)
      .keyed()
      .aggregate(
        sum((s: Spend) => s.amount),
        { name: 'total' },
      )
      .to(out)
    const spend = (card: string, amount: number): Append => ({ topic: src.name, value: { card, amount } })
    list.push({
      name: 'a running aggregate per key, its state carried across phases',
      pipelines: [p],
      inputs: [src],
      phases: [
        {
          append: [spend('a', 1), spend('b', 10), spend('a', 2)],
          expect: {
            out: [
              { key: 'a', value: 1 },
              { key: 'a', value: 3 },
              { key: 'b', value: 10 },
            ],
          },
        },
        { append: [spend('a', 4), spend('b', 5)] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { key: 'a', value: 1 },
          { key: 'a', value: 3 },
          { key: 'a', value: 7 },
          { key: 'b', value: 10 },
          { key: 'b', value: 15 },
        ],
      },
    })
  }

  {
    // merge two topics, split into branches; a step that throws sends its record to the
    // dead-letter topic (retries 0) and processing goes on.
    const left = topic<number>(n('sem-merge-left'))
    const right = topic<number>(n('sem-merge-right'))
    const big = topic<number>(n('sem-split-big'))
    const rest = topic<number>(n('sem-split-rest'))
    const p = pipeline(n('sem-branches'), { errors: { retries: 0 } })
    const { big: bigs, default: others } = p
      .from(left)
      .merge(p.from(right))
      .map((x) => {
        if (x === 13) throw new Error('13 is unlucky')
        return x * 10
      })
      .split({ big: (x) => x >= 100 })
    bigs.to(big)
    others.to(rest)
    list.push({
      name: 'merge, split and a dead-letter topic',
      pipelines: [p],
      inputs: [left, right],
      phases: [
        {
          append: [
            ...[1, 13, 20].map((value) => ({ topic: left.name, value })),
            ...[5, 30].map((value) => ({ topic: right.name, value })),
          ],
        },
      ],
      outputs: { big: big.name, rest: rest.name, deadLetters: compile(p).deadLetterTopic },
      expected: { big: [200, 300], rest: [10, 50], deadLetters: [13] },
    })
  }

  {
    // A stream–table join across a repartition: orders (3 partitions) are re-keyed by customer
    // and joined with the customers table (2 partitions): the repartition topic is created with
    // the table's 2, so the join is co-partitioned. Every order joins the customer's tier as of
    // the order's event time, waiting while the table has not reached it (idleAfter 1 h here,
    // so only the table's event time releases records: the result is independent of timing).
    interface Customer {
      id: string
      tier: string
      at: number
    }
    interface Order {
      id: string
      customer: string
      at: number
    }
    const customers = topic<Customer>(n('sem-customers'), {
      key: (c) => c.id,
      timestamp: (c) => c.at,
      partitions: 2,
    })
    const orders = topic<Order>(n('sem-orders'), { key: (o) => o.id, timestamp: (o) => o.at, partitions: 3 })
    const out = topic<{ order: string; tier: string }>(n('sem-enriched'))
    const p = pipeline(n('sem-enrich'))
    const table = p.table(customers, { name: 'customers', watermark: { maxOutOfOrder: 0, idleAfter: '1h' } })
    p.from(orders, { watermark: EXACT })
      .keyBy((o) => o.customer, { name: 'by-customer' })
      .join(table, (o, c) => ({ order: o.id, tier: c.tier }))
      .to(out)
    const customer = (id: string, tier: string, at: number): Append => ({
      topic: customers.name,
      key: id,
      value: { id, tier, at },
    })
    const order = (id: string, c: string, at: number): Append => ({
      topic: orders.name,
      key: id,
      value: { id, customer: c, at },
    })
    list.push({
      name: 'stream–table join: the table version at each record’s event time, across a repartition',
      pipelines: [p],
      inputs: [customers, orders],
      phases: [
        // The table is at 100, the orders at 300 and 400: they wait.
        {
          append: [
            customer('c1', 'silver', 100),
            customer('c2', 'gold', 100),
            order('o1', 'c1', 300),
            order('o2', 'c2', 400),
          ],
          expect: { out: [] },
        },
        // The table moves to 1500: o1 and o2 join the tiers valid at 300 and 400. o3 (2000) waits.
        {
          append: [
            order('o3', 'c1', 2000),
            customer('c1', 'platinum', 1500),
            customer('c2', 'platinum', 1500),
          ],
          expect: {
            out: [
              { order: 'o1', tier: 'silver' },
              { order: 'o2', tier: 'gold' },
            ],
          },
        },
        // The table moves to 2500: o3 joins c1 as of 2000 — platinum, not diamond.
        { append: [customer('c1', 'diamond', 2500), customer('c2', 'diamond', 2500)] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { order: 'o1', tier: 'silver' },
          { order: 'o2', tier: 'gold' },
          { order: 'o3', tier: 'platinum' },
        ],
      },
    })
  }

  {
    // A stream–stream left join within 1 s, over two partitions on each side: pairs as soon as
    // both sides are there; a click without a view only once the watermark — the minimum over
    // all four input partitions — has passed its window (phase 2 moves every partition).
    interface Click {
      user: string
      id: string
      at: number
    }
    interface View {
      user: string
      page: string
      at: number
    }
    const clicks = topic<Click>(n('sem-join-clicks'), {
      key: (c) => c.user,
      timestamp: (c) => c.at,
      partitions: 2,
    })
    const views = topic<View>(n('sem-join-views'), {
      key: (v) => v.user,
      timestamp: (v) => v.at,
      partitions: 2,
    })
    const out = topic<string>(n('sem-join-out'))
    const p = pipeline(n('sem-join'))
    p.from(clicks, { watermark: EXACT })
      .leftJoin(p.from(views, { watermark: EXACT }), (c, v) => `${c.id}+${v?.page ?? '-'}`, {
        name: 'click-view',
        within: '1s',
      })
      .to(out)
    const click = (user: string, id: string, at: number, partition?: number): Append => ({
      topic: clicks.name,
      key: user,
      value: { user, id, at },
      ...(partition === undefined ? {} : { partition }),
    })
    const view = (user: string, page: string, at: number, partition?: number): Append => ({
      topic: views.name,
      key: user,
      value: { user, page, at },
      ...(partition === undefined ? {} : { partition }),
    })
    list.push({
      name: 'stream–stream left join: pairs at once, unpaired records once their window closes',
      pipelines: [p],
      inputs: [clicks, views],
      phases: [
        {
          append: [
            click('u1', 'c1', 1000),
            view('u1', 'v1', 1500),
            click('u2', 'c2', 3000),
            view('u2', 'v2', 9000),
          ],
          expect: { out: ['c1+v1'] },
        },
        // Every partition of both topics moves to 100 s: W = 95 s closes c2's window.
        {
          append: [0, 1].flatMap((partition) => [
            click(`z${partition}`, `zc${partition}`, 100_000, partition),
            view(`z${partition}`, `zv${partition}`, 100_000, partition),
          ]),
        },
      ],
      outputs: { out: out.name },
      expected: { out: ['c1+v1', 'c2+-', 'zc0+zv0', 'zc1+zv1'] },
    })
  }

  {
    // Deduplication by id within 10 s of event time, its memory carried across commits.
    interface Pay {
      id: string
      card: string
      at: number
    }
    const src = topic<Pay>(n('sem-dedupe-in'), { key: (x) => x.card, timestamp: (x) => x.at })
    const out = topic<Pay>(n('sem-dedupe-out'))
    const p = pipeline(n('sem-dedupe'))
    p.from(src, { watermark: EXACT })
      .dedupe({ name: 'once', id: (x) => x.id, within: '10s' })
      .to(out)
    const pay = (id: string, at: number): Append => ({ topic: src.name, value: { id, card: 'c', at } })
    list.push({
      name: 'dedupe: a retried id within the horizon passes once, across commits',
      pipelines: [p],
      inputs: [src],
      phases: [
        {
          append: [pay('p1', 1000), pay('p1', 1000), pay('p2', 2000)],
          expect: {
            out: [
              { id: 'p1', card: 'c', at: 1000 },
              { id: 'p2', card: 'c', at: 2000 },
            ],
          },
        },
        // p1 again 8 s later: a duplicate. p1 22 s later: a new payment reusing the id.
        { append: [pay('p1', 9000), pay('p1', 23000)] },
      ],
      outputs: { out: out.name },
      expected: {
        out: [
          { id: 'p1', card: 'c', at: 1000 },
          { id: 'p2', card: 'c', at: 2000 },
          { id: 'p1', card: 'c', at: 23000 },
        ],
      },
    })
  }

  {
    // A pattern per key, in event-time order: three declines then an approval within 10 s.
    // The second card's events arrive out of order; in event time they match too.
    interface Txn {
      card: string
      status: string
      at: number
    }
    const src = topic<Txn>(n('sem-cep-in'), { key: (t) => t.card, timestamp: (t) => t.at })
    const out = topic<string>(n('sem-cep-out'))
    const p = pipeline(n('sem-cep'))
    p.from(src, { watermark: EXACT })
      .match(
        pattern<Txn>()
          .begin('declined', (t) => t.status === 'declined')
          .times(3)
          .followedBy('approved', (t) => t.status === 'approved')
          .within('10s'),
        { name: 'declined-approved' },
      )
      .map((m) => `${m.key}:${m.events.declined.map((t) => t.at).join(',')}>${m.events.approved[0]!.at}`)
      .to(out)
    const txn = (card: string, status: string, at: number): Append => ({
      topic: src.name,
      value: { card, status, at },
    })
    list.push({
      name: 'patterns: three declines then an approval per card, in event-time order across commits',
      pipelines: [p],
      inputs: [src],
      phases: [
        {
          append: [
            txn('a', 'declined', 1000),
            txn('a', 'declined', 2000),
            txn('b', 'approved', 4000),
            txn('b', 'declined', 2000),
          ],
          expect: { out: [] },
        },
        {
          append: [
            txn('a', 'declined', 3000),
            txn('a', 'approved', 6000),
            txn('b', 'declined', 1000),
            txn('b', 'declined', 3000),
          ],
        },
        // Moves the watermark (W = newest − 5 s) past every event above.
        { append: [txn('z', 'pending', 20_000)] },
      ],
      outputs: { out: out.name },
      // b in event time: declined 1000, 2000, 3000, approved 4000 — though it arrived shuffled.
      expected: { out: ['a:1000,2000,3000>6000', 'b:1000,2000,3000>4000'] },
    })
  }

  {
    // Table–table left join: customers ⟕ accounts by id, its result table written out as its
    // stream of changes. Each phase updates one side, so the order of updates is fixed.
    interface Customer {
      id: string
      name: string
    }
    interface Account {
      id: string
      balance: number
    }
    const customers = topic<Customer>(n('sem-tt-customers'), { key: (c) => c.id, partitions: 2 })
    const accounts = topic<Account>(n('sem-tt-accounts'), { key: (a) => a.id, partitions: 2 })
    const out = topic<string | null>(n('sem-tt-out'))
    const p = pipeline(n('sem-tt'))
    p.table(customers)
      .leftJoin(p.table(accounts), (c, a) => `${c.name}:${a?.balance ?? '-'}`, { name: 'summary' })
      .toStream()
      .to(out)
    const customer = (id: string, name: string): Append => ({
      topic: customers.name,
      key: id,
      value: { id, name },
    })
    const account = (id: string, balance: number | null): Append => ({
      topic: accounts.name,
      key: id,
      value: balance === null ? null : { id, balance },
    })
    list.push({
      name: 'table–table left join: its result table follows updates and deletes of both sides',
      pipelines: [p],
      inputs: [customers, accounts],
      phases: [
        { append: [customer('1', 'ada'), customer('2', 'bob')], expect: { out: ['ada:-', 'bob:-'] } },
        { append: [account('1', 5), account('3', 7)] },
        { append: [account('1', null), customer('2', 'bea')] },
      ],
      outputs: { out: out.name },
      expected: { out: ['ada:-', 'bob:-', 'ada:5', 'ada:-', 'bea:-'] },
    })
  }

  {
    // Foreign-key join: orders (by id, 2 partitions) with customers (by id, 3 partitions) on
    // order.customer. Each phase settles before the next, so the result updates are fixed.
    interface Order {
      id: string
      customer: string
    }
    interface Customer {
      id: string
      tier: string
    }
    const orders = topic<Order>(n('sem-fk-orders'), { key: (o) => o.id, partitions: 2 })
    const customers = topic<Customer>(n('sem-fk-customers'), { key: (c) => c.id, partitions: 3 })
    const out = topic<string | null>(n('sem-fk-out'))
    const p = pipeline(n('sem-fk'))
    p.table(orders)
      .joinOn(
        p.table(customers),
        (o) => o.customer,
        (o, c) => `${o.id}:${c.tier}`,
        { name: 'enriched' },
      )
      .toStream()
      .to(out)
    const order = (id: string, customer: string | null): Append => ({
      topic: orders.name,
      key: id,
      value: customer === null ? null : { id, customer },
    })
    const customer = (id: string, tier: string): Append => ({
      topic: customers.name,
      key: id,
      value: { id, tier },
    })
    list.push({
      name: 'foreign-key join: orders follow their customer, move between customers, and are deleted',
      pipelines: [p],
      inputs: [orders, customers],
      phases: [
        { append: [customer('c1', 'gold'), customer('c2', 'silver')] },
        {
          append: [order('o1', 'c1'), order('o2', 'c2'), order('o3', 'c9')],
          expect: { out: ['o1:gold', 'o2:silver'] },
        },
        { append: [order('o2', 'c1')], expect: { out: ['o1:gold', 'o2:silver', 'o2:gold'] } },
        { append: [customer('c1', 'platinum')] },
        { append: [order('o1', null)] },
      ],
      outputs: { out: out.name },
      expected: { out: ['o1:gold', 'o2:silver', 'o2:gold', 'o1:platinum', 'o2:platinum', null] },
    })
  }

  return list
}
