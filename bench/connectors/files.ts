/**
 * The files section of `bench:connectors`: records/s of `ndjsonFile` and `csvFile` reading a
 * file once into an embedded log (each batch of 1,000 appended with its checkpoint in one
 * fsynced transaction), and of `ndjsonFileSink` writing a topic out (each batch fsynced).
 * Run alone: `node bench/connectors/files.ts [--records N]`.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { csvFile, ndjsonFile, ndjsonFileSink } from '../../src/connectors/file/index.ts'
import { ConnectorRunner } from '../../src/connectors/runner.ts'
import type { Source } from '../../src/connectors/types.ts'
import { topic } from '../../src/dsl/topic.ts'
import { openEmbeddedLog } from '../../src/log/index.ts'
import { positiveInt } from '../common.ts'

export interface FilesBenchRow {
  connector: string
  records: number
  seconds: number
  recordsPerSecond: number
  megabytesPerSecond: number
}

export async function benchFiles(options: { records: number }): Promise<FilesBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-files-'))
  const log = await openEmbeddedLog({ dataDir: join(dir, 'log') })
  const rows: FilesBenchRow[] = []
  try {
    const n = options.records
    const order = (i: number) => ({
      id: `order-${i}`,
      customer: `customer-${i % 997}`,
      amount: 129.5,
      items: 3,
    })
    const ndjson = join(dir, 'orders.ndjson')
    writeFileSync(ndjson, Array.from({ length: n }, (_, i) => `${JSON.stringify(order(i))}\n`).join(''))
    const csv = join(dir, 'orders.csv')
    writeFileSync(
      csv,
      `id,customer,amount,items\n${Array.from({ length: n }, (_, i) => {
        const o = order(i)
        return `${o.id},"${o.customer}",${o.amount},${o.items}\n`
      }).join('')}`,
    )
    const sources: [string, string, Source<unknown>][] = [
      ['ndjsonFile (read once)', ndjson, ndjsonFile({ path: ndjson })],
      [
        'csvFile (read once, 2 typed columns)',
        csv,
        csvFile({ path: csv, types: { amount: 'number', items: 'number' } }),
      ],
    ]
    for (const [label, path, source] of sources) {
      const name = label.startsWith('csv') ? 'csv' : 'ndjson'
      const runner = new ConnectorRunner(log, [
        { kind: 'source', name, source, topic: topic(`${name}-orders`) },
      ])
      const started = performance.now()
      runner.start()
      await runner.whenDone()
      rows.push(row(label, runner.status()[0]!.records, performance.now() - started, fileSize(path)))
    }

    const out = join(dir, 'out')
    const sink = ndjsonFileSink({ dir: out, rollBytes: 64 * 1024 * 1024, batchSize: 1_000 })
    const runner = new ConnectorRunner(log, [
      { kind: 'sink', name: 'archive', topic: topic('ndjson-orders'), sink },
    ])
    const started = performance.now()
    runner.start()
    while (runner.status()[0]!.records < n) await new Promise((r) => setTimeout(r, 5))
    const elapsed = performance.now() - started
    await runner.stop()
    rows.push(row('ndjsonFileSink (batches of 1,000, fsync each)', n, elapsed, fileSize(ndjson)))
    return rows
  } finally {
    await log.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function row(connector: string, records: number, ms: number, bytes: number): FilesBenchRow {
  const seconds = ms / 1000
  return {
    connector,
    records,
    seconds,
    recordsPerSecond: Math.round(records / seconds),
    megabytesPerSecond: Math.round((bytes / 1e6 / seconds) * 10) / 10,
  }
}

function fileSize(path: string): number {
  return statSync(path).size
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--records')
  const records = positiveInt('records', at > 0 ? process.argv[at + 1] : undefined, 200_000)
  for (const r of await benchFiles({ records })) {
    console.log(
      `${r.connector}: ${r.records} records in ${r.seconds.toFixed(2)} s = ${r.recordsPerSecond} records/s (${r.megabytesPerSecond} MB/s of file)`,
    )
  }
}
