/**
 * `sluice demo <name>`: an example pipeline end to end on generated data, with the dashboard,
 * scored at the end. The demos are in src/cli/demo/ (one spec each, run by harness.ts); their
 * pipelines and generators are in examples/.
 */
import { UsageError } from '../args.ts'
import { type Command, EXIT_OK } from '../command.ts'
import { runDemo } from '../demo/harness.ts'
import { DEMOS } from '../demo/index.ts'
import { writeOut } from '../output.ts'

const HELP = `Usage: sluice demo <name> [options]

Runs an example end to end: starts its pipeline as "sluice run" would (on the embedded log,
or as a worker on Kafka with --backend), serves the dashboard (on port 8080, or on a free port
when 8080 is taken and --port is not given), feeds it generated data at a steady rate, and
at the end (or on Ctrl-C) prints how well the results match the cases the generator
injected. Sources in examples/<name>/.

Demos: ${Object.keys(DEMOS).join(', ')}

Run "sluice demo <name> --help" for a demo's options.

Example:
  sluice demo fraud                                   # open http://127.0.0.1:8080/, Ctrl-C to score
  sluice demo fraud --events 20000 --port 0
  sluice demo iot --rate 500 --duration 2m --seed 7
  sluice demo ecommerce --backend kafka://127.0.0.1:9092
  sluice demo iot --help                              # a demo's own options (iot: --mqtt)
`

export const demoCommand: Command = {
  name: 'demo',
  summary: `run a demo end to end with the dashboard: sluice demo ${Object.keys(DEMOS).join('|')}`,
  help: HELP,
  async run(args) {
    // The flags depend on the demo (each may have flags of its own), so find its name first:
    // a known name anywhere (`--rate 500 fraud`), else the first word that is not a flag.
    const name = args.find((a) => Object.hasOwn(DEMOS, a)) ?? args.find((a) => !a.startsWith('-'))
    if (name === undefined) {
      if (args.includes('--help') || args.includes('-h')) {
        await writeOut(HELP)
        return EXIT_OK
      }
      throw new UsageError('demo', `which demo? The demos are: ${Object.keys(DEMOS).join(', ')}`)
    }
    const load = DEMOS[name]
    if (!load)
      throw new UsageError('demo', `unknown demo "${name}"; the demos are: ${Object.keys(DEMOS).join(', ')}`)
    return runDemo(await load(), args)
  },
}
