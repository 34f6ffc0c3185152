/**
 * Exactly-once of the PostgreSQL sink under kill -9. The topic `payments` (3 partitions,
 * 200,000 records) is produced here, then the log is closed and a child process
 * (fixtures/sink-child.ts) drains it into `kill_rows` — a table with NO unique key, so a
 * repeated batch would show up as duplicate rows. The child is SIGKILLed at random moments — a
 * random time after it starts, or once it has written a random number of records, whichever
 * comes first (so kills land mid-run however fast the sink drains) — at least 5 times while rows
 * are still missing, and restarted; a last life runs to the end.
 * The table must then hold every record exactly once, each row equal to its record.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { openEmbeddedLog } from '../../../src/log/index.ts'
import { tempDir } from '../../helpers/temp-dir.ts'
import { produce, testDatabase } from './pg-helpers.ts'

const CHILD = fileURLToPath(new URL('./fixtures/sink-child.ts', import.meta.url))
const RECORDS = 200_000
const PARTITIONS = 3
/** Kill rounds that must land while rows are still missing. */
const KILLS = 5
const say = (m: string) => process.stderr.write(`[pg-kill] ${m}\n`)

const children = new Set<ChildProcess>()
after(() => {
  for (const c of children) c.kill('SIGKILL')
})

const payment = (i: number) => ({ id: i, card: `card-${i % 1_013}`, amount: (i * 7_919) % 100_000 })

interface Life {
  code: number | null
  signal: NodeJS.Signals | null
  written: number
  done: boolean
  stderr: string
}

/**
 * One life of the child: killed `kill.ms` after `ready` or once it reports `kill.records`
 * written, or (null) left to finish.
 */
function life(dataDir: string, url: string, kill: { ms: number; records: number } | null): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, url, kill === null ? 'finish' : 'kill'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    const result: Life = { code: null, signal: null, written: 0, done: false, stderr: '' }
    const timers = [setTimeout(() => child.kill('SIGKILL'), 120_000)]
    child.stderr!.on('data', (chunk: Buffer) => {
      result.stderr += chunk.toString()
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'ready' && kill !== null) timers.push(setTimeout(() => child.kill('SIGKILL'), kill.ms))
      else if (line.startsWith('progress ')) {
        result.written = Number(line.slice(9))
        if (kill !== null && result.written >= kill.records) child.kill('SIGKILL')
      } else if (line === 'done') result.done = true
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      children.delete(child)
      for (const t of timers) clearTimeout(t)
      result.code = code
      result.signal = signal
      resolve(result)
    })
  })
}

test('kill -9 during a run: every record is in the table exactly once', async () => {
  const db = await testDatabase()
  await db.query(
    'CREATE TABLE kill_rows (part int NOT NULL, off bigint NOT NULL, id int, card text, amount int)',
  )
  const dataDir = tempDir('sluice-pg-kill-')
  const log = await openEmbeddedLog({ dataDir, cleanupIntervalMs: 0 })
  await log.createTopic('payments', { partitions: PARTITIONS })
  const values = Array.from({ length: RECORDS }, (_, i) => payment(i))
  await produce(log, 'payments', values, (_v, i) => i % PARTITIONS)
  await log.close() // one process at a time may hold the data dir

  const count = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM kill_rows'))[0]!.n
  let killsMidRun = 0
  for (let round = 0; killsMidRun < KILLS; round++) {
    assert.ok(round < 30, `fewer than ${KILLS} kills landed while rows were missing, in 30 rounds`)
    const kill = {
      ms: 100 + Math.floor(Math.random() * 700),
      records: 500 + Math.floor(Math.random() * 25_000),
    }
    const before = await count()
    const l = await life(dataDir, db.url, kill)
    assert.equal(l.signal, 'SIGKILL', `life ${round} should have been killed:\n${l.stderr}`)
    const rows = await count()
    if (rows < RECORDS) killsMidRun++
    say(
      `life ${round}: killed ${kill.ms} ms after ready or at ${kill.records} records; rows ${before} → ${rows}`,
    )
  }
  const last = await life(dataDir, db.url, null)
  assert.ok(
    last.done,
    `the last life should finish cleanly (code ${last.code}, signal ${last.signal}):\n${last.stderr}`,
  )
  say(`last life wrote ${last.written} records`)

  const duplicates = await db.query(
    'SELECT part, off, count(*)::int AS n FROM kill_rows GROUP BY part, off HAVING count(*) > 1 LIMIT 5',
  )
  assert.deepEqual(duplicates, [], 'no record written twice')
  const rows = await db.query<{ part: number; off: string; id: number; card: string; amount: number }>(
    'SELECT part, off, id, card, amount FROM kill_rows ORDER BY id',
  )
  assert.equal(rows.length, RECORDS)
  for (const [i, row] of rows.entries()) {
    // Record i went to partition i mod 3 at offset ⌊i / 3⌋.
    assert.deepEqual(
      { ...row, off: Number(row.off) },
      { part: i % PARTITIONS, off: Math.floor(i / PARTITIONS), ...payment(i) },
      `row for record ${i}`,
    )
  }
  const stored = await db.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM sluice_sink_offsets ORDER BY partition',
  )
  assert.deepEqual(
    stored.map((s) => [s.partition, Number(s.next_offset)]),
    Array.from({ length: PARTITIONS }, (_, p) => [p, Math.ceil((RECORDS - p) / PARTITIONS)]),
  )
})
