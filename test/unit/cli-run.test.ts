/**
 * `sluice run` end to end, through the real CLI: the example card-velocity pipeline runs on
 * a log filled by `sluice produce`, stops cleanly on SIGTERM, and `sluice consume` reads the
 * alerts. Expected alerts are computed by hand in the test below.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { tempDir } from '../helpers/temp-dir.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const EXAMPLE = new URL('../../examples/card-velocity.ts', import.meta.url).pathname

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function sluice(dir: string, args: string[], input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args, '--data-dir', dir])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 10, 0, seconds)).toISOString()

test('sluice run runs a pipeline file, stops on SIGTERM after a final commit, and resumes', async () => {
  const dir = tempDir()
  assert.equal((await sluice(dir, ['topics', 'create', 'transactions', '--partitions', '1'])).code, 0)
  // 25 payments of card c1, 10 s apart from 10:00:00, one with a bad schema, then one of c2
  // at 10:30 that moves event time past every window of the burst.
  const lines = Array.from({ length: 25 }, (_, i) => ({ cardId: 'c1', amount: 10, at: at(i * 10) }))
  lines.splice(3, 0, { cardId: 'c1', amount: 'ten' as unknown as number, at: at(31) })
  lines.push({ cardId: 'c2', amount: 5, at: at(30 * 60) })
  const produced = await sluice(
    dir,
    ['produce', 'transactions', '--key-field', 'cardId'],
    lines.map((l) => JSON.stringify(l)).join('\n'),
  )
  assert.equal(produced.code, 0, produced.stderr)

  const run = spawn(process.execPath, [MAIN, 'run', EXAMPLE, '--data-dir', dir])
  let stderr = ''
  run.stderr.on('data', (d) => {
    stderr += d
  })
  const exited = new Promise<number | null>((r) => run.on('close', r))
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`run did not start: ${stderr}`)), 20_000)
    run.stderr.on('data', () => {
      if (stderr.includes('running card-velocity')) {
        clearTimeout(t)
        resolve()
      }
    })
  })
  await new Promise((r) => setTimeout(r, 1_500))
  run.kill('SIGTERM')
  assert.equal(await exited, 0, stderr)
  assert.match(stderr, /SIGTERM: committing and stopping/)
  assert.match(stderr, /stopped after a final commit/)

  // Sliding windows of 10 min every 1 min; a window [s, s+10m) holds the payments in it:
  // s = 09:53 → 10:00:00..10:02:50 = 18 (no alert), s = 09:54 → ..10:03:50 = 24,
  // s = 09:55 .. 10:00 → all 25. More than 20 → 7 alerts.
  const alerts = await sluice(dir, ['consume', 'alerts'])
  assert.equal(alerts.code, 0, alerts.stderr)
  const values = alerts.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).value as { windowStart: string; count: number })
  assert.deepEqual(
    values.map((v) => [v.windowStart.slice(11, 16), v.count]),
    [
      ['09:54', 24],
      ['09:55', 25],
      ['09:56', 25],
      ['09:57', 25],
      ['09:58', 25],
      ['09:59', 25],
      ['10:00', 25],
    ],
  )
  const dead = await sluice(dir, ['consume', 'card-velocity-dlq'])
  const deadLines = dead.stdout.trim().split('\n')
  assert.equal(deadLines.length, 1)
  const letter = JSON.parse(deadLines[0]!)
  assert.match(letter.headers['sluice-error'], /schema validation failed: amount/)
  assert.equal(letter.value.amount, 'ten')

  // A second run finds nothing new to do: the alerts are not written twice.
  const again = spawn(process.execPath, [MAIN, 'run', EXAMPLE, '--data-dir', dir])
  let againErr = ''
  again.stderr.on('data', (d) => {
    againErr += d
  })
  const againExit = new Promise<number | null>((r) => again.on('close', r))
  // Signal only once it runs: a signal during start-up (module loading) would kill it outright.
  const deadline = Date.now() + 20_000
  while (!againErr.includes('running card-velocity')) {
    if (Date.now() > deadline || again.exitCode !== null)
      throw new Error(`second run did not start: ${againErr}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  await new Promise((r) => setTimeout(r, 1_000))
  again.kill('SIGINT')
  assert.equal(await againExit, 0, againErr)
  const after = await sluice(dir, ['consume', 'alerts'])
  assert.equal(after.stdout.trim().split('\n').length, 7)
})

test('sluice run explains a missing file, a file without pipelines, and describes topologies', async () => {
  const dir = tempDir()
  const missing = await sluice(dir, ['run', 'nope.ts'])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /no such file: nope\.ts/)
  const described = await sluice(dir, ['run', EXAMPLE, '--describe'])
  assert.equal(described.code, 0, described.stderr)
  assert.match(described.stdout, /window-aggregate spend \[hopping 600000ms every 60000ms, lateness 60000ms/)
  assert.match(described.stdout, /card-velocity-spend-by-repartition/)
  const help = await sluice(dir, ['run', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /Example:/)
})
