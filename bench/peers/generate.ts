/**
 * Writes the Nexmark events of Sluice's generator to an NDJSON file: one event per line, the
 * same JSON the Sluice benchmark appends to its events topic (`JSON.stringify` of each
 * generated `{ person }`, `{ auction }` or `{ bid }`), so every engine reads the same bytes.
 *
 *   node_modules/.bin/node bench/peers/generate.ts --events 1000000 --out /tmp/nexmark.ndjson [--seed 42] [--rate 10000]
 */

import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { parseArgs } from 'node:util'
import { type GeneratorConfig, generatorConfig, NexmarkGenerator } from '../nexmark/generator.ts'

export interface EventsFile {
  path: string
  events: number
  bytes: number
  /** The newest event time in the file (ms), and the newest of each kind: peers' windows close by them. */
  maxTime: number
  maxBidTime: number
  maxPersonOrAuctionTime: number
}

/** Generates `count` events for `config` into `path` (replaced). Lines are written in chunks, so memory stays flat. */
export async function writeEventsFile(
  path: string,
  config: GeneratorConfig,
  count: number,
): Promise<EventsFile> {
  const out = createWriteStream(path)
  const generator = new NexmarkGenerator(config)
  let bytes = 0
  let maxTime = Number.NEGATIVE_INFINITY
  let maxBidTime = Number.NEGATIVE_INFINITY
  let maxPersonOrAuctionTime = Number.NEGATIVE_INFINITY
  for (let done = 0; done < count; ) {
    const n = Math.min(10_000, count - done)
    let chunk = ''
    for (let i = 0; i < n; i++) {
      const event = generator.next()
      if ('bid' in event) maxBidTime = Math.max(maxBidTime, event.bid.dateTime)
      else {
        const t = 'person' in event ? event.person.dateTime : event.auction.dateTime
        maxPersonOrAuctionTime = Math.max(maxPersonOrAuctionTime, t)
      }
      chunk += `${JSON.stringify(event)}\n`
    }
    maxTime = Math.max(maxTime, maxBidTime, maxPersonOrAuctionTime)
    bytes += Buffer.byteLength(chunk)
    if (!out.write(chunk)) await once(out, 'drain')
    done += n
  }
  out.end()
  await once(out, 'finish')
  return { path, events: count, bytes, maxTime, maxBidTime, maxPersonOrAuctionTime }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '42' },
      rate: { type: 'string', default: '10000' },
    },
  })
  if (values.out === undefined) {
    process.stderr.write('generate: say where the file goes: --out PATH\n')
    process.exit(2)
  }
  const num = (s: string) => Number(s.replaceAll('_', '').replaceAll(',', ''))
  const config = generatorConfig({ seed: num(values.seed), firstEventRate: num(values.rate) })
  const file = await writeEventsFile(values.out, config, num(values.events))
  process.stdout.write(`${JSON.stringify(file)}\n`)
}
