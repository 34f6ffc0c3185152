/**
 * Event patterns (CEP) inside a task, per key.
 *
 * Order: patterns are about sequences, so a key's events are matched in event-time order, not
 * arrival order. An event waits in the key's buffer until the watermark reaches its time, then
 * is fed to the matcher in (time, arrival) order — as Flink's CEP does. Results therefore do
 * not depend on how the input was interleaved, at the price of maxOutOfOrder of latency.
 * Events behind the watermark on arrival are late: dropped, and counted as the task's late records.
 *
 * Matching (per key, deterministic): each partial match ("run") is at a stage s with c events
 * taken there. An event
 * - is taken into stage s while c < max and it matches (quantifiers are greedy);
 * - else, once c ≥ min, moves the run to the next stage if it matches that one (optional
 *   stages are skipped over when the event does not match them);
 * - else is skipped, unless contiguity forbids it (`next`, or `consecutive` repetitions),
 *   which ends the run; an event matching a `notFollowedBy` guard of the stage the run waits
 *   for ends it too.
 * Every event matching the first stage also starts a new run. A run that fills its last stage
 * is a match; with a trailing notFollowedBy it waits instead, and is a match once `within`
 * has passed without a guard event. A run older than `within` is dropped. After a match,
 * runs that started at or before its last event are discarded (Flink's skip-past-last-event),
 * so one sequence raises one match; `skip: 'none'` keeps them (every overlapping match).
 *
 * State: per key `{ seq, runs, buf }` in the step's store (exactly-once like all state), and
 * an in-memory index of when each key next needs the watermark (buffered events, run
 * deadlines), rebuilt from the store when the task starts.
 */
import type { PatternSpec } from '../dsl/pattern.ts'
import { MinHeap } from '../util/heap.ts'
import type { ChainHost, Push } from './chain.ts'
import { OperatorError, type StreamRecord } from './record.ts'
import type { KeyValueStore } from './state.ts'

interface Run {
  /** Stage index (stages.length: past the last, waiting out a trailing notFollowedBy). */
  s: number
  /** Events taken in stage s. */
  c: number
  /** Sequence number and time of the run's first event. */
  q: number
  t0: number
  /** Taken events: [stage index, time, value]. */
  ev: Array<[number, number, unknown]>
  /** The current stage takes no more events (its consecutive repetitions were interrupted). */
  x?: boolean
}

interface KeyState {
  /** Events fed so far (their sequence numbers order runs for the skip strategy). */
  seq: number
  runs: Run[]
  /** Events waiting for the watermark, in arrival order. */
  buf: Array<{ t: number; v: unknown }>
}

export interface MatchOptions {
  skip: 'past-last-event' | 'none'
}

