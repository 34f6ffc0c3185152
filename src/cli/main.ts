/**
 * The `sluice` command line: picks the command and turns whatever it throws into one
 * `sluice: error: ...` line and an exit code (2 for a wrong command line, 1 for a failure).
 *
 *   node src/cli/main.ts <command> [options]     (bin/sluice.js imports this module)
 */
import { readFileSync } from 'node:fs'
import { isSluiceError } from '../errors.ts'
import { UsageError } from './args.ts'
import { type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './command.ts'
import { consumeCommand } from './commands/consume.ts'
import { demoCommand } from './commands/demo.ts'
import { demoLogCommand } from './commands/demo-log.ts'
import { eventsCommand } from './commands/events.ts'
import { produceCommand } from './commands/produce.ts'
import { runCommand } from './commands/run.ts'
import { serveCommand } from './commands/serve.ts'
import { statusCommand } from './commands/status.ts'
import { topicsCommand } from './commands/topics.ts'
import { printErr, printError, writeOut } from './output.ts'

const COMMANDS: readonly Command[] = [
  topicsCommand,
  produceCommand,
  consumeCommand,
  runCommand,
  serveCommand,
  statusCommand,
  eventsCommand,
  demoCommand,
  demoLogCommand,
]

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')
  return `Usage: sluice <command> [options]

Sluice: real-time event processing. These commands work on the embedded event log in
--data-dir (default: $SLUICE_DATA_DIR or ./.sluice).

Commands:
${list}

Run "sluice <command> --help" for a command's options.

Example:
  sluice topics create page-views --partitions 4
  echo '{"user":"ada","page":"/"}' | sluice produce page-views --key-field user
  sluice consume page-views --from-beginning
`
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  try {
    if (name === '--help' || name === '-h') {
      await writeOut(mainHelp())
      return EXIT_OK
    }
    if (name === undefined) {
      process.stderr.write(mainHelp())
      return EXIT_USAGE
    }
    if (name === '--version' || name === '-V') {
      await writeOut(`${version()}\n`)
      return EXIT_OK
    }
    if (name === 'help') {
      // `sluice help produce` is `sluice produce --help`.
      return rest[0] === undefined ? main(['--help']) : main([rest[0], ...rest.slice(1), '--help'])
    }
    const command = COMMANDS.find((c) => c.name === name)
    if (!command) {
      const names = COMMANDS.map((c) => c.name).join(', ')
      throw new UsageError(
        '',
        name.startsWith('-')
          ? `expected a command (${names}) before "${name}"`
          : `unknown command "${name}"; the commands are ${names}`,
      )
    }
    return await command.run(rest)
  } catch (error) {
    return report(error)
  }
}

/** Prints an error as one line (plus a pointer to --help for usage errors) and picks the exit code. */
function report(error: unknown): number {
  if (error instanceof UsageError) {
    printError(error.message)
    printErr(`run "sluice ${error.command ? `${error.command} ` : ''}--help" for usage`)
    return EXIT_USAGE
  }
  // SluiceError messages already say what to do next: print them as they are.
  if (isSluiceError(error)) {
    printError(error.message)
    return EXIT_FAILURE
  }
  const message = error instanceof Error ? error.message : String(error)
  printError(message)
  if (process.env.SLUICE_DEBUG && error instanceof Error && error.stack) printErr(error.stack)
  else printErr('(this looks like a bug in sluice; set SLUICE_DEBUG=1 to see the stack trace)')
  return EXIT_FAILURE
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return `sluice ${pkg.version} (node ${process.versions.node})`
}

process.exitCode = await main(process.argv.slice(2))
