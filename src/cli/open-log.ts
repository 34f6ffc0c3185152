import { existsSync } from 'node:fs'
import { SluiceError } from '../errors.ts'
import { type Durability, type EmbeddedLog, openEmbeddedLog } from '../log/index.ts'

export interface OpenOptions {
  durability?: Durability
  /**
   * Create the data directory if it does not exist. Only commands that create something do;
   * reading commands fail instead of leaving an empty `.sluice` wherever they were run.
   */
  create?: boolean
}

/**
 * Opens the embedded log, runs `fn`, and always closes the log: it holds a lock file in the
 * data directory that the next command would otherwise have to take over.
 */
export async function withLog<T>(
  dataDir: string,
  options: OpenOptions,
  fn: (log: EmbeddedLog) => Promise<T>,
): Promise<T> {
  const log = await openEmbeddedLog({
    dataDir,
    // Retention and compaction are the job of a long-running process, not of a CLI call.
    cleanupIntervalMs: 0,
    ...(options.durability ? { durability: options.durability } : {}),
  })
  try {
    return await fn(log)
  } finally {
    await log.close()
  }
}

/** True when `dataDir` exists, i.e. some command already created a log there. */
export function logExists(dataDir: string): boolean {
  return existsSync(dataDir)
}

/** The error for a topic asked for in a data directory that holds no log at all. */
export function noLogError(dataDir: string, topic: string): SluiceError {
  return new SluiceError(
    'SLUICE_UNKNOWN_TOPIC',
    `unknown topic "${topic}": there is no log in ${dataDir} yet; create the topic first ` +
      `(sluice topics create ${topic} --partitions N) or pass the --data-dir that holds it`,
  )
}

/** Opens the log of a command that needs an existing `topic`; fails clearly before creating anything. */
export async function withTopic<T>(
  dataDir: string,
  topic: string,
  options: OpenOptions,
  fn: (log: EmbeddedLog) => Promise<T>,
): Promise<T> {
  if (!logExists(dataDir)) throw noLogError(dataDir, topic)
  return withLog(dataDir, options, async (log) => {
    // describeTopic throws SLUICE_UNKNOWN_TOPIC with the "create it first" advice.
    await log.describeTopic(topic)
    return fn(log)
  })
}
