/** Runs one query on the Flink harness (bench/peers/flink/) over the events file. */
import { runJava } from './java.ts'
import { type RunResult, toResult } from './result.ts'

export interface FlinkOptions {
  checkpointMs: number
  disorderMs: number
  /** The first events, for an untimed run of the same job before the timed one. */
  warmupFile?: string
}

export function runFlink(query: string, file: string, events: number, options: FlinkOptions): RunResult {
  const line = runJava('flink', 'sluice.peers.flink.NexmarkFlink', [
    '--query',
    query,
    '--file',
    file,
    '--events',
    String(events),
    '--checkpoint-ms',
    String(options.checkpointMs),
    '--disorder-ms',
    String(options.disorderMs),
    ...(options.warmupFile ? ['--warmup-file', options.warmupFile] : []),
  ])
  return toResult('flink', line)
}
