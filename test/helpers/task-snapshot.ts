/** A task's metrics snapshot with every figure at zero, for tests that set only the ones they check. */
import { Histogram } from '../../src/runtime/metrics/histogram.ts'
import type { TaskMetricsSnapshot } from '../../src/runtime/metrics/snapshot.ts'

export function taskSnapshot(
  id: string,
  partition: number,
  over: Partial<TaskMetricsSnapshot>,
): TaskMetricsSnapshot {
  return {
    id,
    subtopology: 0,
    partition,
    recordsIn: 0,
    recordsOut: 0,
    deadLetters: 0,
    busyMs: 0,
    blockedMs: 0,
    watermark: null,
    inputs: [],
    positions: [],
    windows: [],
    asyncInFlight: 0,
    lateDropped: 0,
    steps: [],
    stores: [],
    latency: new Histogram().data(),
    eventLatency: new Histogram().data(),
    ...over,
  }
}
