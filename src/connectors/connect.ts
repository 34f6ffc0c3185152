/**
 * `connect()`: declares a connector beside the pipelines of a file — a source feeding a topic or
 * a topic feeding a sink. `sluice run file.ts` runs the connectors a file declares together
 * with its pipelines.
 * @example
 * connect('readings-in', { from: mqtt({ url: 'mqtt://127.0.0.1', topics: ['sensors/+/temp'] }), to: readings })
 * connect('alerts-out', { from: alerts, to: postgres({ table: 'alerts', key: ['id'] }) })
 */
import type { TopicDef } from '../dsl/topic.ts'
import type { Sink, Source } from './types.ts'

export interface SinkConnector<T> {
  readonly kind: 'sink'
  readonly name: string
  readonly topic: TopicDef<T>
  readonly sink: Sink<T>
}

export interface SourceConnector<T> {
  readonly kind: 'source'
  readonly name: string
  readonly source: Source<T>
  readonly topic: TopicDef<T>
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds connectors of every record type
export type Connector = SinkConnector<any> | SourceConnector<any>

const registry: Connector[] = []

export function connect<T>(name: string, spec: { from: TopicDef<T>; to: Sink<NoInfer<T>> }): SinkConnector<T>
export function connect<T>(
  name: string,
  spec: { from: Source<NoInfer<T>>; to: TopicDef<T> },
): SourceConnector<T>
export function connect<T>(
  name: string,
  spec: { from: TopicDef<T> | Source<T>; to: Sink<T> | TopicDef<T> },
): Connector {
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    throw new TypeError(`connector name "${name}" may only use letters, digits, ".", "_" and "-"`)
  }
  if (registry.some((c) => c.name === name)) {
    throw new TypeError(`a connector named "${name}" is already declared; give each connector its own name`)
  }
  const { from, to } = spec
  let connector: Connector
  if (isSource(from) && !isSink(to)) {
    connector = { kind: 'source', name, source: from, topic: to }
  } else if (!isSource(from) && isSink(to)) {
    connector = { kind: 'sink', name, topic: from, sink: to }
  } else {
    throw new TypeError(
      `connector "${name}" must go from a source to a topic or from a topic to a sink, e.g. ` +
        `connect('${name}', { from: mqtt({...}), to: topic('readings') })`,
    )
  }
  registry.push(connector)
  return connector
}

/** Connectors declared so far in this process (what `sluice run` picks up). */
export function declaredConnectors(): readonly Connector[] {
  return registry
}

function isSource(x: unknown): x is Source<unknown> {
  return typeof x === 'object' && x !== null && (x as { role?: unknown }).role === 'source'
}

function isSink(x: unknown): x is Sink<unknown> {
  return typeof x === 'object' && x !== null && (x as { role?: unknown }).role === 'sink'
}
