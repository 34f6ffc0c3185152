/**
 * CPU profiles of the timed runs only (the bench's `--cpu-prof`): Node's own `--cpu-prof`
 * also profiles generating and appending the events, which would drown the pipeline. The
 * inspector's sampling profiler covers the main JS thread (where the pipeline runs; LMDB's
 * writer thread and GC helpers are not in it). Each profile is written as a `.cpuprofile`
 * (open it in Chrome DevTools or speedscope) and summarized as the functions with the most
 * self time.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface HotFunction {
  name: string
  /** Where it is: file (relative to the repo when inside it) and line. */
  at: string
  /** Share of the profile's samples spent in the function itself. */
  selfShare: number
}

export class CpuProfiler {
  readonly #session = new Session()
  #started = false

  async start(): Promise<void> {
    if (!this.#started) {
      this.#session.connect()
      await this.#session.post('Profiler.enable')
      // 250 µs between samples: enough samples in a run of a few seconds.
      await this.#session.post('Profiler.setSamplingInterval', { interval: 250 })
      this.#started = true
    }
    await this.#session.post('Profiler.start')
  }

  /** Stops, writes the profile to `file` and returns the top functions by self time. */
  async stop(file: string, top = 15): Promise<HotFunction[]> {
    const { profile } = (await this.#session.post('Profiler.stop')) as unknown as { profile: Profile }
    writeFileSync(file, JSON.stringify(profile))
    return hottest(profile, top)
  }

  close(): void {
    if (this.#started) this.#session.disconnect()
  }
}

function hottest(profile: Profile, top: number): HotFunction[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, { name: string; at: string; samples: number }>()
  let total = 0
  for (const id of profile.samples) {
    const node = byId.get(id)
    if (!node) continue
    total++
    const { functionName, url, lineNumber } = node.callFrame
    const name = functionName || '(anonymous)'
    const file = url.replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '')
    const at = file ? `${file}:${lineNumber + 1}` : ''
    const key = `${name}\0${at}`
    const entry = self.get(key) ?? { name, at, samples: 0 }
    entry.samples++
    self.set(key, entry)
  }
  return [...self.values()]
    .sort((a, b) => b.samples - a.samples)
    .slice(0, top)
    .map((e) => ({ name: e.name, at: e.at, selfShare: total === 0 ? 0 : e.samples / total }))
}
