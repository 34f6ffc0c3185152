/**
 * Where an event's end-to-end latency goes, for `bench:engine -- --breakdown`. It wraps
 * methods of the log and runner instances of one latency run (nothing in src/ changes) and
 * records when the producer appends each input batch, when that batch is queued to LMDB and
 * visible (high watermark moved), when the runner reads it and starts the commit holding its
 * outputs, when that commit is queued and visible, and when the reader has the output. Each
 * measured output's latency is split into the segments between those moments.
 */

import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import type { EmbeddedLog, StagedCommit } from '../src/log/embedded/embedded-log.ts'
import type { EmbeddedRunner } from '../src/runtime/runner.ts'

interface CommitTrace {
  /** Input offsets covered: an input append's [from, to); a runner commit's input offsets < to. */
  from: number
  to: number
  /** A runner commit: one past its last output offset (-1 without outputs). */
  outTo: number
  /** Input appends: when the producer's batch reached log.appendBatch (its linger ended). */
  append: number
  /** log.commit was called: the batch is queued to LMDB. */
  queued: number
  /** The commit's promise settled (in `sync` durability: after the fsync). */
  done: number
}

/** When a partition's high watermark moved, and to where. */
interface Visibility {
  hwm: number
  at: number
}

const now = () => performance.now()

/** Index of the first entry whose `key` is past `offset`; entries are in increasing order of it. */
function indexPast<T>(list: T[], key: (t: T) => number, offset: number): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (key(list[mid]!) > offset) hi = mid
    else lo = mid + 1
  }
  return lo
}

function firstPast<T>(list: T[], key: (t: T) => number, offset: number): T | undefined {
  return list[indexPast(list, key, offset)]
}

export class LatencyBreakdown {
  readonly #inputTopic: string
  readonly #outputTopic: string
  readonly #inputs: CommitTrace[] = []
  readonly #outputs: CommitTrace[] = []
  readonly #reads: Array<{ to: number; at: number }> = []
  readonly #inVisible: Visibility[] = []
  readonly #outVisible: Visibility[] = []
  /** Runner commit() entries (before it waits for a slot). */
  readonly #runnerCommits: number[] = []
  readonly #gc: Array<{ at: number; ms: number }> = []
  readonly #loop = monitorEventLoopDelay({ resolution: 1 })
  #gcObserver: PerformanceObserver | null = null

  constructor(inputTopic: string, outputTopic: string) {
    this.#inputTopic = inputTopic
    this.#outputTopic = outputTopic
  }

  /** Wraps this log instance's appendBatch, commit, read and its partitions' notify. */
  attach(log: EmbeddedLog): void {
    let lastAppend = 0
    const appendBatch = log.appendBatch.bind(log)
    log.appendBatch = (...a) => {
      lastAppend = now()
      return appendBatch(...a)
    }
    const commit = log.commit.bind(log)
    log.commit = (staged: StagedCommit, reserved?: number) => {
      const trace: CommitTrace = { from: -1, to: -1, outTo: -1, append: lastAppend, queued: now(), done: 0 }
      let list: CommitTrace[] | null = null
      for (const a of staged.appends) {
        if (a.part.topic.name === this.#inputTopic) {
          list = this.#inputs
          if (trace.from < 0) trace.from = a.baseOffset
          trace.to = a.baseOffset + a.count
        } else if (a.part.topic.name === this.#outputTopic) {
          trace.outTo = a.baseOffset + a.count
        }
      }
      for (const o of staged.offsets ?? []) {
        if (o.topic === this.#inputTopic) {
          list = this.#outputs
          trace.to = o.offset
        }
      }
      list?.push(trace)
      const p = commit(staged, reserved)
      p.then(
        () => (trace.done = now()),
        () => {},
      )
      return p
    }
    for (const [topic, list] of [
      [this.#inputTopic, this.#inVisible],
      [this.#outputTopic, this.#outVisible],
    ] as const) {
      const part = log.partition({ topic, partition: 0 })
      const notify = part.notify.bind(part)
      part.notify = () => {
        const last = list[list.length - 1]
        if (!last || part.highWatermark > last.hwm) list.push({ hwm: part.highWatermark, at: now() })
        notify()
      }
    }
    // The runner reads with readQueued; read for anything else.
    const traced = log as unknown as Record<'read' | 'readQueued', EmbeddedLog['read']>
    for (const method of ['read', 'readQueued'] as const) {
      const read = traced[method].bind(log)
      traced[method] = (tp, offset, options) => {
        const records = read(tp, offset, options)
        if (tp.topic === this.#inputTopic && records.length > 0) {
          const to = records[records.length - 1]!.offset + 1
          const last = this.#reads[this.#reads.length - 1]
          if (!last || to > last.to) this.#reads.push({ to, at: now() })
        }
        return records
      }
    }
  }

  attachRunner(runner: EmbeddedRunner): void {
    const commit = runner.commit.bind(runner)
    runner.commit = () => {
      this.#runnerCommits.push(now())
      return commit()
    }
  }

  start(): void {
    this.#loop.enable()
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#gc.push({ at: e.startTime, ms: e.duration })
    })
    this.#gcObserver.observe({ entryTypes: ['gc'] })
  }

  stop(): void {
    this.#loop.disable()
    this.#gcObserver?.disconnect()
  }

