/** What connector tests share: reading a topic back whole, and waiting for a condition. */
import type { Log, LogRecord } from '../../src/log/types.ts'

/** Every record of every partition of `topic`, by partition then offset ([] when it does not exist). */
export async function readTopic(log: Log, topic: string): Promise<LogRecord[]> {
  if (!(await log.hasTopic(topic))) return []
  const out: LogRecord[] = []
  for (const { partition } of (await log.describeTopic(topic)).partitionDetails) {
    const tp = { topic, partition }
    let offset = await log.resolveOffset(tp, 'earliest')
    const end = await log.resolveOffset(tp, 'latest')
    while (offset < end) {
      const records = await log.fetch(tp, offset)
      if (records.length === 0) break
      out.push(...records)
      offset = records.at(-1)!.offset + 1
    }
  }
  return out
}

/** The JSON values of `topic`, in log order. */
export async function readValues(log: Log, topic: string): Promise<unknown[]> {
  return (await readTopic(log, topic)).map((r) => JSON.parse(Buffer.from(r.value!).toString()))
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
