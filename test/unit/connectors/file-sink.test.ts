/**
 * ndjsonFileSink(): every record of the topic lands in the directory, in order, in files that
 * roll by size and by age.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { ndjsonFileSink } from '../../../src/connectors/file/index.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

function linesIn(dir: string): { files: string[]; values: unknown[] } {
  if (!existsSync(dir)) return { files: [], values: [] }
  const files = readdirSync(dir).sort()
  const values = files.flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l)),
  )
  return { files, values }
}

describe('ndjsonFileSink', () => {
  const dataDir = tempDir()
  let log: EmbeddedLog

  before(async () => {
    log = await openEmbeddedLog({ dataDir })
  })
  after(() => log.close())

  async function produce(name: string, values: unknown[]) {
    await log.createTopic(name, { partitions: 1 })
    const producer = log.producer()
    await producer.send(
      name,
      values.map((v) => ({ value: Buffer.from(JSON.stringify(v)) })),
    )
    await producer.close()
  }

  test('writes every record in order and rolls before a file would pass rollBytes', async () => {
    const values = Array.from({ length: 500 }, (_, i) => ({ i, pad: 'x'.repeat(i % 7) }))
    await produce('sink-size', values)
    const dir = join(tempDir(), 'out')
    const c = connect('sink-size', {
      from: topic('sink-size'),
      to: ndjsonFileSink({ dir, prefix: 'part', rollBytes: 1_000, batchSize: 64 }),
    })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    try {
      await waitFor('every record in the files', () => linesIn(dir).values.length >= 500)
    } finally {
      await runner.stop()
    }
    const { files, values: written } = linesIn(dir)
    assert.deepEqual(written, values)
    assert.ok(files.length >= 10, `rolled into ${files.length} files`)
    for (const f of files) {
      assert.match(f, /^part-\d{8}T\d{9}Z-\d{4}\.ndjson$/)
      assert.ok(statSync(join(dir, f)).size <= 1_000, `${f} is ${statSync(join(dir, f)).size} bytes`)
    }
    assert.equal(runner.status()[0]!.records, 500)
  })

  test('a record larger than rollBytes gets a file of its own', async () => {
    await produce('sink-big', [{ n: 1 }, { big: 'y'.repeat(300) }, { n: 3 }])
    const dir = join(tempDir(), 'out')
    const c = connect('sink-big', { from: topic('sink-big'), to: ndjsonFileSink({ dir, rollBytes: 100 }) })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    try {
      await waitFor('three lines', () => linesIn(dir).values.length >= 3)
    } finally {
      await runner.stop()
    }
    const { files, values } = linesIn(dir)
    assert.deepEqual(values, [{ n: 1 }, { big: 'y'.repeat(300) }, { n: 3 }])
    assert.equal(files.length, 3)
    assert.ok(
      files.every((f) => f.startsWith('sink-big-')),
      'the prefix defaults to the connector name',
    )
  })

  test('rolls by age: a file older than rollMs is closed and the next records start a new one', async () => {
    await produce('sink-age', [{ n: 1 }])
    const dir = join(tempDir(), 'out')
    const c = connect('sink-age', { from: topic('sink-age'), to: ndjsonFileSink({ dir, rollMs: 100 }) })
    const runner = new ConnectorRunner(log, [c])
    runner.start()
    try {
      await waitFor('the first record', () => linesIn(dir).values.length >= 1)
      await new Promise((r) => setTimeout(r, 250))
      const producer = log.producer()
      await producer.send('sink-age', { value: Buffer.from('{"n":2}') })
      await producer.close()
      await waitFor('the second record', () => linesIn(dir).values.length >= 2)
    } finally {
      await runner.stop()
    }
    const { files, values } = linesIn(dir)
    assert.deepEqual(values, [{ n: 1 }, { n: 2 }])
    assert.equal(files.length, 2)
  })

  test('a restarted sink goes on after the committed position, in a new file', async () => {
    await produce('sink-restart', [{ n: 1 }, { n: 2 }])
    const dir = join(tempDir(), 'out')
    const sink = () => ndjsonFileSink({ dir })
    const run1 = new ConnectorRunner(log, [
      connect('sink-restart', { from: topic('sink-restart'), to: sink() }),
    ])
    run1.start()
    try {
      await waitFor('two lines', () => linesIn(dir).values.length >= 2)
    } finally {
      await run1.stop()
    }
    const producer = log.producer()
    await producer.send('sink-restart', { value: Buffer.from('{"n":3}') })
    await producer.close()
    const run2 = new ConnectorRunner(log, [
      { kind: 'sink', name: 'sink-restart', topic: topic('sink-restart'), sink: sink() },
    ])
    run2.start()
    try {
      await waitFor('three lines', () => linesIn(dir).values.length >= 3)
      await new Promise((r) => setTimeout(r, 300))
    } finally {
      await run2.stop()
    }
    const { files, values } = linesIn(dir)
    assert.deepEqual(values, [{ n: 1 }, { n: 2 }, { n: 3 }])
    assert.equal(files.length, 2)
  })
})
