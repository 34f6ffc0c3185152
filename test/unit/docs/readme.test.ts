/**
 * The README's first pipeline and its testing example, as written: the code blocks are quotes
 * of examples/first-pipeline.ts and examples/first-pipeline.test.ts (quotes.test.ts checks
 * that), the testing example runs here, and the shell commands under the pipeline run through
 * the real CLI, line by line as the README gives them, on the sample data they name.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { tempDir } from '../../helpers/temp-dir.ts'
import { codeBlocks } from './markdown.ts'

// The README's testing example: its test() runs as one of this file's tests.
await import('../../../examples/first-pipeline.test.ts')

const root = join(import.meta.dirname, '../../..')
const MAIN = join(root, 'src/cli/main.ts')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `sluice <args>` in the repository (as `npx sluice` would), on the data directory `dir`. */
function sluice(dir: string, args: string[], input?: string, stopWhen?: RegExp): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: root,
      env: { ...process.env, SLUICE_DATA_DIR: dir },
    })
    let stdout = ''
    let stderr = ''
    let stopped = false
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
      // A long-running command (sluice run) is stopped with Ctrl-C once it has done its part.
      if (stopWhen?.test(stderr) && !stopped) {
        stopped = true
        child.kill('SIGINT')
      }
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input === undefined ? '' : readFileSync(join(root, input)))
  })
}

test('the README quotes its first pipeline and testing example from files that run', () => {
  const infos = codeBlocks(readme).map((b) => b.info)
  assert.ok(infos.includes('ts examples/first-pipeline.ts#pipeline'), infos.join('\n'))
  assert.ok(infos.includes('ts examples/first-pipeline.test.ts#test'), infos.join('\n'))
})

test("the README's commands for the first pipeline, as written, raise the alerts of its sample data", async () => {
  const blocks = codeBlocks(readme)
  const at = blocks.findIndex((b) => b.info === 'ts examples/first-pipeline.ts#pipeline')
  const commands = blocks[at + 1]!.content.split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '')
  assert.deepEqual(
    commands.map((c) => c.split(' ').slice(0, 3).join(' ')),
    ['npx sluice topics', 'npx sluice produce', 'npx sluice run', 'npx sluice consume'],
  )
  const dir = tempDir()
  let consumed: Ran | null = null
  for (const command of commands) {
    const [line, input] = command.split(/\s+<\s+/) as [string, string | undefined]
    const args = line.split(/\s+/).slice(2)
    // `sluice run` goes on until Ctrl-C: stop it once its status line shows outputs.
    const stop = args[0] === 'run' ? /\bout [1-9]/ : undefined
    const ran = await sluice(dir, args, input, stop)
    assert.equal(ran.code, 0, `${command}\n${ran.stderr}`)
    if (args[0] === 'run') assert.match(ran.stderr, /stopped after a final commit/)
    if (args[0] === 'consume') consumed = ran
  }
  const alerts = consumed!.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { value: { cardId: string; count: number } })
  // card-ada's 24 payments in 6 minutes: every 10-minute window that holds more than 20 of them.
  assert.ok(alerts.length >= 3, consumed!.stdout)
  for (const a of alerts) {
    assert.equal(a.value.cardId, 'card-ada')
    assert.ok(a.value.count > 20 && a.value.count <= 24, JSON.stringify(a))
  }
})
