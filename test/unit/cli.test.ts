/**
 * The `sluice` CLI, run as a child process the way users run it: `node src/cli/main.ts ...`
 * (process.execPath is the Node 24 that runs this test). Each test has its own data dir.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { partitionForKey } from '../../src/log/partitioner.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `sluice <args> --data-dir <dir>` with `input` on stdin. */
function sluice(dir: string, args: string[], input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args, '--data-dir', dir])
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

/** Like `sluice`, but expects exit code 0 and shows stderr when it is not. */
async function ok(dir: string, args: string[], input = ''): Promise<Result> {
  const result = await sluice(dir, args, input)
  assert.equal(result.code, 0, `sluice ${args.join(' ')} failed:\n${result.stderr}`)
  return result
}

interface Line {
  topic: string
  partition: number
  offset: number
  timestamp: string
  key: string | null
  value: unknown
  headers: Record<string, string>
}

function lines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line)
}

const ndjson = (values: readonly unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('')

/** A data dir with topic `t` of `partitions` partitions. */
async function withTopic(partitions = 1): Promise<string> {
  const dir = tempDir('sluice-cli-')
  await ok(dir, ['topics', 'create', 't', '--partitions', String(partitions)])
  return dir
}

describe('sluice topics', { concurrency: true }, () => {
  test('create, list, describe, delete', async () => {
    const dir = tempDir('sluice-cli-')
    const created = await ok(dir, [
      'topics',
      'create',
      'orders',
      '--partitions',
      '3',
      '--retention',
      '7d',
      '--retention-bytes',
      '1GiB',
      '--max-record-bytes',
      '64KiB',
    ])
    assert.match(created.stdout, /created topic "orders" \(3 partitions, retention 7d/)
    await ok(dir, ['topics', 'create', 'users', '--partitions', '1', '--compact'])

    const list = await ok(dir, ['topics', 'list'])
    assert.match(list.stdout, /^TOPIC\s+PARTITIONS/)
    assert.match(list.stdout, /orders\s+3\s+0/)
    const listed = JSON.parse((await ok(dir, ['topics', 'list', '--json'])).stdout)
    assert.deepEqual(
      listed.map((t: { name: string; partitions: number }) => [t.name, t.partitions]),
      [
        ['orders', 3],
        ['users', 1],
      ],
    )

    await ok(dir, ['produce', 'orders'], ndjson([{ a: 1 }, { a: 2 }]))
    const described = JSON.parse((await ok(dir, ['topics', 'describe', 'orders', '--json'])).stdout)
    assert.equal(described.retentionMs, 7 * 86_400_000)
    assert.equal(described.retentionBytes, 1024 ** 3)
    assert.equal(described.maxRecordBytes, 64 * 1024)
    assert.equal(described.partitionDetails.length, 3)
    const ends = described.partitionDetails.map((p: { endOffset: number }) => p.endOffset)
    assert.equal(
      ends.reduce((a: number, b: number) => a + b, 0),
      2,
    )
    const human = await ok(dir, ['topics', 'describe', 'users'])
    assert.match(human.stdout, /compacted/)
    assert.match(human.stdout, /PARTITION\s+START\s+END\s+RECORDS\s+SIZE/)

    await ok(dir, ['topics', 'delete', 'orders'])
    assert.deepEqual(JSON.parse((await ok(dir, ['topics', 'list', '--json'])).stdout).length, 1)
    const again = await sluice(dir, ['topics', 'describe', 'orders'])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^sluice: error: unknown topic "orders"/)
  })

  test('create rejects a topic that exists, and bad values, with clear errors', async () => {
    const dir = await withTopic()
    const exists = await sluice(dir, ['topics', 'create', 't', '--partitions', '1'])
    assert.equal(exists.code, 1)
    assert.match(exists.stderr, /sluice: error: topic "t" already exists/)
    const missing = await sluice(dir, ['topics', 'create', 'x'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /missing --partitions N/)
    const notNumber = await sluice(dir, ['topics', 'create', 'x', '--partitions', 'three'])
    assert.equal(notNumber.code, 2)
    assert.match(notNumber.stderr, /^sluice: error: --partitions must be a whole number/)
    const badRetention = await sluice(dir, [
      'topics',
      'create',
      'x',
      '--partitions',
      '1',
      '--retention',
      '7 days',
    ])
    assert.equal(badRetention.code, 2)
    assert.match(badRetention.stderr, /--retention: duration "7 days" is not a duration/)
  })

  test('list on a data dir that does not exist creates nothing', async () => {
    const dir = join(tempDir('sluice-cli-'), 'nothing-here')
    const result = await ok(dir, ['topics', 'list', '--json'])
    assert.equal(result.stdout, '[]\n')
    const produce = await sluice(dir, ['produce', 't'], '{}\n')
    assert.equal(produce.code, 1)
    assert.match(produce.stderr, /unknown topic "t": there is no log in/)
  })
})

describe('sluice produce and consume', { concurrency: true }, () => {
  test('round trip: values parsed back as JSON, keys from --key-field, empty lines skipped', async () => {
    const dir = await withTopic(1)
    const input = `${ndjson([
      { user: 'ada', n: 1 },
      { user: 'bob', n: 2 },
    ])}\n   \n${ndjson([{ user: 7, n: 3 }])}`
    const produced = await ok(dir, ['produce', 't', '--key-field', 'user'], input)
    assert.equal(produced.stdout, '')
    const summary = produced.stderr.trim().split('\n')
    assert.equal(summary.length, 1, 'one summary line')
    assert.match(summary[0]!, /^produced 3 records \(.+\) to "t" in .+, [\d,]+ records\/s$/)

    const out = lines((await ok(dir, ['consume', 't', '--from-beginning'])).stdout)
    assert.deepEqual(
      out.map((r) => [r.offset, r.key, r.value]),
      [
        [0, 'ada', { user: 'ada', n: 1 }],
        [1, 'bob', { user: 'bob', n: 2 }],
        [2, '7', { user: 7, n: 3 }],
      ],
    )
    const first = out[0]!
    assert.equal(first.topic, 't')
    assert.equal(first.partition, 0)
    assert.deepEqual(first.headers, {})
    assert.ok(Math.abs(Date.parse(first.timestamp) - Date.now()) < 60_000, first.timestamp)
    assert.equal(new Date(first.timestamp).toISOString(), first.timestamp)
  })

  test('without --key-field records have no key; any JSON value is accepted; --file reads a file', async () => {
    const dir = await withTopic(1)
    const file = join(dir, 'input.ndjson')
    writeFileSync(file, '"text"\n42\n[1,2]\nnull\r\n{"a":{"b":true}}\n')
    await ok(dir, ['produce', 't', '--file', file])
    const out = lines((await ok(dir, ['consume', 't'])).stdout)
    assert.deepEqual(
      out.map((r) => [r.key, r.value]),
      [
        [null, 'text'],
        [null, 42],
        [null, [1, 2]],
        [null, null],
        [null, { a: { b: true } }],
      ],
    )
    const missing = await sluice(dir, ['produce', 't', '--file', join(dir, 'nope.ndjson')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /cannot read --file .*nope\.ndjson: no such file/)
  })

  test('--key-field puts records with the same key on the same partition', async () => {
    const dir = await withTopic(4)
    const users = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus', 'hal']
    const events = Array.from({ length: 80 }, (_, i) => ({ user: users[i % users.length], i }))
    await ok(dir, ['produce', 't', '--key-field', 'user'], ndjson(events))
    const out = lines((await ok(dir, ['consume', 't'])).stdout)
    assert.equal(out.length, 80)
    const partitionOf = new Map<string, Set<number>>()
    for (const r of out) {
      assert.equal(r.key, (r.value as { user: string }).user)
      const seen = partitionOf.get(r.key!) ?? new Set()
      seen.add(r.partition)
      partitionOf.set(r.key!, seen)
    }
    for (const [key, partitions] of partitionOf) {
      assert.deepEqual([...partitions], [partitionForKey(Buffer.from(key), 4)], `key ${key}`)
    }
    assert.ok(new Set(out.map((r) => r.partition)).size > 1, 'keys spread over partitions')
    // Within a partition, one user's events keep their order.
    for (const user of users) {
      const is = out.filter((r) => r.key === user).map((r) => (r.value as { i: number }).i)
      assert.deepEqual(
        is,
        [...is].sort((a, b) => a - b),
      )
    }
  })

  test('a malformed line fails the whole input: line number reported, nothing written', async () => {
    const dir = await withTopic(2)
    const input = `${ndjson([{ user: 'a' }, { user: 'b' }])}{"user": "c",\n${ndjson([{ nouser: 1 }, { user: 'e' }])}`
    const result = await sluice(dir, ['produce', 't', '--key-field', 'user'], input)
    assert.equal(result.code, 1)
    assert.match(result.stderr, /sluice: error: line 3: not valid JSON/)
    assert.match(result.stderr, /sluice: error: line 4: has no field "user"/)
    assert.match(result.stderr, /2 of 5 lines are invalid; nothing was written/)
    const out = await ok(dir, ['consume', 't', '--from-beginning'])
    assert.equal(out.stdout, '')
    const described = JSON.parse((await ok(dir, ['topics', 'describe', 't', '--json'])).stdout)
    assert.deepEqual(
      described.partitionDetails.map((p: { endOffset: number }) => p.endOffset),
      [0, 0],
    )
  })

  test('--skip-invalid writes the valid lines and reports how many were skipped', async () => {
    const dir = await withTopic(1)
    const input = `{"n":1}\nnot json\n{"n":2}\n{"n":\n{"n":3}\n`
    const result = await ok(dir, ['produce', 't', '--skip-invalid'], input)
    assert.match(
      result.stderr,
      /^produced 3 records .*; skipped 2 invalid lines \(first: line 2: not valid JSON/,
    )
    assert.equal(result.stderr.trim().split('\n').length, 1)
    const out = lines((await ok(dir, ['consume', 't'])).stdout)
    assert.deepEqual(
      out.map((r) => r.value),
      [{ n: 1 }, { n: 2 }, { n: 3 }],
    )
  })

  test('unknown topic: produce and consume fail with the advice to create it', async () => {
    const dir = await withTopic(1)
    for (const args of [
      ['produce', 'nope'],
      ['consume', 'nope'],
    ]) {
      const result = await sluice(dir, args, '{}\n')
      assert.equal(result.code, 1, args.join(' '))
      assert.equal(result.stdout, '')
      assert.equal(
        result.stderr,
        'sluice: error: unknown topic "nope": create it first (sluice topics create nope --partitions N)\n',
      )
    }
  })

  test('consume --group resumes where the previous run stopped', async () => {
    const dir = await withTopic(2)
    await ok(dir, ['produce', 't'], ndjson([1, 2, 3, 4, 5, 6]))
    const first = lines((await ok(dir, ['consume', 't', '--group', 'g'])).stdout)
    assert.equal(first.length, 6)
    assert.deepEqual(lines((await ok(dir, ['consume', 't', '--group', 'g'])).stdout), [])

    await ok(dir, ['produce', 't'], ndjson([7, 8, 9]))
    const second = lines((await ok(dir, ['consume', 't', '--group', 'g'])).stdout)
    assert.deepEqual(second.map((r) => r.value).sort(), [7, 8, 9])

    // --max with a group commits only what was printed; the next run continues from there.
    const partial = lines((await ok(dir, ['consume', 't', '--group', 'h', '--max', '4'])).stdout)
    const rest = lines((await ok(dir, ['consume', 't', '--group', 'h'])).stdout)
    assert.equal(partial.length, 4)
    assert.deepEqual(
      [...partial, ...rest].map((r) => r.value).sort((a, b) => Number(a) - Number(b)),
      [1, 2, 3, 4, 5, 6, 7, 8, 9],
    )
    // Another group, and no group, still read everything.
    assert.equal(lines((await ok(dir, ['consume', 't', '--group', 'other'])).stdout).length, 9)
    assert.equal(lines((await ok(dir, ['consume', 't'])).stdout).length, 9)
  })

  test('--max, --from-offset and --partition', async () => {
    const dir = await withTopic(2)
    // Two keys that land on different partitions: 10 records each, interleaved.
    const keys = ['a', 'b', 'c', 'd', 'e', 'f']
    const mine = keys[0]!
    const p = partitionForKey(Buffer.from(mine), 2)
    const other = keys.find((k) => partitionForKey(Buffer.from(k), 2) !== p)!
    const input = ndjson(Array.from({ length: 20 }, (_, i) => ({ k: i % 2 === 0 ? mine : other, i })))
    await ok(dir, ['produce', 't', '--key-field', 'k'], input)

    const max = lines((await ok(dir, ['consume', 't', '--max', '3'])).stdout)
    assert.equal(max.length, 3)

    const fromOffset = lines(
      (await ok(dir, ['consume', 't', '--partition', String(p), '--from-offset', '7'])).stdout,
    )
    assert.deepEqual(
      fromOffset.map((r) => [r.partition, r.offset, r.key]),
      [7, 8, 9].map((o) => [p, o, mine]),
    )
    const both = lines((await ok(dir, ['consume', 't', '--from-offset', '8', '--max', '10'])).stdout)
    assert.ok(both.every((r) => r.offset >= 8))

    const badPartition = await sluice(dir, ['consume', 't', '--partition', '9'])
    assert.equal(badPartition.code, 1)
    assert.match(badPartition.stderr, /there is no partition 9/)
    const badMax = await sluice(dir, ['consume', 't', '--max', '0'])
    assert.equal(badMax.code, 2)
    assert.match(badMax.stderr, /--max must be a whole number ≥ 1, got "0"/)
  })

  test('--from-time starts at the first record at or after that time', async () => {
    const dir = await withTopic(2)
    await ok(dir, ['produce', 't'], ndjson([{ batch: 'old' }, { batch: 'old' }]))
    await new Promise((r) => setTimeout(r, 20))
    const cut = new Date().toISOString()
    await new Promise((r) => setTimeout(r, 5))
    await ok(dir, ['produce', 't'], ndjson([{ batch: 'new' }, { batch: 'new' }, { batch: 'new' }]))
    const out = lines((await ok(dir, ['consume', 't', '--from-time', cut])).stdout)
    assert.deepEqual(
      out.map((r) => (r.value as { batch: string }).batch),
      ['new', 'new', 'new'],
    )
    const bad = await sluice(dir, ['consume', 't', '--from-time', 'yesterday'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--from-time must be an ISO 8601 time/)
    const two = await sluice(dir, ['consume', 't', '--from-time', cut, '--from-beginning'])
    assert.equal(two.code, 2)
    assert.match(two.stderr, /use only one of --from-beginning, --from-time/)
  })

  test('--follow prints new records and exits 0 on SIGTERM; a closed stdout ends consume quietly', async () => {
    const dir = await withTopic(1)
    await ok(
      dir,
      ['produce', 't'],
      ndjson(Array.from({ length: 5000 }, (_, i) => ({ i, pad: 'x'.repeat(100) }))),
    )

    const follow = spawn(process.execPath, [MAIN, 'consume', 't', '--follow', '--data-dir', dir])
    let stderr = ''
    follow.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    let received = 0
    follow.stdout.setEncoding('utf8').on('data', (d: string) => {
      received += d.split('\n').length - 1
      if (received === 5000) follow.kill('SIGTERM')
    })
    const [code] = (await once(follow, 'close')) as [number | null]
    assert.equal(code, 0, stderr)
    assert.equal(stderr, '')

    // Like `sluice consume t | head -1`: the reader goes away after the first chunk.
    const head = spawn(process.execPath, [MAIN, 'consume', 't', '--data-dir', dir])
    let headErr = ''
    head.stderr.setEncoding('utf8').on('data', (d: string) => (headErr += d))
    head.stdout.once('data', () => head.stdout.destroy())
    const [headCode] = (await once(head, 'close')) as [number | null]
    assert.equal(headCode, 0, headErr)
    assert.equal(headErr, '')
  })
})

describe('sluice usage', { concurrency: true }, () => {
  test('--help of every command exits 0 with usage and an example', async () => {
    const dir = tempDir('sluice-cli-')
    const commands = [
      [],
      ['topics'],
      ['topics', 'create'],
      ['topics', 'list'],
      ['topics', 'describe'],
      ['topics', 'delete'],
      ['produce'],
      ['consume'],
      ['demo-log'],
    ]
    await Promise.all(
      commands.map(async (command) => {
        const result = await ok(dir, [...command, '--help'])
        assert.match(result.stdout, /^Usage: sluice/, command.join(' '))
        assert.match(result.stdout, /Example/, command.join(' '))
      }),
    )
    assert.match((await ok(dir, ['produce', '-h'])).stdout, /^Usage: sluice produce/)
    const top = await ok(dir, ['--help'])
    for (const name of ['topics', 'produce', 'consume', 'demo-log'])
      assert.match(top.stdout, new RegExp(`\\n  ${name} `))
  })

  test('a bad flag, a missing argument or an unknown command exits 2 and points at --help', async () => {
    const dir = tempDir('sluice-cli-')
    const cases: Array<[string[], RegExp]> = [
      [
        ['produce', 't', '--bogus'],
        /^sluice: error: unknown option '--bogus'\nrun "sluice produce --help" for usage\n$/,
      ],
      [['consume', 't', '--max'], /^sluice: error: --max needs a value\nrun "sluice consume --help"/],
      [['produce'], /^sluice: error: missing <topic>\n/],
      [['consume', 'a', 'b'], /^sluice: error: unexpected argument "b"\n/],
      [['produce', 't', '--durability', 'never'], /--durability must be sync or interval/],
      [['topics', 'rename', 'x'], /unknown command "topics rename"[^\n]*\nrun "sluice topics --help"/],
      [
        ['frobnicate'],
        /^sluice: error: unknown command "frobnicate"[^\n]*\nrun "sluice --help" for usage\n$/,
      ],
    ]
    for (const [args, expected] of cases) {
      const result = await sluice(dir, args)
      assert.equal(result.code, 2, args.join(' '))
      assert.match(result.stderr, expected)
      assert.equal(result.stdout, '')
    }
  })

  test('demo-log runs end to end and removes its data', async () => {
    const dir = tempDir('sluice-cli-')
    const result = await ok(dir, ['demo-log', '--records', '3000'])
    assert.match(result.stdout, /created topic "page-views" with 4 partitions/)
    assert.match(result.stdout, /append\s+3,000 events.*records\/s.*MB\/s/)
    assert.match(result.stdout, /read\s+3,000 events/)
    assert.match(result.stdout, /ok: every event read back once/)
    const list = await ok(dir, ['topics', 'list', '--json'])
    assert.equal(list.stdout, '[]\n', 'the demo ran in its own directory')
  })
})
