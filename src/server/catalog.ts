/**
 * What the server knows of topics: the typed declarations of the running file (schema, key,
 * timestamp — so ingest validates exactly as the pipelines will read) and, for any topic, the
 * log's own description (existence, partitions, record size limit), cached briefly.
 */
import { topic as declareTopic, type TopicDef } from '../dsl/topic.ts'
import { isSluiceError } from '../errors.ts'
import type { Log } from '../log/types.ts'

export interface TopicInfo {
  def: TopicDef<unknown>
  partitions: number
  maxRecordBytes: number
}

const CACHE_MS = 5_000

export class TopicCatalog {
  readonly #log: Log
  readonly #declared = new Map<string, TopicDef<unknown>>()
  readonly #cache = new Map<string, { info: TopicInfo; at: number }>()

  constructor(log: Log, declared: Iterable<TopicDef<unknown>> = []) {
    this.#log = log
    for (const def of declared) {
      // The first declaration with a schema wins: a sink's `topic<Alert>('alerts')` without a
      // schema must not hide the pipeline's validated declaration of the same topic.
      const seen = this.#declared.get(def.name)
      if (!seen || (!seen.schema && def.schema)) this.#declared.set(def.name, def)
    }
  }

  /** The topic, or undefined when the log has no such topic. */
  async get(name: string): Promise<TopicInfo | undefined> {
    const hit = this.#cache.get(name)
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.info
    try {
      const d = await this.#log.describeTopic(name)
      const info: TopicInfo = {
        def: this.#declared.get(name) ?? declareTopic(name),
        partitions: d.partitionDetails.length,
        maxRecordBytes: d.maxRecordBytes,
      }
      this.#cache.set(name, { info, at: Date.now() })
      return info
    } catch (error) {
      if (isSluiceError(error, 'SLUICE_UNKNOWN_TOPIC') || isSluiceError(error, 'SLUICE_INVALID_TOPIC_NAME')) {
        return undefined
      }
      throw error
    }
  }
}
