/**
 * `sluice demo ecommerce`: the e-commerce example (examples/ecommerce/) — generated shop
 * traffic, four results (trending, bought together, abandoned carts, price and stock alerts),
 * scored against the cases the generator injected and against plain-loop references.
 */
import { type Delivery, ShopGenerator } from '../../../examples/ecommerce/generator.ts'
import type {
  AbandonedCart,
  Recommendations,
  ShopAlert,
  TrendingWindow,
} from '../../../examples/ecommerce/model.ts'
import { ecommercePipeline, type ShopTopics, shopTopics } from '../../../examples/ecommerce/pipeline.ts'
import { BoughtTogetherReference, TrendingReference } from '../../../examples/ecommerce/reference.ts'
import { formatScore, type ShopScore, score } from '../../../examples/ecommerce/score.ts'
import type { ProducerRecord } from '../../log/types.ts'
import { formatCount, printErr } from '../output.ts'
import { type Collected, collect, lagOf, pace, paceOf, progressLine, settle, watermarkOf } from './feed.ts'
import type { DemoSpec } from './spec.ts'

const brief = (s: ShopScore) =>
  `precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} (${s.found}/${s.cases} cases)`

/** A generated record as the log takes it: keyed, and stamped with its event time. */
function record(topics: ShopTopics, d: Delivery): { topic: string; record: ProducerRecord } {
  const key = Buffer.from(d.key)
  switch (d.topic) {
    case 'clicks':
      return {
        topic: topics.clicks.name,
        record: { key, value: topics.clicks.codec.encode(d.value), timestamp: Date.parse(d.value.at) },
      }
    case 'changes':
      return {
        topic: topics.changes.name,
        record: { key, value: topics.changes.codec.encode(d.value), timestamp: Date.parse(d.value.at) },
      }
    case 'products':
      return {
        topic: topics.products.name,
        record: {
          key,
          value: topics.products.codec.encode(d.value),
          timestamp: Date.parse(d.value.updatedAt),
        },
      }
  }
}

export const ecommerceDemo: DemoSpec<ShopTopics> = {
  name: 'ecommerce',
  pipelineName: 'ecommerce',
  unit: 'events',
  defaultRate: 2_000,
  help: (common) => `Usage: sluice demo ecommerce [options]

Runs the e-commerce example (examples/ecommerce/) end to end: starts its pipeline as
"sluice run" would, serves the dashboard, feeds it a generated shop's traffic at --rate events
per second, and at the end (or on Ctrl-C) scores its four results:
  trending          top 5 products by interest per 10-minute window, every 2 minutes
  bought together   per product, the products most often in the same orders (live)
  abandoned carts   a cart add with no purchase within 20 minutes (a pattern)
  alerts            price changes of 10% or more and stock down to the reorder point,
                    joined with the catalogue table for name, category and reorder point

The traffic depends on --seed only: 200 products with skewed popularity, shoppers' sessions
(views, cart adds, purchases), price and stock changes, and injected cases: flash sales that
make a product trend, pairs of products bought together, abandoned carts, notable price
changes and stock running low. Event time is simulated: a session about every 5 seconds.
The score compares the alerts and abandoned carts with the injected cases (precision and
recall), and the trending windows and recommendation lists with plain loops over the same
clicks (they must be equal).

Options:
${common}

Example:
  sluice demo ecommerce                               # open http://127.0.0.1:8080/, Ctrl-C to score
  sluice demo ecommerce --events 20000 --port 0
  sluice demo ecommerce --rate 500 --duration 2m --seed 7
  sluice demo ecommerce --backend kafka://127.0.0.1:9092
`,
  topics: shopTopics,
  pipelines: (name, topics) => [ecommercePipeline(name, topics)],

  guide: (url, topics) =>
    `sluice: open ${url}/ — Results: topic ${topics.trending.name} (the top 5 per window), store ` +
    `bought-together (a product's recommendations; also ${url}/stores/bought-together/<product id>), ` +
    `store products (the live catalogue), topics ${topics.abandonedCarts.name} and ${topics.alerts.name}; ` +
    `Pipeline: product-interest → trending, bought-together, abandoned-cart → one-alert-per-cart, ` +
    `changes-with-product; Topics: a live tail of ${topics.clicks.name}`,

  async feed(run) {
    const { log, runner, topics, signal } = run
    const generator = new ShopGenerator({ seed: run.seed })
    const references = { trending: new TrendingReference(), together: new BoughtTogetherReference() }
    const outputs: {
      trending: Collected<TrendingWindow>
      recommendations: Collected<Recommendations>
      abandonedCarts: Collected<AbandonedCart>
      alerts: Collected<ShopAlert>
    } = {
      trending: collect(log, topics.trending),
      recommendations: collect(log, topics.recommendations),
      abandonedCarts: collect(log, topics.abandonedCarts),
      alerts: collect(log, topics.alerts),
    }
    const values = () => ({
      trending: outputs.trending.values,
      recommendations: outputs.recommendations.values,
      abandonedCarts: outputs.abandonedCarts.values,
      alerts: outputs.alerts.values,
    })
    const counts = () =>
      `trending windows ${formatCount(outputs.trending.values.length)}, ` +
      `recommendation updates ${formatCount(outputs.recommendations.values.length)}, ` +
      `abandoned carts ${formatCount(outputs.abandonedCarts.values.length)}, alerts ${formatCount(outputs.alerts.values.length)}`
    const progress = (sent: number, perSecond: number) => {
      const status = runner.status()
      const live = score(values(), generator, references, watermarkOf(status), false)
      printErr(`${progressLine('events', sent, perSecond, status, counts())}; live score: ${brief(live)}`)
    }
    try {
      const sent = await pace({
        ...paceOf(run),
        next() {
          const d = generator.next()
          if (d.topic === 'clicks') {
            references.trending.add(d.value)
            references.together.add(d.value)
          }
          return record(topics, d)
        },
        progress,
      })
      // Nothing more will be sent: every window of the reference is final.
      references.trending.finish()
      printErr(`sluice: sent ${formatCount(sent)} events; waiting for the pipeline to process them…`)
      await settle(runner, signal, ...Object.values(outputs))
      progress(sent, Number.NaN)
      const status = runner.status()
      const final = score(values(), generator, references, watermarkOf(status), lagOf(status) === 0)
      const lines = [
        `ecommerce demo: ${formatCount(sent)} events (${formatCount(generator.sessions)} sessions, ` +
          `${formatCount(generator.orders)} orders); injected ${generator.trends.length} trends, ` +
          `${generator.affinities.length} bought-together pairs, ${formatCount(generator.abandonedCarts.length)} abandoned carts, ` +
          `${generator.priceChanges.filter((c) => c.notable).length} notable price changes, ` +
          `${generator.lowStock.length} low-stock crossings (recent ones not decided yet: left out, with their outputs)`,
        `outputs: ${counts()}`,
        ...formatScore(final),
      ]
      return { lines, outputs: outputs.alerts.values.length + outputs.abandonedCarts.values.length }
    } finally {
      await Promise.all(Object.values(outputs).map((o) => o.close()))
    }
  },
}
