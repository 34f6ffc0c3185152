/** One engine's timed run of one query, as every harness reports it (one JSON line). */
export interface RunResult {
  engine: Engine
  query: string
  events: number
  /** Result rows the run committed (Sluice, Kafka Streams, @kafkats/flow) or its sink counted (Flink). */
  outputs: number
  /** The wrapping sum of the rows' hashes (bench/peers/checksum.ts). */
  checksum: number
  wallMs: number
  /** Process CPU time, user + system, all threads. */
  cpuMs: number
  peakHeap: number
  peakRss: number
  /** Engine-specific figures (commits, the broker's CPU, versions, …). */
  extra: Record<string, unknown>
}

export const ENGINES = ['sluice', 'flink', 'kafka-streams', 'kafkats'] as const
export type Engine = (typeof ENGINES)[number]
export type Peer = Exclude<Engine, 'sluice'>
export const PEERS: readonly Peer[] = ['flink', 'kafka-streams', 'kafkats']

/** The last line of a child's stdout that parses as a JSON object: harnesses may log before it. */
export function lastJsonLine(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').reverse()
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {}
  }
  throw new Error(`no JSON result line in the output:\n${stdout.slice(-2000)}`)
}

const COMMON = new Set([
  'engine',
  'query',
  'events',
  'outputs',
  'checksum',
  'wallMs',
  'cpuMs',
  'peakHeap',
  'peakRss',
])

/** A JVM harness's JSON line as a RunResult: its own fields go to `extra`. */
export function toResult(engine: Engine, line: Record<string, unknown>): RunResult {
  const num = (name: string) => {
    const v = line[name]
    if (typeof v !== 'number')
      throw new Error(`${engine}: the result line has no number "${name}": ${JSON.stringify(line)}`)
    return v
  }
  const extra: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(line)) if (!COMMON.has(k)) extra[k] = v
  return {
    engine,
    query: String(line.query),
    events: num('events'),
    outputs: num('outputs'),
    checksum: num('checksum'),
    wallMs: num('wallMs'),
    cpuMs: num('cpuMs'),
    peakHeap: num('peakHeap'),
    peakRss: num('peakRss'),
    extra,
  }
}
