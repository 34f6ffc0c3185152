/**
 * Benchmark of the embedded log (not a test): append and read throughput, measured in one
 * run against the physical baseline of raw sequential file I/O on the same disk.
 *
 *   npm run bench:log                       # table on stdout, progress on stderr
 *   npm run bench:log -- --records 1000000  # a quicker run
 *   npm run bench:log -- --json             # machine-readable results on stdout
 *   npm run bench:log -- --write-docs       # also (re)writes the log section of docs/benchmarks.md
 *
 * For each record size (100 B and 1 KiB values, no key, no headers) and each durability
 * (`sync`, and `interval` with the default 100 ms sync interval), on a fresh data directory
 * and a topic with ONE partition (so the append path is the single-threaded one):
 *
 * - append: one producer with default settings (linger 1 ms, 256 KiB batches) gets chunks
 *   of `--chunk` records (default 10,000) with up to `--inflight` sends outstanding (default
 *   4). That is what an ingesting producer does: keep the pipe full and block only when too
 *   much is unacknowledged (like Kafka's max.in.flight). The records are built before the
 *   clock starts: a pool of 32 chunks, cycled, so the heap holds about what a real producer
 *   holds (the records in flight), not all N. The clock stops at the last acknowledgement
 *   (`sync`: after the fsync; `interval`: at commit). CPU is process.cpuUsage() (all threads:
 *   JS, GC helpers, LMDB's writer), so "per CPU-second" is what one fully busy core gives;
 *   "JS thread" is the main thread alone, the one the append path is bound to.
 * - read: `log.read(tp, offset, { maxRecords: 10,000 })` from offset 0 to the end, touching
 *   each value. The page cache is warm (the data was just written), as for the raw read.
 * - baseline: the batches the log stored, read back out of LMDB (the very same bytes, in the
 *   same chunk sizes), written sequentially to a plain file with writeSync. Fsync cadence:
 *   `sync`: one fdatasync per LMDB write transaction the log committed (LMDB's transaction
 *   id delta over the append; one transaction holds every batch staged while the previous
 *   one was being written: group commit), the batches spread evenly over them, each waited
 *   for. `interval`: an fdatasync every 100 ms on a libuv thread, not waited for (as the
 *   log's timer does). Then the file is read back with readSync in the same chunk sizes.
 *   log / raw = raw time ÷ log time for the same bytes.
 * - prefault: before each timed phase, a scratch file as large as the memory the phase will
 *   touch is written and deleted (see prefault()). Off with --no-prefault.
 */

import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs'
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Durability, EmbeddedLog, Producer, ProducerRecord } from '../src/log/index.ts'
import { openEmbeddedLog } from '../src/log/index.ts'
import { positiveInt, writeDoc } from './common.ts'