  /**
   * Splits each sample's latency (seq = input offset, sent, seen) into segments and prints
   * their percentiles, and their mean over the samples at or above the p99 (the tail).
   */
  report(samples: Array<{ seq: number; sent: number; seen: number }>, from: number): string {
    const names = [
      'send → producer appends the batch (linger)',
      'append → batch queued to LMDB',
      'queued → runner reads it',
      'read → runner commit() starts',
      'commit() → its transaction queued (waits for a slot)',
      'commit queued → output visible (LMDB commit, fsync)',
      'output visible → reader has it',
      'total',
    ]
    const segs: number[][] = names.map(() => [])
    const rows: number[][] = []
    const samplesByRow = new Map<number[], { sent: number }>()
    let sameTxn = 0
    const inQueuedToVisible: number[] = []
    for (const s of samples) {
      const inT = firstPast(this.#inputs, (t) => t.to, s.seq)
      const rd = firstPast(this.#reads, (r) => r.to, s.seq)
      const outT = firstPast(this.#outputs, (t) => t.to, s.seq)
      const inVis = firstPast(this.#inVisible, (v) => v.hwm, s.seq)
      if (!inT || !rd || !outT || !inVis) continue
      const outVis = firstPast(this.#outVisible, (v) => v.hwm, outT.outTo - 1)
      if (!outVis) continue
      // The runner commit() call that led to outT: the last one at or before it was queued.
      const rcAt =
        this.#runnerCommits[indexPast(this.#runnerCommits, (t) => t, outT.queued) - 1] ?? outT.queued
      const row = [
        inT.append - s.sent,
        inT.queued - inT.append,
        rd.at - inT.queued,
        rcAt - rd.at,
        outT.queued - rcAt,
        outVis.at - outT.queued,
        s.seen - outVis.at,
        s.seen - s.sent,
      ]
      rows.push(row)
      samplesByRow.set(row, s)
      for (let i = 0; i < row.length; i++) segs[i]!.push(row[i]!)
      inQueuedToVisible.push(inVis.at - inT.queued)
      if (Math.abs(outVis.at - inVis.at) < 0.05) sameTxn++
    }
    const total = sorted(segs[segs.length - 1]!)
    const p99 = pct(total, 0.99)
    const tail = rows.filter((r) => r[r.length - 1]! >= p99)
    const head = (label: string, last: string) =>
      `${label.padEnd(54)} ${'p50'.padStart(7)} ${'p90'.padStart(7)} ${'p99'.padStart(7)} ${'max'.padStart(7)} ${last.padStart(10)}`
    const line = (label: string, a: Float64Array, last: string) =>
      `${label.padEnd(54)} ${f(pct(a, 0.5))} ${f(pct(a, 0.9))} ${f(pct(a, 0.99))} ${f(a[a.length - 1] ?? Number.NaN)} ${last.padStart(10)}`
    const lines = [
      `latency breakdown, ms (${rows.length} samples; the tail: ${tail.length} samples ≥ the p99, ${p99.toFixed(2)} ms)`,
      head('segment', 'tail mean'),
    ]
    names.forEach((name, i) => {
      const tailMean = tail.reduce((a, r) => a + r[i]!, 0) / Math.max(1, tail.length)
      lines.push(line(name, sorted(segs[i]!), tailMean.toFixed(2)))
    })
    lines.push(line('(input batch queued → visible)', sorted(inQueuedToVisible), ''))
    lines.push(
      `outputs visible in the same LMDB commit as their input: ${((sameTxn / Math.max(1, rows.length)) * 100).toFixed(1)}%`,
    )
    const measured = (list: CommitTrace[]) => list.filter((c) => c.queued >= from && c.done > 0)
    const ins = measured(this.#inputs)
    const outs = measured(this.#outputs)
    lines.push(
      `commits: ${ins.length} input appends, ${outs.length} runner commits; queued → settled: input ${summary(sorted(ins.map((c) => c.done - c.queued)))}, runner ${summary(sorted(outs.map((c) => c.done - c.queued)))}`,
    )
    // GC pauses inside a tail sample's life: how much of the tail they explain.
    const pauses = this.#gc.filter((g) => g.at >= from - 100)
    let hit = 0
    let inside = 0
    for (const r of tail) {
      const seen = r[r.length - 1]!
      const s = samplesByRow.get(r)!
      let ms = 0
      for (const g of pauses) {
        const a = Math.max(g.at, s.sent)
        const b = Math.min(g.at + g.ms, s.sent + seen)
        if (b > a) ms += b - a
      }
      if (ms > 0) hit++
      inside += ms
    }
    lines.push(
      `tail samples a GC pause fell into: ${((hit / Math.max(1, tail.length)) * 100).toFixed(0)}%, ${(inside / Math.max(1, tail.length)).toFixed(2)} ms of GC per tail sample on average`,
    )
    const gcs = sorted(this.#gc.filter((g) => g.at >= from).map((g) => g.ms))
    lines.push(
      `GC: ${gcs.length} pauses, ${gcs.reduce((a, b) => a + b, 0).toFixed(1)} ms in all, ${summary(gcs)}`,
    )
    const h = this.#loop
    lines.push(
      `event-loop delay (1 ms timer): p50 ${(h.percentile(50) / 1e6).toFixed(2)}, p99 ${(h.percentile(99) / 1e6).toFixed(2)}, max ${(h.max / 1e6).toFixed(2)} ms`,
    )
    return lines.join('\n')
  }
}

function sorted(values: number[]): Float64Array {
  return Float64Array.from(values).sort()
}

function pct(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

function summary(a: Float64Array): string {
  return `p50 ${pct(a, 0.5).toFixed(2)} p99 ${pct(a, 0.99).toFixed(2)} max ${(a[a.length - 1] ?? Number.NaN).toFixed(2)} ms`
}

const f = (n: number) => n.toFixed(2).padStart(7)
