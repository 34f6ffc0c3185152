/**
 * The JVM peers: building the Maven projects in bench/peers/ (once, offline when Maven's
 * cache has every jar) and running a main class with its module's classpath
 * (`target/classes` and the dependencies Maven copied to `target/lib`).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lastJsonLine } from './result.ts'

const ROOT = import.meta.dirname
export type JavaModule = 'flink' | 'kafka-streams'

/** The newest modification time under `dir` (sources and poms), to rebuild only when something changed. */
function newest(dir: string): number {
  let t = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'target') continue
    const path = join(dir, entry.name)
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return t
}

/** Written after a successful build; its time says when the module was last built. */
const stamp = (module: JavaModule) => join(ROOT, module, 'target', 'built-by-bench-peers')

function built(module: JavaModule): number {
  return existsSync(stamp(module)) ? statSync(stamp(module)).mtimeMs : 0
}

/**
 * Builds the Maven projects when a source or pom is newer than the last build: `mvn -o`
 * first (no network when the jars are cached), online if that fails.
 */
export function buildJava(log: (line: string) => void): void {
  const stale = (['flink', 'kafka-streams'] as const).some(
    (m) =>
      built(m) <
      Math.max(newest(join(ROOT, m)), newest(join(ROOT, 'common')), statSync(join(ROOT, 'pom.xml')).mtimeMs),
  )
  if (!stale) return
  const mvn = (offline: boolean) =>
    spawnSync('mvn', ['-B', '-q', ...(offline ? ['-o'] : []), '-f', join(ROOT, 'pom.xml'), 'package'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  log('building the Flink and Kafka Streams harnesses with Maven (mvn -o package)')
  let run = mvn(true)
  if (run.status !== 0) {
    log('offline build failed (jars not cached yet?); building online from Maven Central')
    run = mvn(false)
  }
  if (run.status !== 0) {
    throw new Error(
      `mvn package failed (exit ${run.status ?? run.error?.message}):\n${run.stdout}\n${run.stderr}`,
    )
  }
  for (const m of ['flink', 'kafka-streams'] as const)
    writeFileSync(stamp(m), `${new Date().toISOString()}\n`)
}

/** JVM options for every peer: logs at warn (errors and failures still print), nothing else tuned. */
const JVM_OPTIONS = [
  '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
  '-Dorg.slf4j.simpleLogger.logFile=System.err',
]

/** Runs `mainClass` of a module and returns its JSON result line; throws with its stderr on failure. */
export function runJava(
  module: JavaModule,
  mainClass: string,
  args: string[],
  options: { timeoutMs?: number; jvm?: string[]; quiet?: RegExp } = {},
): Record<string, unknown> {
  const dir = join(ROOT, module, 'target')
  const classpath = `${join(dir, 'classes')}:${join(dir, 'lib', '*')}`
  const child = spawnSync(
    'java',
    [...JVM_OPTIONS, ...(options.jvm ?? []), '-cp', classpath, mainClass, ...args],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
      timeout: options.timeoutMs ?? 30 * 60_000,
    },
  )
  const stderr = child.stderr ?? ''
  if (child.status !== 0) {
    throw new Error(
      `${module} ${mainClass} ${args.join(' ')} failed (exit ${child.status ?? child.signal}):\n${stderr.slice(-6000)}`,
    )
  }
  return lastJsonLine(child.stdout)
}
