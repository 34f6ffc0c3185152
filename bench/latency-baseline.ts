/**
 * What one durable write costs on this machine right now, for the latency rows of
 * `bench:engine`: a record's output is visible only after at least one LMDB commit (and in
 * `sync` durability its fsync), so these are the floor the engine's latency stands on.
 *
 * - fsync: write 4 KiB to a file and fdatasync it, on the JS thread, about once a
 *   millisecond (the rate the latency runs commit at).
 * - LMDB commit: one lmdb-js write of 4 KiB about once a millisecond, opened as the embedded
 *   log opens its environment, timed from the put to its commit (and in `sync`, its flush):
 *   the writer thread, the commit, the fsync and the way back to the JS thread.
 */

import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { type Durability, openStorage } from '../src/log/embedded/storage.ts'

export interface Spread {
  samples: number
  p50: number
  p99: number
  p999: number
  max: number
}

const BYTES = 4096
const tick = () => new Promise<void>((r) => setTimeout(r, 1))

export async function fsyncBaseline(dir: string, seconds: number): Promise<Spread> {
  const file = join(dir, 'fsync-baseline')
  const fd = openSync(file, 'w')
  const block = Buffer.alloc(BYTES, 0x5a)
  const times: number[] = []
  try {
    const end = performance.now() + seconds * 1000
    for (let pos = 0; performance.now() < end; pos += BYTES) {
      const t0 = performance.now()
      writeSync(fd, block, 0, BYTES, pos)
      fdatasyncSync(fd)
      times.push(performance.now() - t0)
      await tick()
    }
  } finally {
    closeSync(fd)
    rmSync(file, { force: true })
  }
  return spread(times)
}

export async function lmdbBaseline(dir: string, durability: Durability, seconds: number): Promise<Spread> {
  const dataDir = join(dir, 'lmdb-baseline')
  const { env, batches } = openStorage({ dataDir, durability })
  const value = Buffer.alloc(BYTES, 0x5a)
  const times: number[] = []
  const pending: Promise<unknown>[] = []
  try {
    const end = performance.now() + seconds * 1000
    for (let i = 0; performance.now() < end; i++) {
      const key = Buffer.alloc(8)
      key.writeUInt32BE(i, 4)
      const t0 = performance.now()
      const written = batches.put(key, value)
      const flushed = durability === 'sync' ? new Promise((res, rej) => env.flushed.then(res, rej)) : null
      pending.push(Promise.all([written, flushed]).then(() => times.push(performance.now() - t0)))
      if (pending.length > 256) await Promise.all(pending.splice(0))
      await tick()
    }
    await Promise.all(pending)
  } finally {
    await env.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return spread(times)
}

function spread(times: number[]): Spread {
  const sorted = Float64Array.from(times).sort()
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  return {
    samples: sorted.length,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted[sorted.length - 1]!,
  }
}