const TOPIC = 'bench'
const TP = { topic: TOPIC, partition: 0 }
const READ_MAX_RECORDS = 10_000
const INTERVAL_SYNC_MS = 100
const POOL_CHUNKS = 32
const DOCS_HEADING = '## Embedded log (`npm run bench:log`)'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string' },
    'records-1k': { type: 'string' },
    sizes: { type: 'string', default: '100,1024' },
    modes: { type: 'string', default: 'sync,interval' },
    chunk: { type: 'string', default: '10000' },
    inflight: { type: 'string', default: '4' },
    dir: { type: 'string' },
    json: { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
    'no-prefault': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (args.help) {
  process.stdout.write(`npm run bench:log -- [options]
  --records N       records in the 100-byte cases (default 4,000,000)
  --records-1k N    records in the 1 KiB cases (default: --records / 4)
  --sizes A,B       value sizes in bytes (default 100,1024)
  --modes M,N       durabilities (default sync,interval)
  --chunk N         records per producer.send (default 10,000)
  --inflight N      sends outstanding at once (default 4)
  --dir PATH        where the data directories go (default: the OS temp dir; must be a real disk)
  --json            print the results as JSON instead of the tables
  --write-docs      (re)write the embedded-log section of docs/benchmarks.md
  --no-warmup       skip the JIT warm-up run
  --no-prefault     do not pre-touch memory before each timed phase
`)
  process.exit(0)
}

const records100 = positiveInt('records', args.records, 4_000_000)
const records1k = positiveInt('records-1k', args['records-1k'], Math.max(1, Math.round(records100 / 4)))
const sizes = args.sizes.split(',').map((s) => positiveInt('sizes', s, 100))
const modes = args.modes.split(',').map((m) => {
  if (m !== 'sync' && m !== 'interval') {
    process.stderr.write(`--modes takes sync and/or interval, got ${m}\n`)
    process.exit(2)
  }
  return m as Durability
})
const chunk = positiveInt('chunk', args.chunk, 10_000)
const inflight = positiveInt('inflight', args.inflight, 4)
const baseDir = resolve(args.dir ?? tmpdir())
const prefaultOn = !args['no-prefault']

// ---------------------------------------------------------------- measuring

interface Span {
  seconds: number
  /** All threads of the process. */
  cpuSeconds: number
  /** The main (JS) thread alone. */
  jsThreadSeconds: number
}

async function measure(fn: () => unknown): Promise<Span> {
  const cpu0 = process.cpuUsage()
  const thread0 = process.threadCpuUsage()
  const t0 = process.hrtime.bigint()
  await fn()
  const t1 = process.hrtime.bigint()
  const thread = process.threadCpuUsage(thread0)
  const cpu = process.cpuUsage(cpu0)
  return {
    seconds: Number(t1 - t0) / 1e9,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    jsThreadSeconds: (thread.user + thread.system) / 1e6,
  }
}

interface Throughput {
  recordsPerSec: number
  /** Record values, 10^6 bytes per second. */
  payloadMBps: number
  recordsPerCpuSec: number
}

interface CaseResult {
  valueBytes: number
  durability: Durability
  records: number
  /** Value bytes: what the producer handed over. */
  payloadBytes: number
  /** Bytes of the stored batches (payload + 22 B per record + 48 B per batch). */
  storedBytes: number
  batches: number
  /** LMDB write transactions during the append. */
  commits: number
  append: Span & Throughput
  read: Span & Throughput
  rawWrite: Span & { fsyncs: number; MBps: number }
  rawRead: Span & { MBps: number }
  /** Log append throughput as a fraction of the raw write of the same bytes. */
  appendVsRaw: number
  readVsRaw: number
}

let progressLabel = ''
const tty = process.stderr.isTTY === true
function progress(text: string, final = false): void {
  const line = `[bench:log] ${progressLabel}${text}`
  if (tty) process.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`)
  else if (final) process.stderr.write(`${line}\n`)
}

/** The input, built before any clock starts: a pool of chunks of distinct records. */
function buildPool(count: number, size: number): ProducerRecord[][] {
  const poolRecords = Math.min(count, POOL_CHUNKS * chunk)
  const payload = Buffer.allocUnsafe(poolRecords * size)
  // Cheap non-constant bytes (CRC-32 and copies cost the same for any content).
  let x = 0x9e3779b9
  for (let i = 0; i + 4 <= payload.length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    payload.writeInt32LE(x | 0, i)
  }
  const chunks: ProducerRecord[][] = []
  for (let start = 0; start < poolRecords; start += chunk) {
    const end = Math.min(poolRecords, start + chunk)
    const records = new Array<ProducerRecord>(end - start)
    for (let i = start; i < end; i++)
      records[i - start] = { value: payload.subarray(i * size, (i + 1) * size) }
    chunks.push(records)
  }
  return chunks
}

/** Sends `total` records, cycling through the pool, with up to `inflight` sends outstanding. */
async function appendAll(producer: Producer, pool: ProducerRecord[][], total: number): Promise<void> {
  const window: Array<{ sent: Promise<unknown>; count: number }> = []
  let queued = 0
  let acked = 0
  let ticks = 0
  for (let k = 0; queued < total; k++) {
    const full = pool[k % pool.length]!
    const records = total - queued >= full.length ? full : full.slice(0, total - queued)
    if (window.length >= inflight) {
      const oldest = window.shift()!
      await oldest.sent
      acked += oldest.count
      if (++ticks % 20 === 0) progress(`append ${Math.round((acked / total) * 100)}%`)
    }
    window.push({ sent: producer.send(TOPIC, records), count: records.length })
    queued += records.length
  }
  await Promise.all(window.map((w) => w.sent))
  await producer.flush()
}

function readAll(log: EmbeddedLog, expected: number): { records: number; bytes: number } {
  let offset = 0
  let bytes = 0
  let sum = 0
  let calls = 0
  for (;;) {
    const batch = log.read(TP, offset, { maxRecords: READ_MAX_RECORDS })
    if (batch.length === 0) break
    for (const r of batch) {
      const v = r.value!
      bytes += v.length
      sum += v[0]!
    }
    offset = batch[batch.length - 1]!.offset + 1
    if (++calls % 40 === 0) progress(`read ${Math.round((offset / expected) * 100)}%`)
  }
  if (sum < 0) throw new Error('unreachable')
  return { records: offset, bytes }
}

function lastTxnId(log: EmbeddedLog): number {
  return (log.storage.env.getStats() as { lastTxnId: number }).lastTxnId
}

/** The stored batches, copied out of LMDB: the baseline writes exactly these bytes. */
function storedBatches(log: EmbeddedLog): { data: Buffer; sizes: number[] } {
  const sizes: number[] = []
  const parts: Buffer[] = []
  for (const { value } of log.storage.batches.getRange()) {
    sizes.push(value.length)
    parts.push(Buffer.from(value))
  }
  return { data: Buffer.concat(parts), sizes }
}

async function rawWrite(
  file: string,
  data: Buffer,
  sizes: number[],
  durability: Durability,
  commits: number,
): Promise<{ fsyncs: number; lastSync: Promise<void> }> {
  const fd = openSync(file, 'w')
  let fsyncs = 0
  let syncing: Promise<void> | null = null
  try {
    let pos = 0
    let lastSync = performance.now()
    const n = sizes.length
    for (let i = 0; i < n; i++) {
      const size = sizes[i]!
      let written = 0
      while (written < size) written += writeSync(fd, data, pos + written, size - written)
      pos += size
      if (durability === 'sync') {
        // The batches spread evenly over as many waited-for fdatasyncs as the log made commits.
        if (Math.floor(((i + 1) * commits) / n) > Math.floor((i * commits) / n)) {
          fdatasyncSync(fd)
          fsyncs++
        }
        continue
      }
      // Like the log's timer: an fdatasync on another thread every 100 ms, not waited for.
      if (!syncing && performance.now() - lastSync >= INTERVAL_SYNC_MS) {
        lastSync = performance.now()
        fsyncs++
        syncing = new Promise<void>((done, fail) =>
          fdatasync(fd, (error) => {
            syncing = null
            if (error) fail(error)
            else done()
          }),
        )
      }
      // Let the event loop see that fdatasync finish.
      if (syncing) await new Promise<void>((r) => setImmediate(r))
    }
  } catch (error) {
    closeSync(fd)
    throw error
  }
  // The caller waits for the last fdatasync outside the timing, as the log's close() does.
  const last: Promise<void> = syncing ?? Promise.resolve()
  return { fsyncs, lastSync: last.finally(() => closeSync(fd)) }
}

function rawRead(file: string, sizes: number[]): number {
  const fd = openSync(file, 'r')
  const buf = Buffer.allocUnsafe(Math.max(...sizes))
  let total = 0
  try {
    for (const size of sizes) {
      let got = 0
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, null)
        if (n === 0) throw new Error(`${file} is shorter than expected`)
        got += n
      }
      total += got
    }
  } finally {
    closeSync(fd)
  }
  return total
}

/**
 * Writes `bytes` to a scratch file and deletes it, so the kernel's free lists hold that much
 * recently used memory. On a VM whose RAM the host backs lazily (and takes back when the guest
 * frees it: free page reporting, ballooning), the first touch of a guest page costs
 * microseconds; that caps page-cache writes at a few hundred MB/s and swamps what is measured,
 * hitting the log and the raw baseline alike but at random. On bare metal it only costs time.
 */
function prefault(dir: string, bytes: number): void {
  if (!prefaultOn) return
  const file = join(dir, 'prefault.bin')
  const block = Buffer.alloc(1024 * 1024, 0x5a)
  const fd = openSync(file, 'w')
  try {
    for (let done = 0; done < bytes; done += block.length) writeSync(fd, block)
  } finally {
    closeSync(fd)
    rmSync(file)
  }
}

async function runCase(
  valueBytes: number,
  durability: Durability,
  pool: ProducerRecord[][],
  count: number,
): Promise<CaseResult> {
  const dir = mkdtempSync(join(baseDir, 'sluice-bench-'))
  const estimatedStored = count * (valueBytes + 22)
  try {
    const log = await openEmbeddedLog({
      dataDir: join(dir, 'log'),
      durability,
      syncIntervalMs: INTERVAL_SYNC_MS,
      cleanupIntervalMs: 0,
    })
    let batches: { data: Buffer; sizes: number[] }
    let appendSpan: Span
    let readSpan: Span
    let commits: number
    let read = { records: 0, bytes: 0 }
    try {
      await log.createTopic(TOPIC, { partitions: 1 })
      const producer = log.producer()
      // The log's file pages, the batch buffers and the heap's growth.
      prefault(dir, 2 * estimatedStored + 256 * 1024 * 1024)
      const txn0 = lastTxnId(log)
      appendSpan = await measure(() => appendAll(producer, pool, count))
      commits = lastTxnId(log) - txn0
      await producer.close()
      progress('read')
      // The copies of the batches a read makes.
      prefault(dir, estimatedStored + 64 * 1024 * 1024)
      readSpan = await measure(() => {
        read = readAll(log, count)
      })
      if (read.records !== count) throw new Error(`read back ${read.records} records, appended ${count}`)
      batches = storedBatches(log)
    } finally {
      await log.close()
    }
    const file = join(dir, 'raw.bin')
    progress('raw write')
    prefault(dir, batches.data.length + 64 * 1024 * 1024)
    let fsyncs = 0
    let lastSync: Promise<void> = Promise.resolve()
    const rawWriteSpan = await measure(async () => {
      const w = await rawWrite(file, batches.data, batches.sizes, durability, commits)
      fsyncs = w.fsyncs
      lastSync = w.lastSync
    })
    await lastSync
    progress('raw read')
    const rawReadSpan = await measure(() => rawRead(file, batches.sizes))
    const storedBytes = batches.data.length
    const payloadBytes = count * valueBytes
    const mb = (bytes: number, s: Span) => bytes / 1e6 / s.seconds
    return {
      valueBytes,
      durability,
      records: count,
      payloadBytes,
      storedBytes,
      batches: batches.sizes.length,
      commits,
      append: {
        ...appendSpan,
        recordsPerSec: count / appendSpan.seconds,
        payloadMBps: mb(payloadBytes, appendSpan),
        recordsPerCpuSec: count / appendSpan.cpuSeconds,
      },
      read: {
        ...readSpan,
        recordsPerSec: count / readSpan.seconds,
        payloadMBps: mb(read.bytes, readSpan),
        recordsPerCpuSec: count / readSpan.cpuSeconds,
      },
      rawWrite: { ...rawWriteSpan, fsyncs, MBps: mb(storedBytes, rawWriteSpan) },
      rawRead: { ...rawReadSpan, MBps: mb(storedBytes, rawReadSpan) },
      appendVsRaw: rawWriteSpan.seconds / appendSpan.seconds,
      readVsRaw: rawReadSpan.seconds / readSpan.seconds,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- reporting

interface Machine {
  cpus: number
  cpuModel: string
  node: string
  memoryGiB: number
  fs: string
  /** 1-minute load average when the run started: other work skews every number. */
  loadAverage: number
}

function machine(): Machine {
  let cpuModel = 'unknown'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpuModel = m[1]!.trim()
  } catch {}
  return {
    cpus: availableParallelism(),
    cpuModel,
    node: process.version,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    fs: fsType(baseDir),
    loadAverage: loadavg()[0]!,
  }
}

function fsType(path: string): string {
  const known: Record<number, string> = {
    61267: 'ext4',
    1481003842: 'xfs',
    2435016766: 'btrfs',
    16914836: 'tmpfs',
    2035054128: 'overlayfs',
    801189825: 'zfs',
  }
  try {
    const type = statfsSync(path).type
    return known[type] ?? `0x${type.toString(16)}`
  } catch {
    return 'unknown'
  }
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')
const dec = (n: number, digits = 1) => n.toFixed(digits)
const pct = (n: number) => `${Math.round(n * 100)}%`
const sizeLabel = (bytes: number) => (bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`)

function table(head: string[], rows: string[][]): string {
  const right = head.map((_, i) => i >= 2)
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : `:${'-'.repeat(w - 1)}`)).join(' | ')} |`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

function tables(results: CaseResult[]): string {
  const append = table(
    [
      'record',
      'durability',
      'records',
      'append rec/s',
      'MB/s',
      'CPU s',
      'JS thread s',
      'rec/s per CPU-s',
      'commits',
      'raw write MB/s',
      'fsyncs',
      'log / raw',
    ],
    results.map((r) => [
      sizeLabel(r.valueBytes),
      r.durability,
      int(r.records),
      int(r.append.recordsPerSec),
      dec(r.append.payloadMBps),
      dec(r.append.cpuSeconds, 2),
      dec(r.append.jsThreadSeconds, 2),
      int(r.append.recordsPerCpuSec),
      int(r.commits),
      dec(r.rawWrite.MBps),
      int(r.rawWrite.fsyncs),
      pct(r.appendVsRaw),
    ]),
  )
  const read = table(
    ['record', 'durability', 'read rec/s', 'MB/s', 'CPU s', 'rec/s per CPU-s', 'raw read MB/s', 'log / raw'],
    results.map((r) => [
      sizeLabel(r.valueBytes),
      r.durability,
      int(r.read.recordsPerSec),
      dec(r.read.payloadMBps),
      dec(r.read.cpuSeconds, 2),
      int(r.read.recordsPerCpuSec),
      dec(r.rawRead.MBps),
      pct(r.readVsRaw),
    ]),
  )
  return `${append}\n\n${read}`
}

function notes(): string {
  return `- MB/s: 10^6 bytes of record values per second. \`raw write\` / \`raw read\` move the bytes of
  the batches the log stored (values + 22 B per record + 48 B per batch), in the same chunk
  sizes, to and from a plain file on the same disk; \`log / raw\` = raw time ÷ log time.
- Append: one producer (linger 1 ms, 256 KiB batches), a topic with one partition, chunks of
  ${int(chunk)} pre-built records per \`send\`, up to ${inflight} sends in flight; timed to the last acknowledgement
  (\`sync\`: after the fsync; \`interval\`: at commit, fsync every ${INTERVAL_SYNC_MS} ms). Raw write fsyncs:
  \`sync\`: one waited-for fdatasync per LMDB commit the log made (\`commits\`); \`interval\`: an
  fdatasync every ${INTERVAL_SYNC_MS} ms on another thread, not waited for.
- CPU s: process.cpuUsage() over the phase, all threads (JS, GC helpers, LMDB's writer);
  rec/s per CPU-s = records ÷ CPU s. JS thread s: the main thread alone.
- Read: \`log.read\` from offset 0 to the end, ${int(READ_MAX_RECORDS)} records per call, touching every value;
  warm page cache for both the log and the raw file (both were just written).
- Memory is pre-touched before each timed phase (on a VM with lazily backed RAM, first-touch
  page faults otherwise dominate and land at random); \`--no-prefault\` turns that off.`
}

