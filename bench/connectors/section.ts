/**
 * What a section of `npm run bench:connectors` is: one function in its own file
 * (`bench/connectors/<name>.ts`), listed in `bench/connectors.ts`. It parses its own flags from
 * `args` (the command line, so `--rows N` reaches the section that knows it), measures, prints
 * its figures, and returns what `--write-docs` puts into docs/benchmarks.md under `heading`
 * (or nothing, for a section that does not write docs).
 */
export interface SectionReport {
  /** The `## ` heading of its docs/benchmarks.md section, without the `## `. */
  heading: string
  /** The section's body in Markdown: how it was measured, the tables, the notes. */
  markdown: string
}

export interface Section {
  /** What `--only` names. */
  name: string
  run(args: readonly string[]): Promise<SectionReport | undefined>
}
