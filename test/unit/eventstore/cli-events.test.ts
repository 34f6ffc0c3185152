/**
 * `sluice events`, run as a child process the way users run it, on an embedded store in a
 * temp data dir: append (flags and NDJSON), read, tail (beside a writing process), state as of
 * a time or version, projections rebuild with progress, and the errors of each.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { openEmbeddedEventStore } from '../../../src/eventstore/embedded/embedded-event-store.ts'
import type { RecordedEvent } from '../../../src/eventstore/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const MAIN = new URL('../../../src/cli/main.ts', import.meta.url).pathname
const FIXTURE = new URL('./fixtures/cart.ts', import.meta.url).pathname

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `sluice events <args> --data-dir <dir>`; a command still running after 60 s is killed (and fails). */
function sluice(dir: string, args: string[], input = ''): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, 'events', ...args, '--data-dir', dir], {
      env: { ...process.env, SLUICE_EVENTS_POSTGRES: '' },
      timeout: 60_000,
      killSignal: 'SIGKILL',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

async function ok(dir: string, args: string[], input = ''): Promise<Result> {
  const result = await sluice(dir, args, input)
  assert.equal(result.code, 0, `sluice events ${args.join(' ')} failed:\n${result.stderr}`)
  return result
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as RecordedEvent)

describe('sluice events', () => {
  test('append with flags and NDJSON, read forward and backward', async () => {
    const dir = tempDir()
    const first = await ok(dir, [
      'append',
      'cart-1',
      '--type',
      'Opened',
      '--data',
      '{"owner":"ada"}',
      '--id',
      'open-1',
      '--expected-version',
      'noStream',
    ])
    assert.deepEqual(JSON.parse(first.stdout), {
      nextExpectedVersion: 1,
      firstPosition: 1,
      lastPosition: 1,
      duplicate: false,
    })
    const more = await ok(
      dir,
      ['append', 'cart-1', '--expected-version', '1'],
      '{"type":"ItemAdded","data":{"sku":"a"}}\n\n{"type":"ItemAdded","data":{"sku":"b"},"metadata":{"by":"cli"}}\n',
    )
    assert.equal(JSON.parse(more.stdout).nextExpectedVersion, 3)
    const retried = await ok(dir, [
      'append',
      'cart-1',
      '--type',
      'Opened',
      '--data',
      '{"owner":"ada"}',
      '--id',
      'open-1',
    ])
    assert.equal(JSON.parse(retried.stdout).duplicate, true, 'the same id again is a no-op')

    const events = lines((await ok(dir, ['read', 'cart-1'])).stdout)
    assert.deepEqual(
      events.map((e) => [e.version, e.type, e.data]),
      [
        [1, 'Opened', { owner: 'ada' }],
        [2, 'ItemAdded', { sku: 'a' }],
        [3, 'ItemAdded', { sku: 'b' }],
      ],
    )
    assert.deepEqual(events[2]!.metadata, { by: 'cli' })
    const last = lines((await ok(dir, ['read', 'cart-1', '--backward', '--max-count', '1'])).stdout)
    assert.deepEqual(
      last.map((e) => e.version),
      [3],
    )
    const middle = lines(
      (await ok(dir, ['read', 'cart-1', '--from-version', '2', '--to-version', '2'])).stdout,
    )
    assert.deepEqual(
      middle.map((e) => e.version),
      [2],
    )
  })

  test('errors: a conflict, bad JSON, an unknown stream, no store, bad flags; nothing half-written', async () => {
    const dir = tempDir()
    const none = await sluice(dir, ['read', 'cart-1'])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /there is no event store in .*events yet/)

    await ok(dir, ['append', 'cart-1', '--type', 'Opened'])
    const conflict = await sluice(dir, ['append', 'cart-1', '--type', 'X', '--expected-version', 'noStream'])
    assert.equal(conflict.code, 1)
    assert.match(
      conflict.stderr,
      /sluice: error: append to stream "cart-1" expected no stream .* is at version 1/,
    )

    const badLine = await sluice(dir, ['append', 'cart-1'], '{"type":"A","data":1}\n{"type":"B",\n')
    assert.equal(badLine.code, 1)
    assert.match(badLine.stderr, /stdin line 2 is not JSON; nothing was appended/)
    const badEvent = await sluice(dir, ['append', 'cart-1'], '{"type":"A","data":1}\n{"data":2}\n')
    assert.match(badEvent.stderr, /stdin line 2 is not an event/)
    const empty = await sluice(dir, ['append', 'cart-1'], '\n')
    assert.match(empty.stderr, /no events on stdin/)
    assert.equal(
      lines((await ok(dir, ['read', 'cart-1'])).stdout).length,
      1,
      'no refused append wrote anything',
    )

    const badData = await sluice(dir, ['append', 'cart-1', '--type', 'X', '--data', '{nope'])
    assert.equal(badData.code, 2)
    assert.match(badData.stderr, /--data must be JSON/)
    assert.match(badData.stderr, /run "sluice events append --help" for usage/)
    const badVersion = await sluice(dir, ['append', 'cart-1', '--type', 'X', '--expected-version', 'soon'])
    assert.equal(badVersion.code, 2)
    const unknown = await sluice(dir, ['read', 'cart-9'])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /stream "cart-9" does not exist/)
    const wrong = await sluice(dir, ['frobnicate'])
    assert.equal(wrong.code, 2)
    assert.match(wrong.stderr, /unknown command "events frobnicate"/)
  })

  test('--help of every command shows usage and an example', async () => {
    const dir = tempDir()
    for (const args of [
      ['--help'],
      ['append', '--help'],
      ['read', '--help'],
      ['tail', '--help'],
      ['state', '--help'],
      ['projections', 'rebuild', '--help'],
      ['migrate', '--help'],
    ]) {
      const { stdout } = await ok(dir, args)
      assert.match(stdout, /^Usage: sluice events/)
      assert.match(stdout, /Example:\n {2}sluice events/)
    }
  })

  test('tail follows the global order beside a process that appends', async () => {
    const dir = tempDir()
    await ok(dir, ['append', 'a', '--type', 'Old'])
    const fromStart = lines((await ok(dir, ['tail', '--from-beginning', '--count', '1'])).stdout)
    assert.deepEqual(
      fromStart.map((e) => e.type),
      ['Old'],
    )
    // A live tail (read-only) while this process holds the store open for writing. It starts
    // after position 1, not at the end: the appends may come before the child has started.
    const tail = sluice(dir, ['tail', '--after', '1', '--type', 'New', '--count', '2'])
    const store = await openEmbeddedEventStore({ dataDir: dir })
    try {
      await new Promise((resolve) => setTimeout(resolve, 500))
      await store.append('b', [{ type: 'Skipped', data: 1 }])
      await store.append('b', [{ type: 'New', data: 2 }])
      await store.append('c', [{ type: 'New', data: 3 }])
      const result = await tail
      assert.equal(result.code, 0, result.stderr)
      assert.deepEqual(
        lines(result.stdout).map((e) => [e.streamId, e.data]),
        [
          ['b', 2],
          ['c', 3],
        ],
      )
    } finally {
      await store.close()
    }
  })

  test('state as of a time or a version, folded by an aggregate module or as events', async () => {
    const dir = tempDir()
    await ok(dir, ['append', 'cart-1', '--type', 'Opened', '--data', '{"owner":"ada"}'])
    await ok(dir, ['append', 'cart-1', '--type', 'ItemAdded', '--data', '{"sku":"a"}'])
    await new Promise((resolve) => setTimeout(resolve, 20))
    await ok(dir, ['append', 'cart-1', '--type', 'ItemAdded', '--data', '{"sku":"b"}'])
    const events = lines((await ok(dir, ['read', 'cart-1'])).stdout)
    const t = new Date(events[1]!.timestamp).toISOString()

    const folded = JSON.parse(
      (await ok(dir, ['state', 'cart-1', '--as-of', t, '--aggregate', `${FIXTURE}#cart`])).stdout,
    )
    assert.deepEqual(folded, { stream: 'cart-1', version: 2, asOf: t, state: { owner: 'ada', items: ['a'] } })
    const latest = JSON.parse((await ok(dir, ['state', 'cart-1', '--aggregate', FIXTURE])).stdout)
    assert.deepEqual(latest.state, { owner: 'ada', items: ['a', 'b'] }, 'the only aggregate export is picked')
    const byVersion = JSON.parse((await ok(dir, ['state', 'cart-1', '--as-of-version', '1'])).stdout)
    assert.equal(byVersion.version, 1)
    assert.deepEqual(
      byVersion.events.map((e: RecordedEvent) => e.type),
      ['Opened'],
    )

    const unknown = await sluice(dir, ['state', 'cart-2', '--as-of', t])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /stream "cart-2" does not exist/)
    const badTime = await sluice(dir, ['state', 'cart-1', '--as-of', 'yesterday'])
    assert.equal(badTime.code, 2)
    assert.match(badTime.stderr, /--as-of must be an ISO 8601 time/)
    const noExport = await sluice(dir, ['state', 'cart-1', '--aggregate', `${FIXTURE}#nothing`])
    assert.equal(noExport.code, 2)
    assert.match(noExport.stderr, /has no export "nothing" that is an aggregate/)
  })

  test('projections rebuild replays from position 0 with progress and ends equal to the events', async () => {
    const dir = tempDir()
    const input = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify({ type: 'ItemAdded', data: { sku: `s${i}` } }),
    )
    await ok(dir, ['append', 'cart-1'], `${input.slice(0, 700).join('\n')}\n`)
    await ok(dir, ['append', 'cart-2'], `${input.slice(700).join('\n')}\n`)
    const store = await openEmbeddedEventStore({ dataDir: join(dir) })
    try {
      // A stale document from an earlier run must be gone after the rebuild.
      await store.projections().commit('item-counts', 0, 1, (tx) => tx.put('cart-9', 99))
    } finally {
      await store.close()
    }
    const result = await ok(dir, [
      'projections',
      'rebuild',
      'item-counts',
      '--module',
      FIXTURE,
      '--batch-size',
      '100',
    ])
    assert.deepEqual(JSON.parse(result.stdout), { projection: 'item-counts', events: 1200, position: 1200 })
    assert.match(result.stderr, /rebuilding item-counts \[#+-*\] +\d+%/)
    assert.match(result.stderr, /\[#{30}\] 100% {2}1,200 events {2}position 1,200\/1,200/)
    assert.match(result.stderr, /rebuilt projection "item-counts": 1,200 events up to position 1,200/)
    const after = await openEmbeddedEventStore({ dataDir: dir })
    try {
      assert.deepEqual(
        await after.projections().entries('item-counts'),
        new Map([
          ['cart-1', 700],
          ['cart-2', 500],
        ]),
      )
    } finally {
      await after.close()
    }
    const missing = await sluice(dir, ['projections', 'rebuild', 'nope', '--module', FIXTURE])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /exports nothing that is a projection named "nope"/)
  })
})
