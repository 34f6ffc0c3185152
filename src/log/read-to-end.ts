/**
 * Reads a partition from `from` up to its end as of the call, batch by batch, through the `Log`
 * interface: how small internal topics (checkpoints, the worker directory, idempotency keys)
 * are loaded. Returns the offset to continue from next time.
 */
import type { Log, LogRecord, TopicPartition } from './types.ts'

export async function readToEnd(
  log: Log,
  tp: TopicPartition,
  from: number,
  onRecord: (record: LogRecord) => void,
): Promise<number> {
  const end = await log.resolveOffset(tp, 'latest')
  let offset = from
  while (offset < end) {
    const records = await log.fetch(tp, offset, { maxRecords: 10_000 })
    // Nothing more to read before the end (only transaction markers or aborted records left).
    if (records.length === 0) break
    for (const r of records) onRecord(r)
    offset = records.at(-1)!.offset + 1
  }
  return offset
}
