/**
 * ndjsonFileSink({ partitionBy }): each record lands in its Hive-style partition directory, in
 * order; a bad directory is a dead letter, never a crash or a write outside `dir`; at most
 * `maxOpenPartitions` files are open, the least recently used closed first; idle ones close.
 * Real files, and the process's real descriptors (/proc/self/fd) to count what is open.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { connect } from '../../../src/connectors/connect.ts'
import { ndjsonFileSink } from '../../../src/connectors/file/index.ts'
import { PartitionedFiles, partitionPathError } from '../../../src/connectors/file/partitioned-files.ts'
import { ConnectorRunner } from '../../../src/connectors/runner.ts'
import { topic } from '../../../src/dsl/topic.ts'
import { type EmbeddedLog, openEmbeddedLog } from '../../../src/log/index.ts'
import { readTopic, waitFor } from '../../helpers/connector-log.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

interface Row {
  p: string
  i: number
}

/** Every file under `dir`, by its directory relative to `dir` ('' for `dir` itself). */
function tree(dir: string): Map<string, { files: string[]; values: unknown[] }> {
  const out = new Map<string, { files: string[]; values: unknown[] }>()
  const walk = (d: string) => {
    if (!existsSync(d)) return
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) {
        walk(path)
        continue
      }
      const key = relative(dir, d)
      const entry = out.get(key) ?? { files: [], values: [] }
      entry.files.push(name)
      for (const line of readFileSync(path, 'utf8').split('\n'))
        if (line !== '') entry.values.push(JSON.parse(line))
      out.set(key, entry)
    }
  }
  walk(dir)
  return out
}

function lineCount(dir: string): number {
  let n = 0
  for (const { values } of tree(dir).values()) n += values.length
  return n
}

/** NDJSON files this process has open below `dir` (not the directories opened to fsync them). */
function openFilesUnder(dir: string): number {
  const real = `${realpathSync(dir)}/`
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (target.startsWith(real) && target.endsWith('.ndjson')) n++
    } catch {
      // closed between the listing and the readlink
    }
  }
  return n
}

const hasProcFd = existsSync('/proc/self/fd')

