/**
 * Running `sluice demo …` (or any sluice command) as a child process, the way the demo tests
 * check what a user sees: exit code, the score line, the served URL.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname

export interface Run {
  child: ChildProcess
  /** What it printed to stderr so far. */
  stderr: () => string
  done: Promise<{ code: number | null; stdout: string }>
}

export function sluice(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args])
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => {
    stdout += d
  })
  child.stderr!.on('data', (d) => {
    stderr += d
  })
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout })),
  )
  return { child, stderr: () => stderr, done }
}

/** The `score: precision P recall R (…)` line every demo ends with → [P, R]. */
export function scoreLine(stdout: string): [number, number] {
  const m = /^score: precision ([\d.]+) recall ([\d.]+) /m.exec(stdout)
  assert.ok(m, `no score line in:\n${stdout}`)
  return [Number(m[1]), Number(m[2])]
}

/** The URL a running demo printed once its HTTP server was up. */
export function servedUrl(run: Run, timeoutMs = 30_000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the demo did not serve HTTP: ${run.stderr()}`)),
      timeoutMs,
    )
    const check = () => {
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(run.stderr())
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      } else setTimeout(check, 50)
    }
    check()
  })
}
