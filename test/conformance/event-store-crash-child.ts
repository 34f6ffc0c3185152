/**
 * The writer the event-store crash test kills with SIGKILL.
 *
 *   node test/conformance/event-store-crash-child.ts <config JSON> <round>
 *
 * Opens the store, prints "ready", then runs WRITERS append loops at once (so a kill lands
 * while several appends are in flight) until it is killed. Append number `seq` of a round
 * writes k = 1 + seq % 5 events with ids "<round>-<seq>.<i>" to stream "crash-<seq % 3>"; only
 * once the store acknowledged it does the child print "ack <round>-<seq> <k> <last position>". The test then
 * checks that every acknowledged append is stored whole, and every append stored is whole.
 */
import { openTarget, type StoreConfig } from './event-store-target.ts'

const WRITERS = 4

const [configArg, roundArg] = process.argv.slice(2)
if (!configArg || !roundArg) {
  process.stderr.write('usage: event-store-crash-child.ts <config JSON> <round>\n')
  process.exit(2)
}
const config = JSON.parse(configArg) as StoreConfig
const round = Number(roundArg)

try {
  const store = await openTarget(config, { connections: WRITERS })
  process.stdout.write('ready\n')
  let next = 0
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (;;) {
        const seq = next++
        const k = 1 + (seq % 5)
        const id = `${round}-${seq}`
        const events = Array.from({ length: k }, (_, i) => ({
          id: `${id}.${i}`,
          type: 'CrashTested',
          data: { round, seq, i, k, pad: 'x'.repeat(200 + ((seq * 37) % 800)) },
        }))
        const r = await store.append(`crash-${seq % 3}`, events)
        process.stdout.write(`ack ${id} ${k} ${r.lastPosition}\n`)
      }
    }),
  )
} catch (error) {
  process.stderr.write(`crash child (round ${round}): ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
}
