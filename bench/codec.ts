/**
 * Benchmark of the codecs (not a test): the Nexmark events (bench/nexmark/generator.ts, the
 * suite's defaults) encoded and decoded by JSON (`JSON.stringify` / `JSON.parse`, what
 * `jsonCodec` does) and by `binaryCodec` over bench/nexmark/schema.ts, the way a pipeline
 * calls each: JSON from and to text, binary into one growing buffer (`encodeInto`) and from
 * where each value lies in it (`decodeAt`). Rounds alternate the four, so noise spreads over
 * all of them; the table has each one's best round and the binary / JSON ratios.
 *
 *   npm run bench:codec
 *   npm run bench:codec -- --events 200000 --rounds 9
 */
import { loadavg } from 'node:os'
import { ByteWriter } from '../src/index.ts'
import { flagErrors, parseFlags, table } from './common.ts'
import { generateEvents, generatorConfig } from './nexmark/generator.ts'
import { eventCodec } from './nexmark/schema.ts'

const HELP = `npm run bench:codec -- [options]

Encodes and decodes Nexmark events with JSON and with binaryCodec (bench/nexmark/schema.ts)
and prints ns per event for each, the best of --rounds alternating rounds, with the ratios.

  --events N    events (default 100,000)
  --rounds N    rounds of each (default 7)
  -h, --help    this text

Examples:
  npm run bench:codec
  npm run bench:codec -- --events 200000 --rounds 9
`

const flags = flagErrors('bench:codec')
// A declaration, so that TypeScript knows the code after a call to it does not run.
function fail(message: string): never {
  return flags.fail(message)
}
const args = parseFlags(
  {
    options: {
      events: { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  },
  HELP,
  fail,
)
const count = flags.count('events', args.events, 100_000)
const rounds = flags.count('rounds', args.rounds, 7)

const events = generateEvents(count, generatorConfig({ seed: 42 }))
const texts = events.map((e) => JSON.stringify(e))
const writer = new ByteWriter(1 << 20)
const starts: number[] = []
for (const e of events) {
  starts.push(writer.pos)
  eventCodec.encodeInto!(e, writer)
}
starts.push(writer.pos)
const binary = Buffer.from(writer.written())
const jsonBytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0)

// Each result feeds this, so no call can be optimized away.
let sink = 0
const cases: Record<string, () => void> = {
  'JSON.parse': () => {
    for (const t of texts) sink += JSON.parse(t) === null ? 0 : 1
  },
  'binary decodeAt': () => {
    for (let i = 0; i < events.length; i++)
      sink += eventCodec.decodeAt!(binary, starts[i]!, starts[i + 1]!) === null ? 0 : 1
  },
  'JSON.stringify': () => {
    for (const e of events) sink += JSON.stringify(e).length
  },
  'binary encodeInto': () => {
    writer.reset()
    for (const e of events) eventCodec.encodeInto!(e, writer)
    sink += writer.pos
  },
}
const best: Record<string, number> = {}
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint()
    run()
    const ns = Number(process.hrtime.bigint() - t0) / events.length
    best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, ns)
  }
  process.stderr.write(`\r[bench:codec] round ${round + 1} of ${rounds}`)
}
process.stderr.write('\n')
if (sink === 0) throw new Error('nothing was decoded')

const ns = (n: number) => n.toFixed(0)
process.stdout.write(
  `Codecs on ${count.toLocaleString('en-US')} Nexmark events (seed 42), Node ${process.version}, 1-minute load ${loadavg()[0]!.toFixed(2)}; best of ${rounds} rounds\n\n` +
    `${table(
      ['codec', 'bytes per event', 'decode ns per event', 'encode ns per event'],
      [
        ['JSON', (jsonBytes / count).toFixed(1), ns(best['JSON.parse']!), ns(best['JSON.stringify']!)],
        [
          'binary',
          (binary.length / count).toFixed(1),
          ns(best['binary decodeAt']!),
          ns(best['binary encodeInto']!),
        ],
        [
          'binary / JSON',
          `${((binary.length / jsonBytes) * 100).toFixed(0)}%`,
          `${((best['binary decodeAt']! / best['JSON.parse']!) * 100).toFixed(0)}%`,
          `${((best['binary encodeInto']! / best['JSON.stringify']!) * 100).toFixed(0)}%`,
        ],
      ],
      1,
    )}\n`,
)