describe('ndjsonFileSink with partitionBy', () => {
  let log: EmbeddedLog

  before(async () => {
    log = await openEmbeddedLog({ dataDir: tempDir() })
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

  /** Runs the sink until it has handled `records` records (written or dead-lettered); its status then. */
  async function run(name: string, sink: ReturnType<typeof ndjsonFileSink<Row>>, records: number) {
    const runner = new ConnectorRunner(log, [connect(name, { from: topic<Row>(name), to: sink })])
    runner.start()
    try {
      await waitFor(`${records} records`, () => runner.status()[0]!.records >= records)
      return runner.status()[0]!
    } finally {
      await runner.stop()
    }
  }

  test('writes each record to its Hive-style directory, in order, one rolling file per directory', async () => {
    const days = ['2026-11-24', '2026-11-25']
    const minutes = ['10:05', '10:06', '23:59']
    const values: { dt: string; hm: string; i: number }[] = []
    for (let i = 0; i < 600; i++) values.push({ dt: days[i % 2]!, hm: minutes[(i >> 1) % 3]!, i })
    await produce('parts-hive', values)
    const dir = join(tempDir(), 'out')
    const runner = new ConnectorRunner(log, [
      connect('parts-hive', {
        from: topic<{ dt: string; hm: string; i: number }>('parts-hive'),
        to: ndjsonFileSink({
          dir,
          prefix: 'bids',
          batchSize: 64,
          partitionBy: (r) => `dt=${r.dt}/hm=${r.hm}`,
        }),
      }),
    ])
    runner.start()
    try {
      await waitFor('600 lines', () => lineCount(dir) >= 600)
    } finally {
      await runner.stop()
    }
    const got = tree(dir)
    const want = new Map<string, unknown[]>()
    for (const v of values) {
      const key = `dt=${v.dt}/hm=${v.hm}`
      want.set(key, [...(want.get(key) ?? []), v])
    }
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    for (const [key, { files, values: lines }] of got) {
      assert.deepEqual(lines, want.get(key), `${key}: its records in topic order`)
      assert.equal(files.length, 1, `${key}: one file, got ${files.join(', ')}`)
      assert.match(files[0]!, /^bids-\d{8}T\d{9}Z-\d{4}\.ndjson$/)
    }
    assert.equal(runner.status()[0]!.records, 600)
    assert.equal(runner.status()[0]!.deadLetters, 0)
  })

  test('a bad partition directory is a dead letter with the reason; the others are written, nothing outside dir', async () => {
    const paths: unknown[] = [
      'ok',
      '../escape',
      '/abs',
      'a//b',
      '',
      'a/',
      './a',
      'a/../b',
      'a\\b',
      null,
      'ok/deep',
    ]
    const values = paths.map((p, i) => ({ p, i }))
    values.push({ p: 'throw', i: values.length })
    await produce('parts-bad', values)
    const root = tempDir()
    const dir = join(root, 'out')
    const sink = ndjsonFileSink<Row>({
      dir,
      partitionBy: (r) => {
        if (r.p === 'throw') throw new Error('no partition for this one')
        return r.p
      },
    })
    const status = await run('parts-bad', sink, values.length)
    const got = tree(dir)
    assert.deepEqual([...got.keys()].sort(), ['ok', 'ok/deep'])
    assert.deepEqual(got.get('ok')!.values, [{ p: 'ok', i: 0 }])
    assert.deepEqual(got.get('ok/deep')!.values, [{ p: 'ok/deep', i: 10 }])
    assert.deepEqual(readdirSync(root), ['out'], 'nothing written beside dir')
    assert.ok(!existsSync(join(root, 'escape')) && !existsSync('/abs'))

    const dead = await readTopic(log, 'parts-bad-dlq')
    assert.equal(dead.length, 10)
    assert.equal(status.deadLetters, 10)
    assert.equal(status.state, 'running', 'dead letters do not stop or retry the sink')
    assert.equal(status.errors, 0)
    const byIndex = new Map(
      dead.map((r) => [(JSON.parse(Buffer.from(r.value!).toString()) as Row).i, r.headers['sluice-error']!]),
    )
    const reason = (i: number) => byIndex.get(i) ?? `no dead letter for record ${i}`
    assert.match(
      reason(1),
      /partitionBy returned "\.\.\/escape", not a partition directory: it has a "\.\." segment/,
    )
    assert.match(reason(1), /relative directory such as "dt=2026-11-24\/hm=10:05"/)
    assert.match(reason(2), /"\/abs".*it is absolute/)
    assert.match(reason(3), /"a\/\/b".*empty segment/)
    assert.match(reason(4), /"".*it is empty/)
    assert.match(reason(5), /"a\/".*empty segment/)
    assert.match(reason(6), /"\.\/a".*a "\." segment/)
    assert.match(reason(7), /"a\/\.\.\/b".*a "\.\." segment/)
    assert.match(reason(8), /backslash/)
    assert.match(reason(9), /returned null.*not a string/)
    assert.equal(reason(11), 'ndjsonFileSink: partitionBy threw: no partition for this one')
    for (const r of dead) assert.equal(r.headers['sluice-connector'], 'parts-bad')
  })

  test('at most maxOpenPartitions files are open: the least recently used is closed first', async () => {
    // One record per write (batchSize 1), so the order of use is the topic's: A B C A.
    const sequence = ['A', 'B', 'C', 'A']
    for (const [max, filesOfA] of [
      [2, 2], // C closes A (least recently used), the last A opens a new file
      [3, 1], // all three fit: A's file stays open
    ] as const) {
      const name = `parts-lru-${max}`
      await produce(
        name,
        sequence.map((p, i) => ({ p, i })),
      )
      const dir = join(tempDir(), 'out')
      const sink = ndjsonFileSink<Row>({ dir, batchSize: 1, maxOpenPartitions: max, partitionBy: (r) => r.p })
      const runner = new ConnectorRunner(log, [connect(name, { from: topic<Row>(name), to: sink })])
      runner.start()
      let openAtEnd = 0
      try {
        await waitFor('four lines', () => runner.status()[0]!.records >= 4)
        if (hasProcFd) openAtEnd = openFilesUnder(dir)
      } finally {
        await runner.stop()
      }
      const got = tree(dir)
      assert.deepEqual(got.get('A')!.values, [
        { p: 'A', i: 0 },
        { p: 'A', i: 3 },
      ])
      assert.equal(got.get('A')!.files.length, filesOfA, `max ${max}: files of A`)
      assert.equal(got.get('B')!.files.length, 1)
      assert.equal(got.get('C')!.files.length, 1)
      if (hasProcFd) {
        assert.equal(openAtEnd, Math.min(max, 3), `max ${max}: files open before stop`)
        assert.equal(openFilesUnder(dir), 0, 'stop closes every file')
      }
    }
  })

  test('one batch over more partitions than maxOpenPartitions: every line written, never more files open', async () => {
    const values = Array.from({ length: 500 }, (_, i) => ({ p: `k=${i % 7}`, i }))
    await produce('parts-wide', values)
    const dir = join(tempDir(), 'out')
    const sink = ndjsonFileSink<Row>({ dir, maxOpenPartitions: 2, partitionBy: (r) => r.p })
    const runner = new ConnectorRunner(log, [
      connect('parts-wide', { from: topic<Row>('parts-wide'), to: sink }),
    ])
    let mostOpen = 0
    const sampler = setInterval(() => {
      if (hasProcFd && existsSync(dir)) mostOpen = Math.max(mostOpen, openFilesUnder(dir))
    }, 1)
    runner.start()
    try {
      await waitFor('500 records', () => runner.status()[0]!.records >= 500)
    } finally {
      clearInterval(sampler)
      await runner.stop()
    }
    const got = tree(dir)
    assert.equal(got.size, 7)
    for (const [key, { values: lines }] of got) {
      assert.deepEqual(
        lines,
        values.filter((v) => v.p === key),
        key,
      )
    }
    assert.ok(mostOpen <= 2, `at most 2 files open at once, saw ${mostOpen}`)
  })
})

describe('PartitionedFiles', () => {
  test('a partition idle for rollMs is closed and forgotten; an active one stays', async () => {
    const dir = tempDir()
    const files = new PartitionedFiles({ dir, prefix: 'x', rollBytes: 1 << 20, rollMs: 200, maxOpen: 8 })
    try {
      await files.append(
        new Map([
          ['a', ['{"n":1}\n']],
          ['b', ['{"n":2}\n']],
        ]),
      )
      assert.equal(files.openCount, 2)
      // Keep b busy for well over rollMs while a stays idle.
      const until = Date.now() + 600
      while (Date.now() < until) {
        await files.append(new Map([['b', ['{"n":3}\n']]]))
        await new Promise((r) => setTimeout(r, 50))
      }
      assert.equal(files.openCount, 1, 'a was closed, b is still open')
      if (hasProcFd) assert.equal(openFilesUnder(join(dir, 'a')), 0)
      await new Promise((r) => setTimeout(r, 450))
      assert.equal(files.openCount, 0, 'b too, once idle')
      if (hasProcFd) assert.equal(openFilesUnder(dir), 0)
    } finally {
      await files.close()
    }
    assert.equal(readFileSync(join(dir, 'a', readdirSync(join(dir, 'a'))[0]!), 'utf8'), '{"n":1}\n')
  })

  test('partitionPathError accepts relative paths of plain segments only', () => {
    for (const ok of ['a', 'dt=2026-11-24/hm=10:05', 'x y/z', '..a/b..', '.hidden']) {
      assert.equal(partitionPathError(ok), undefined, ok)
    }
    for (const bad of [
      '',
      '/a',
      'a/',
      '/',
      'a//b',
      '.',
      '..',
      'a/./b',
      'a/..',
      'a\\b',
      'a\0b',
      5,
      undefined,
    ]) {
      assert.equal(typeof partitionPathError(bad), 'string', JSON.stringify(bad))
    }
  })
})
