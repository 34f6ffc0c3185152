/**
 * `sluice run` end to end at the edges: it serves HTTP on the port it prints, validates ingest
 * with the schema the file declares, runs the file's pipeline and its connector together, and
 * stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../helpers/temp-dir.ts'

test('sluice run: HTTP ingest → pipeline → file sink connector', async () => {
  const dataDir = tempDir()
  const sinkDir = tempDir()
  const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
  const fixture = fileURLToPath(new URL('./fixtures/edges.ts', import.meta.url))
  const child = spawn(
    process.execPath,
    [cli, 'run', fixture, '--data-dir', dataDir, '--threads', '1', '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SINK_DIR: sinkDir },
    },
  )
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const wait = async (what: string, ok: () => boolean) => {
    const deadline = Date.now() + 20_000
    while (!ok()) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what}:\n${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  try {
    await wait('no server address printed', () => /serving http:\/\/\S+ /.test(stderr))
    assert.match(stderr, /running big, big-to-file \(ndjson-file\)/)
    const base = /serving (http:\/\/\S+) /.exec(stderr)![1]!
    const post = (body: string) =>
      fetch(`${base}/topics/orders/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      })
    const bad = await post('{"id":"x","amount":"lots"}')
    assert.equal(bad.status, 422)
    assert.match(((await bad.json()) as { error: string }).error, /line 1: schema validation failed: amount/)
    const lines = [5, 150, 99, 100, 700].map((amount, i) => JSON.stringify({ id: `o${i}`, amount }))
    const ok = await post(lines.join('\n'))
    assert.equal(ok.status, 200)
    const written = () =>
      readdirSync(sinkDir)
        .filter((f) => f.endsWith('.ndjson'))
        .flatMap((f) => readFileSync(join(sinkDir, f), 'utf8').split('\n').filter(Boolean))
    await wait('the sink did not write the big orders', () => written().length >= 3)
    const ids = written()
      .map((l) => JSON.parse(l) as { value?: { id: string }; id?: string })
      .map((r) => r.value?.id ?? r.id)
      .sort()
    assert.deepEqual(ids, ['o1', 'o3', 'o4'])
  } finally {
    child.kill('SIGTERM')
    assert.equal(await exited, 0, `sluice run stops cleanly\n${stderr}`)
  }
})