export function patternStep(
  name: string,
  spec: PatternSpec,
  options: MatchOptions,
  host: ChainHost,
  next: Push,
  hooks: Array<() => void>,
): Push {
  const { stages, within, trailingGuard } = spec
  const store: KeyValueStore<KeyState> = host.store(`${host.pipeline}.${name}`)
  // When each key next needs attention: entries may be stale (checked against the state).
  const due = new MinHeap<{ at: number; key: string }>((d) => d.at)
  const schedule = (key: string, state: KeyState) => {
    let at = Number.POSITIVE_INFINITY
    for (const e of state.buf) at = Math.min(at, e.t)
    if (within !== null) for (const r of state.runs) at = Math.min(at, r.t0 + within + 1)
    if (!Number.isFinite(at)) return
    due.push({ at, key })
  }
  for (const [key, state] of store.entries()) schedule(key, state)

  const test = (where: (v: unknown) => boolean, v: unknown) => {
    try {
      return where(v)
    } catch (e) {
      throw new OperatorError(name, e)
    }
  }
  const emit = (key: string, run: Run, end: number) => {
    const events: Record<string, unknown[]> = {}
    for (const s of stages) events[s.name] = []
    for (const [s, , v] of run.ev) events[stages[s]!.name]!.push(v)
    next({ key, value: { key, start: run.t0, end, events }, timestamp: end })
  }
  /** The run after `v` at time t, or null when it ends; `done` when it is a match. */
  const advance = (run: Run, t: number, v: unknown): { run: Run | null; done: boolean } => {
    const end = { run: null, done: false }
    if (run.s === stages.length) {
      // Waiting out a trailing notFollowedBy: a guard event ends it.
      return trailingGuard && test(trailingGuard.where, v) ? end : { run, done: false }
    }
    const { s, c } = run
    const stage = stages[s]!
    const loopOpen = !run.x && c < stage.max
    // 1. One more event of the current stage (quantifiers are greedy).
    if (loopOpen && test(stage.where, v)) return finish({ ...run, c: c + 1, ev: [...run.ev, [s, t, v]] })
    if (c < stage.min) {
      // Still filling the stage: another event between its repetitions is fine unless consecutive.
      return stage.consecutive ? end : { run, done: false }
    }
    // 2. The next stage (skipping optional ones the event does not match).
    for (let j = s + 1; j < stages.length; j++) {
      const nextStage = stages[j]!
      if (nextStage.guards.some((g) => test(g.where, v))) return end
      if (test(nextStage.where, v))
        return finish({ ...run, s: j, c: 1, x: false, ev: [...run.ev, [j, t, v]] })
      // `next`: the stage had to start right after the last event — unless the current
      // stage may still take more (then it must start right after those).
      if (nextStage.contiguity === 'strict' && !(loopOpen && !stage.consecutive)) return end
      if (nextStage.min > 0) break
    }
    // 3. Skipped. Consecutive repetitions end here: the run can only move on now.
    return { run: stage.consecutive && loopOpen ? { ...run, x: true } : run, done: false }
  }
  /** A run whose current stage just took an event: complete, waiting, or going on. */
  const finish = (run: Run): { run: Run; done: boolean } => {
    const last = stages.length - 1
    let complete = run.s === last && run.c >= stages[last]!.min
    // Optional stages after the current one do not hold a match back.
    if (!complete && run.c >= stages[run.s]!.min)
      complete = stages.slice(run.s + 1).every((st) => st.min === 0)
    if (!complete) return { run, done: false }
    if (trailingGuard) return { run: { ...run, s: stages.length, c: 0 }, done: false }
    return { run, done: true }
  }

  const feed = (key: string, state: KeyState, t: number, v: unknown) => {
    const q = state.seq++
    const runs: Run[] = []
    let matchedUpTo = -1
    for (const run of state.runs) {
      if (within !== null && t - run.t0 > within) {
        // Past its bound: a run waiting out a trailing notFollowedBy has made it.
        if (run.s === stages.length) emit(key, run, run.t0 + within)
        continue
      }
      const { run: after, done } = advance(run, t, v)
      if (!after) continue
      if (done) {
        // Several runs can complete on one event: skipping past it, only the oldest counts.
        if (matchedUpTo < 0 || options.skip === 'none') emit(key, after, t)
        matchedUpTo = q
      } else runs.push(after)
    }
    if (matchedUpTo < 0 || options.skip === 'none') {
      if (test(stages[0]!.where, v)) {
        const started = finish({ s: 0, c: 1, q, t0: t, ev: [[0, t, v]] })
        if (started.done) {
          emit(key, started.run, t)
          matchedUpTo = q
        } else runs.push(started.run)
      }
    }
    state.runs = options.skip === 'none' || matchedUpTo < 0 ? runs : runs.filter((r) => r.q > matchedUpTo)
  }

  /** Feeds a key's buffered events up to the watermark, then times its runs out. */
  const catchUp = (key: string, watermark: number) => {
    const state = store.get(key)
    if (!state) return
    const ready = state.buf.filter((e) => e.t <= watermark)
    if (ready.length > 0) {
      state.buf = state.buf.filter((e) => e.t > watermark)
      // Stable: events with equal times keep their arrival order.
      ready.sort((a, b) => a.t - b.t)
      for (const e of ready) feed(key, state, e.t, e.v)
    }
    if (within !== null) {
      const kept: Run[] = []
      for (const run of state.runs) {
        if (run.t0 + within >= watermark) kept.push(run)
        // No guard event within the bound: a trailing notFollowedBy is satisfied.
        else if (run.s === stages.length) emit(key, run, run.t0 + within)
      }
      state.runs = kept
    }
    if (state.runs.length === 0 && state.buf.length === 0) store.delete(key)
    else {
      store.put(key, state)
      schedule(key, state)
    }
  }

  hooks.push(() =>
    host.onWatermark((watermark) => {
      const ready = due.popBelow(watermark, true)
      if (ready.length === 0) return
      const keys = new Set(ready.map((d) => d.key))
      for (const key of keys) catchUp(key, watermark)
    }),
  )

  return (r: StreamRecord) => {
    if (r.key === null) throw new OperatorError(name, new Error('patterns match per key: keyBy first'))
    if (r.timestamp < host.watermark) {
      // Late: its place in the sequence has passed. Counted with the task's late records.
      host.dropLate()
      return
    }
    const state = store.get(r.key) ?? { seq: 0, runs: [], buf: [] }
    state.buf.push({ t: r.timestamp, v: r.value })
    store.put(r.key, state)
    schedule(r.key, state)
  }
}
