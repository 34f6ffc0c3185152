/**
 * Deduplication inside a task: ids seen, each with the event time it was first seen at, in
 * the step's store; a record whose id was seen at most `within` before it is dropped. An id
 * is forgotten once the watermark passes its time + within (no on-time record can repeat it
 * any more), found through an in-memory index sorted by expiry, rebuilt from the store.
 */

import { MinHeap } from '../util/heap.ts'
import type { ChainHost, Push } from './chain.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

export function dedupeStep(
  name: string,
  op: { id: ((value: unknown) => string | number) | undefined; within: number },
  host: ChainHost,
  next: Push,
  hooks: Array<() => void>,
): Push {
  const store: KeyValueStore<number> = host.store(`${host.pipeline}.${name}`)
  const expiries = new MinHeap<{ at: number; id: string }>((e) => e.at)
  for (const [id, t] of store.entries()) expiries.push({ at: t + op.within, id })
  hooks.push(() =>
    host.onWatermark((wm) => {
      for (const { id, at } of expiries.popBelow(wm)) {
        // The id may have been seen again since (a later first sighting after it expired).
        if ((store.get(id) ?? Number.NaN) + op.within === at) store.delete(id)
      }
    }),
  )
  return (r: StreamRecord) => {
    let id: string
    try {
      id = op.id ? String(op.id(r.value)) : (r.key ?? '')
    } catch (e) {
      throw new OperatorError(name, e)
    }
    const seen = store.get(id)
    if (seen !== undefined && r.timestamp - seen <= op.within && r.timestamp >= seen - op.within) return
    store.put(id, r.timestamp)
    expiries.push({ at: r.timestamp + op.within, id })
    next(r)
  }
}
