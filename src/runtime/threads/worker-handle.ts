/**
 * The main thread's side of one worker thread: start it, ask it to collect, and turn every way
 * it can die (an uncaught error, an exit, a message that cannot be read) into one error that
 * names the worker and its tasks — reported once, rejecting whatever was waiting on it.
 */
import { Worker } from 'node:worker_threads'
import { SluiceError } from '../../errors.ts'
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.ts'

export type CollectReply = Extract<FromWorker, { type: 'collected' | 'stopped' }>

/** How long a stopped worker may take to exit before it is terminated. */
const EXIT_GRACE_MS = 5_000

export class WorkerHandle {
  readonly index: number
  readonly taskIds: string[]
  readonly #worker: Worker
  readonly #ready: Promise<void>
  readonly #exited: Promise<void>
  readonly #replies = new Map<number, { resolve(r: CollectReply): void; reject(e: Error): void }>()
  #failure: Error | null = null
  #stopping = false
  #onReady: (() => void) | null = null
  #onReadyFailed: ((e: Error) => void) | null = null

  /** `onFailure` is called once, when the worker fails after it was started. */
  constructor(setup: WorkerSetup, taskIds: string[], onFailure: (error: Error) => void) {
    this.index = setup.index
    this.taskIds = taskIds
    this.#ready = new Promise((resolve, reject) => {
      this.#onReady = resolve
      this.#onReadyFailed = reject
    })
    // A worker that fails before `ready` rejects start(); nobody else is listening yet.
    this.#ready.catch(() => {})
    this.#worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: setup })
    const fail = (why: string, cause?: unknown) => {
      if (this.#failure) return
      this.#failure = new SluiceError(
        'SLUICE_WORKER_FAILED',
        `worker thread ${this.index} (tasks ${this.taskIds.join(', ')}) ${why}`,
        cause === undefined ? undefined : { cause },
      )
      this.#onReadyFailed?.(this.#failure)
      for (const { reject } of this.#replies.values()) reject(this.#failure)
      this.#replies.clear()
      onFailure(this.#failure)
    }
    this.#worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        this.#onReady?.()
        return
      }
      const waiting = this.#replies.get(message.round)
      this.#replies.delete(message.round)
      waiting?.resolve(message)
    })
    this.#worker.on('error', (error) => fail(`failed: ${error.message}`, error))
    this.#worker.on('messageerror', (error) =>
      fail(`sent a message that could not be read: ${error.message}`),
    )
    this.#exited = new Promise((resolve) => {
      this.#worker.on('exit', (code) => {
        if (!this.#stopping) fail(`exited unexpectedly (exit code ${code})`)
        resolve()
      })
    })
  }

  get failure(): Error | null {
    return this.#failure
  }

  /** Resolves when the worker has built its tasks; rejects if it could not. */
  ready(): Promise<void> {
    return this.#ready
  }

  post(message: ToWorker): void {
    if (!this.#failure) this.#worker.postMessage(message)
  }

  collect(round: number, final: boolean): Promise<CollectReply> {
    if (this.#failure) return Promise.reject(this.#failure)
    return new Promise((resolve, reject) => {
      this.#replies.set(round, { resolve, reject })
      this.#worker.postMessage({ type: 'collect', round, final } satisfies ToWorker)
    })
  }

  /** While the runner runs, a worker keeps the process alive; before and after, it does not. */
  ref(): void {
    this.#worker.ref()
  }

  unref(): void {
    this.#worker.unref()
  }

  /** Asks the worker to exit (after the final commit) and waits; terminates it if it lingers. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#worker.postMessage({ type: 'stop' } satisfies ToWorker)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), EXIT_GRACE_MS)
    })
    const lingered = await Promise.race([this.#exited.then(() => false), late])
    clearTimeout(timer)
    if (lingered) await this.terminate()
  }

  /** Ends the worker now; whatever it had not handed over is simply not committed. */
  async terminate(): Promise<void> {
    this.#stopping = true
    await this.#worker.terminate()
    await this.#exited
  }
}
