/**
 * A strict reader of Prometheus text (exposition format 0.0.4) for tests: it throws on what a
 * Prometheus server would refuse or misread — a sample before its family's TYPE, a family
 * split in two, a bad metric or label name, a bad escape, a duplicated series, a counter not
 * ending in _total, histogram buckets out of order or not cumulative, a +Inf bucket missing or
 * unequal to _count — and returns the samples by series.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  /** Family name → its TYPE. */
  types: Map<string, string>
  samples: Sample[]
  /** The value of the one sample named `name` whose labels include `labels`; throws unless exactly one. */
  value(name: string, labels?: Record<string, string>): number
  /** Every sample named `name` whose labels include `labels`. */
  all(name: string, labels?: Record<string, string>): Sample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const SUFFIXES: Record<string, string[]> = {
  counter: [''],
  gauge: [''],
  histogram: ['_bucket', '_sum', '_count'],
}

export function parsePrometheus(text: string): Exposition {
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline')
  const types = new Map<string, string>()
  const helps = new Set<string>()
  const samples: Sample[] = []
  const series = new Set<string>()
  const closed = new Set<string>()
  let current: string | null = null
  const lines = text.slice(0, -1).split('\n')
  for (const [n, line] of lines.entries()) {
    const at = `line ${n + 1} (${line})`
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ')
      if (!name || !NAME.test(name)) throw new Error(`${at}: bad metric name`)
      if (closed.has(name) || (current !== name && (types.has(name) || helps.has(name))))
        throw new Error(`${at}: family ${name} appears twice`)
      if (current !== null && current !== name) closed.add(current)
      current = name
      if (kind === 'HELP') helps.add(name)
      else {
        const type = rest.join(' ')
        if (!(type in SUFFIXES)) throw new Error(`${at}: type ${type}`)
        if (type === 'counter' && !name.endsWith('_total')) throw new Error(`${at}: a counter ends in _total`)
        types.set(name, type)
      }
      continue
    }
    if (line.startsWith('#') || line === '') throw new Error(`${at}: unexpected`)
    const sample = parseSample(line, at)
    const family = current
    if (family === null || !types.has(family)) throw new Error(`${at}: sample before its TYPE`)
    const suffix = sample.name.slice(family.length)
    if (!sample.name.startsWith(family) || !SUFFIXES[types.get(family)!]!.includes(suffix))
      throw new Error(`${at}: ${sample.name} does not belong to family ${family}`)
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`
    if (series.has(key)) throw new Error(`${at}: duplicate series`)
    series.add(key)
    samples.push(sample)
  }
  for (const [name, type] of types) if (type === 'histogram') checkHistogram(name, samples)
  const matching = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return {
    types,
    samples,
    all: matching,
    value(name, labels = {}) {
      const found = matching(name, labels)
      if (found.length !== 1)
        throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}, expected 1`)
      return found[0]!.value
    },
  }
}

function parseSample(line: string, at: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line)
  if (!m) throw new Error(`${at}: not a sample`)
  const labels: Record<string, string> = {}
  if (m[2]) {
    const body = m[2].slice(1, -1)
    let i = 0
    while (i < body.length) {
      const eq = body.indexOf('=', i)
      const name = body.slice(i, eq)
      if (!LABEL.test(name) || body[eq + 1] !== '"') throw new Error(`${at}: bad label ${name}`)
      let value = ''
      let j = eq + 2
      for (; body[j] !== '"'; j++) {
        if (j >= body.length) throw new Error(`${at}: unterminated label value`)
        if (body[j] === '\\') {
          const e = body[++j]
          if (e === 'n') value += '\n'
          else if (e === '\\' || e === '"') value += e
          else throw new Error(`${at}: bad escape \\${e}`)
        } else value += body[j]
      }
      if (name in labels) throw new Error(`${at}: label ${name} twice`)
      labels[name] = value
      i = j + 1
      if (i < body.length) {
        if (body[i] !== ',') throw new Error(`${at}: expected , between labels`)
        i++
      }
    }
  }
  const raw = m[3]!
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw)
  if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`${at}: bad value ${raw}`)
  return { name: m[1]!, labels, value }
}

function checkHistogram(name: string, samples: readonly Sample[]): void {
  const groups = new Map<string, Sample[]>()
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue
    const { le, ...rest } = s.labels
    if (le === undefined) throw new Error(`${name}_bucket without le`)
    const key = JSON.stringify(Object.entries(rest).sort())
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  for (const [key, buckets] of groups) {
    let lastLe = -Infinity
    let lastCount = 0
    for (const b of buckets) {
      const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)
      if (!(le > lastLe)) throw new Error(`${name} ${key}: le ${b.labels.le} after ${lastLe}`)
      if (b.value < lastCount) throw new Error(`${name} ${key}: buckets not cumulative at le ${b.labels.le}`)
      lastLe = le
      lastCount = b.value
    }
    if (lastLe !== Infinity) throw new Error(`${name} ${key}: no +Inf bucket`)
    const count = samples.find(
      (s) => s.name === `${name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === key,
    )
    if (!count || count.value !== lastCount)
      throw new Error(`${name} ${key}: _count differs from the +Inf bucket`)
    if (
      !samples.some(
        (s) => s.name === `${name}_sum` && JSON.stringify(Object.entries(s.labels).sort()) === key,
      )
    )
      throw new Error(`${name} ${key}: no _sum`)
  }
}