/** The issue's targets, judged on the 100-byte `interval` case (one core, one partition). */
function targets(results: CaseResult[]): string {
  const r = results.find((x) => x.valueBytes === 100 && x.durability === 'interval')
  if (!r) return ''
  const met = (ok: boolean) => (ok ? 'met' : 'NOT met')
  return `Targets (100 B records, \`interval\`): append ≥ 1,000,000 rec/s: ${met(r.append.recordsPerSec >= 1e6)} (${int(r.append.recordsPerSec)}); read ≥ 2,000,000 rec/s: ${met(r.read.recordsPerSec >= 2e6)} (${int(r.read.recordsPerSec)}); append ≥ 30% of the raw write: ${met(r.appendVsRaw >= 0.3)} (${pct(r.appendVsRaw)}).`
}

function docsSection(results: CaseResult[], m: Machine, command: string): string {
  return `${DOCS_HEADING}

Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\` on ${m.cpus} CPUs (${m.cpuModel}),
${m.memoryGiB} GiB RAM, Node ${m.node}, data directory on ${m.fs}; 1-minute load average
${dec(m.loadAverage, 2)} at the start.

${tables(results)}

${targets(results)}

${notes()}
`
}

function writeDocs(section: string): string {
  const file = resolve(import.meta.dirname, '..', 'docs', 'benchmarks.md')
  let text: string
  if (existsSync(file)) {
    text = readFileSync(file, 'utf8')
  } else {
    mkdirSync(dirname(file), { recursive: true })
    text = `# Benchmarks

Throughput of Sluice's parts, each section measured on the machine it names and with the
command it shows. Absolute numbers from other machines are not comparable; the ratios to the
raw-disk baseline measured in the same run are the portable part.
`
  }
  const start = text.indexOf(DOCS_HEADING)
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section}`
  } else {
    const after = start + DOCS_HEADING.length
    const next = text.slice(after).search(/^## /m)
    const end = next < 0 ? text.length : after + next
    text = `${text.slice(0, start)}${section}${end < text.length ? `\n${text.slice(end)}` : ''}`
  }
  writeDoc(file, text)
  return file
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const m = machine()
  if (m.fs === 'tmpfs') {
    process.stderr.write(
      `[bench:log] warning: ${baseDir} is on tmpfs, so fsync is free; pass --dir on a real disk\n`,
    )
  }
  if (m.loadAverage > 0.5) {
    process.stderr.write(
      `[bench:log] warning: load average ${dec(m.loadAverage, 2)} on ${m.cpus} CPUs: other work will skew the numbers\n`,
    )
  }
  const started = performance.now()
  if (!args['no-warmup']) {
    progressLabel = 'warm-up: '
    progress('append + read')
    const n = Math.min(records100, 200_000)
    await runCase(100, 'interval', buildPool(n, 100), n)
  }
  const results: CaseResult[] = []
  for (const size of sizes) {
    const count = size <= 100 ? records100 : records1k
    progressLabel = `${sizeLabel(size)}: `
    progress('building records')
    const pool = buildPool(count, size)
    for (const durability of modes) {
      progressLabel = `${sizeLabel(size)} ${durability}: `
      progress('append')
      const r = await runCase(size, durability, pool, count)
      results.push(r)
      progress(
        `append ${int(r.append.recordsPerSec)} rec/s (${pct(r.appendVsRaw)} of raw), ` +
          `read ${int(r.read.recordsPerSec)} rec/s (${pct(r.readVsRaw)} of raw)`,
        true,
      )
    }
  }
  progressLabel = ''
  progress(`done in ${dec((performance.now() - started) / 1000)} s`, true)
  const argv = process.argv.slice(2)
  const command = `npm run bench:log${argv.length ? ` -- ${argv.join(' ')}` : ''}`
  if (args.json) {
    const out = { date: new Date().toISOString(), command, machine: m, results }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`)
  } else {
    process.stdout.write(
      `Embedded log: ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, ${m.fs} at ${baseDir}, ` +
        `load average ${dec(m.loadAverage, 2)}\n\n${tables(results)}\n\n${targets(results)}\n\n${notes()}\n`,
    )
  }
  if (args['write-docs']) {
    const file = writeDocs(docsSection(results, m, command))
    process.stderr.write(`[bench:log] wrote ${file}\n`)
  }
}

await main()
