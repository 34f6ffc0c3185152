/** One `sluice` command: its help text and what it does. `run` returns the exit code. */
export interface Command {
  /** As typed after `sluice`, e.g. `produce`. */
  name: string
  /** One line for `sluice --help`. */
  summary: string
  /** The full `--help` text: usage, options and at least one example. */
  help: string
  run(args: string[]): Promise<number>
}

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
