/**
 * Crash conformance: a child process appends with several appends in flight and is killed
 * with SIGKILL, life after life, on the same store. Every append it acknowledged must be
 * stored, and every append stored must be whole (all its events, contiguous in one stream):
 * nothing half-written, no stream with a gap.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { RecordedEvent } from '../../src/eventstore/types.ts'
import { caughtUp, type EventStoreHarness, readEverything } from './event-store-helpers.ts'
import { openTarget, type StoreConfig } from './event-store-target.ts'

const CHILD = fileURLToPath(new URL('./event-store-crash-child.ts', import.meta.url))
const LIVES = 6
const READY_TIMEOUT_MS = 30_000

interface Life {
  ready: boolean
  signal: NodeJS.Signals | null
  code: number | null
  stderr: string
  /** Acknowledged appends: id → [event count, last position]. */
  acks: Map<string, [number, number]>
}

/** One life of the child: spawn, wait for "ready", let it append 100–400 ms, SIGKILL. */
function runLife(config: StoreConfig, round: number): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(config), String(round)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const life: Life = { ready: false, signal: null, code: null, stderr: '', acks: new Map() }
    let buffered = ''
    const kill = () => child.kill('SIGKILL')
    const timers = [setTimeout(kill, READY_TIMEOUT_MS)]
    child.stderr.on('data', (chunk: Buffer) => {
      life.stderr += chunk.toString()
    })
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      for (const line of lines) {
        if (line === 'ready' && !life.ready) {
          life.ready = true
          timers.push(setTimeout(kill, 100 + Math.floor(Math.random() * 300)))
        }
        const ack = /^ack (\S+) (\d+) (\d+)$/.exec(line)
        if (ack) life.acks.set(ack[1]!, [Number(ack[2]), Number(ack[3])])
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      life.code = code
      life.signal = signal
      resolve(life)
    })
  })
}

export function crashTests(harness: EventStoreHarness): void {
  test('kill -9 during appends: every acknowledged append is stored, and stored whole', async () => {
    const target = await harness.newTarget()
    try {
      const acked = new Map<string, [number, number]>()
      for (let round = 1; round <= LIVES; round++) {
        const life = await runLife(target.config, round)
        assert.ok(life.ready, `life ${round} never got ready: ${life.stderr}`)
        assert.equal(
          life.signal,
          'SIGKILL',
          `life ${round} ended by itself (code ${life.code}): ${life.stderr}`,
        )
        for (const [id, ack] of life.acks) acked.set(id, ack)
      }
      assert.ok(acked.size > LIVES, `the child acknowledged appends (${acked.size})`)
      const store = await openTarget(target.config)
      try {
        // On PostgreSQL the killed child's open transactions end when its backends notice.
        await caughtUp(store, Math.max(...[...acked.values()].map(([, last]) => last)))
        const all = await readEverything(store)
        const appends = new Map<string, RecordedEvent[]>()
        for (const e of all) {
          const { round, seq } = e.data as { round: number; seq: number }
          const id = `${round}-${seq}`
          appends.set(id, [...(appends.get(id) ?? []), e])
        }
        for (const [id, [k]] of acked) {
          assert.equal(appends.get(id)?.length, k, `acknowledged append ${id} is stored with its ${k} events`)
        }
        for (const [id, events] of appends) {
          const { k } = events[0]!.data as { k: number }
          assert.equal(events.length, k, `append ${id} is whole (${events.length} of ${k} events)`)
          assert.deepEqual(
            events.map((e) => [e.streamId, e.version, e.id]),
            events.map((_, i) => [events[0]!.streamId, events[0]!.version + i, `${id}.${i}`]),
            `append ${id} is contiguous in its stream`,
          )
        }
        for (const stream of ['crash-0', 'crash-1', 'crash-2']) {
          const events = await store.readStream(stream)
          assert.deepEqual(
            events.map((e) => e.version),
            events.map((_, i) => i + 1),
            `${stream} has no gap`,
          )
        }
        assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'no event twice')
      } finally {
        await store.close()
      }
    } finally {
      await target.cleanup()
    }
  })
}
