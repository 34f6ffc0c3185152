/**
 * ndjsonFile(): read once, follow (appends, a partial last line, rotation, truncation), and a
 * restart that resumes from the checkpoint, on a real embedded log in a temp dir.
 */
import assert from 'node:assert/strict'
import { appendFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { ndjsonFile } from '../../../src/connectors/file/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, readValues, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const lines = (values: unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('')

describe('ndjsonFile', () => {
  const dataDir = tempDir()
  const files = tempDir()
  let log: EmbeddedLog

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
  })
  after(() => log.close())

  test('reads a file once: every line in order, blank lines skipped, a last line without newline included', async () => {
    const path = join(files, 'once.ndjson')
    writeFileSync(path, `${lines([{ n: 1 }, { n: 2 }])}\n  \r\n{"n":3}\r\n{"n":4}`)
    const c = connect('nd-once', { from: ndjsonFile({ path }), to: topic('nd-once') })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'nd-once'), [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])
    assert.equal(runner.status()[0]!.state, 'done')
  })

  test('dead-letters lines that are not JSON with the file and line number, and reads on', async () => {
    const path = join(files, 'bad.ndjson')
    writeFileSync(path, `{"n":1}\n{"n":\n\n{"n":3}\nnot json\n`)
    const c = connect('nd-bad', { from: ndjsonFile({ path }), to: topic('nd-bad') })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'nd-bad'), [{ n: 1 }, { n: 3 }])
    const dead = await readTopic(log, 'nd-bad-dlq')
    assert.deepEqual(
      dead.map((r) => Buffer.from(r.value!).toString()),
      ['{"n":', 'not json'],
    )
    assert.match(dead[0]!.headers['sluice-error']!, new RegExp(`^${escapeRegExp(path)}:2: not valid JSON`))
    assert.match(dead[1]!.headers['sluice-error']!, new RegExp(`^${escapeRegExp(path)}:5: not valid JSON`))
    assert.equal(dead[1]!.headers['file-line'], '5')
    assert.equal(dead[1]!.headers['sluice-connector'], 'nd-bad')
    assert.equal(runner.status()[0]!.deadLetters, 2)
  })

  test('a line longer than maxLineBytes is dead-lettered and reading resumes at the next line', async () => {
    const path = join(files, 'long.ndjson')
    writeFileSync(path, `{"n":1}\n{"s":"${'x'.repeat(300)}"}\n{"n":3}\n`)
    const c = connect('nd-long', { from: ndjsonFile({ path, maxLineBytes: 100 }), to: topic('nd-long') })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    await runner.whenDone()
    assert.deepEqual(await readValues(log, 'nd-long'), [{ n: 1 }, { n: 3 }])
    const [dead] = await readTopic(log, 'nd-long-dlq')
    assert.match(dead!.headers['sluice-error']!, /:2: line longer than 100 bytes/)
  })

  test('follows appends; a partial last line waits for its newline', async () => {
    const path = join(files, 'follow.ndjson')
    writeFileSync(path, lines([{ n: 1 }]))
    const c = connect('nd-follow', {
      from: ndjsonFile({ path, follow: true, pollMs: 20 }),
      to: topic('nd-follow'),
    })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    try {
      await waitFor('the first line', async () => (await readValues(log, 'nd-follow')).length === 1)
      appendFileSync(path, `${lines([{ n: 2 }])}{"n":`)
      await waitFor('the second line', async () => (await readValues(log, 'nd-follow')).length === 2)
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(
        await readValues(log, 'nd-follow'),
        [{ n: 1 }, { n: 2 }],
        'half a line is not a record',
      )
      appendFileSync(path, '3}\n')
      await waitFor('the completed line', async () => (await readValues(log, 'nd-follow')).length === 3)
      assert.deepEqual(await readValues(log, 'nd-follow'), [{ n: 1 }, { n: 2 }, { n: 3 }])
      assert.deepEqual(await readTopic(log, 'nd-follow-dlq'), [])
    } finally {
      await runner.stop()
    }
  })

  test('follows across rotation (the old file read to its end) and truncation', async () => {
    const path = join(files, 'rotate.ndjson')
    writeFileSync(path, lines([{ n: 1 }]))
    const reports: string[] = []
    const c = connect('nd-rotate', {
      from: ndjsonFile({ path, follow: true, pollMs: 20 }),
      to: topic('nd-rotate'),
    })
    const runner = new ConnectorRunner(log, [c], { report: (m) => reports.push(m) })
    runner.start()
    try {
      await waitFor('the first line', async () => (await readValues(log, 'nd-rotate')).length === 1)
      // The writer adds a last line to the old file after the rename, as loggers do.
      renameSync(path, `${path}.1`)
      appendFileSync(`${path}.1`, lines([{ n: 2 }]))
      writeFileSync(path, lines([{ n: 3 }]))
      await waitFor('the rotated file', async () => (await readValues(log, 'nd-rotate')).length === 3)
      truncateSync(path, 0)
      await waitFor('the truncation to be noticed', () => reports.some((m) => m.includes('was truncated')))
      appendFileSync(path, lines([{ n: 4 }]))
      await waitFor('the truncated file', async () => (await readValues(log, 'nd-rotate')).length === 4)
      assert.deepEqual(await readValues(log, 'nd-rotate'), [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])
      assert.ok(
        reports.some((m) => m.includes('was rotated')),
        reports.join('\n'),
      )
    } finally {
      await runner.stop()
    }
  })

  test('a restart resumes exactly after the last checkpointed line: nothing skipped, nothing twice', async () => {
    const path = join(files, 'restart.ndjson')
    const first = Array.from({ length: 25 }, (_, i) => ({ n: i }))
    writeFileSync(path, `${lines(first)}{"n":25`)
    const source = () => ndjsonFile({ path, follow: true, pollMs: 20, batchSize: 4 })
    const run1 = new ConnectorRunner(log, [
      connect('nd-restart', { from: source(), to: topic('nd-restart') }),
    ])
    run1.start()
    await waitFor('the first 25 lines', async () => (await readValues(log, 'nd-restart')).length === 25)
    await run1.stop()

    // Reopen the log too, as after a process restart; the partial line is completed meanwhile.
    await log.close()
    log = await openEmbeddedLog({ dataDir })
    appendFileSync(path, `}\n${lines([{ n: 26 }, { n: 27 }])}`)
    const run2 = new ConnectorRunner(log, [
      { kind: 'source', name: 'nd-restart', source: source(), topic: topic('nd-restart') },
    ])
    run2.start()
    try {
      await waitFor('all 28 lines', async () => (await readValues(log, 'nd-restart')).length >= 28)
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(
        await readValues(log, 'nd-restart'),
        Array.from({ length: 28 }, (_, i) => ({ n: i })),
      )
    } finally {
      await run2.stop()
    }
  })

  test('a file replaced while the source was stopped is read from its start', async () => {
    const path = join(files, 'replaced.ndjson')
    writeFileSync(path, lines([{ n: 1 }, { n: 2 }]))
    const source = () => ndjsonFile({ path })
    const run1 = new ConnectorRunner(log, [
      connect('nd-replaced', { from: source(), to: topic('nd-replaced') }),
    ])
    run1.start()
    await run1.whenDone()
    renameSync(path, `${path}.old`)
    writeFileSync(path, lines([{ n: 3 }]))
    const reports: string[] = []
    const run2 = new ConnectorRunner(
      log,
      [{ kind: 'source', name: 'nd-replaced', source: source(), topic: topic('nd-replaced') }],
      { report: (m) => reports.push(m) },
    )
    run2.start()
    await run2.whenDone()
    assert.deepEqual(await readValues(log, 'nd-replaced'), [{ n: 1 }, { n: 2 }, { n: 3 }])
    assert.ok(
      reports.some((m) => m.includes('rotated or replaced')),
      reports.join('\n'),
    )
  })
})

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
