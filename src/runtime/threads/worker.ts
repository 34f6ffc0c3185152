/**
 * The entry of a worker thread (started by ThreadedRunner with a WorkerSetup as workerData).
 *
 * Functions cannot cross threads, so a worker imports the pipeline module itself and picks
 * its pipelines by name, compiles them, checks the result matches what the main thread
 * compiled, and builds the tasks it was assigned. It reads the log's LMDB environment
 * directly (LogReader) and never writes it: outputs, state changes and positions go to the
 * main thread at each collect (task-loop.ts).
 */
import { pathToFileURL } from 'node:url'
import { parentPort, workerData } from 'node:worker_threads'
import { declaredPipelines, Pipeline } from '../../dsl/pipeline.ts'
import { SluiceError } from '../../errors.ts'
import { compile, type Topology } from '../../topology/compile.ts'
import { type GlobalSource, GlobalTables } from '../global-tables.ts'
import type { PoisonRecords } from '../poison.ts'
import { Task } from '../task.ts'
import { CommittedState } from './committed-state.ts'
import { LogReader } from './log-reader.ts'
import { type FromWorker, type ToWorker, topologyFingerprint, type WorkerSetup } from './protocol.ts'
import { TaskLoop } from './task-loop.ts'

if (!parentPort) throw new Error('runtime/threads/worker.ts runs as a worker thread of ThreadedRunner')
const port = parentPort
const setup = workerData as WorkerSetup

/** The module's default export (a Pipeline or Pipeline[]) first, then what it declared. */
async function loadPipelines(): Promise<Pipeline[]> {
  const url = setup.module.startsWith('file:') ? setup.module : pathToFileURL(setup.module).href
  const mod = (await import(url)) as { default?: unknown }
  const exported = Array.isArray(mod.default) ? mod.default : [mod.default]
  const candidates = [...exported.filter((p) => p instanceof Pipeline), ...declaredPipelines()]
  return setup.pipelines.map(({ name }) => {
    const found = candidates.find((p) => p.name === name)
    if (!found) {
      throw new SluiceError(
        'SLUICE_INVALID_ARGUMENT',
        `${setup.module} declares no pipeline "${name}" when a worker thread imports it. Declare every ` +
          'pipeline at the top level of the module (pipeline(...) or export default), the same way on every import.',
      )
    }
    return found
  })
}

const reader = new LogReader(setup)
const state = new CommittedState(reader.state, () => reader.refresh())
const pipelines = await loadPipelines()
const topologies: Topology[] = pipelines.map((p, i) => {
  const topology = compile(p)
  if (topologyFingerprint(topology) !== setup.pipelines[i]!.fingerprint) {
    throw new SluiceError(
      'SLUICE_INVALID_ARGUMENT',
      `pipeline "${p.name}" compiles differently in a worker thread than in the main thread. ` +
        `${setup.module} must build its pipelines the same way on every import (no randomness, time or environment in their shape).`,
    )
  }
  return topology
})

// Each worker thread reads the global tables itself (they are read whole, beside the tasks).
const source: GlobalSource = {
  partitions: (topic) => reader.partitionsOf(topic),
  start: (tp) => reader.bounds(tp).startOffset,
  read: (tp, offset, maxRecords) => {
    reader.refresh()
    return reader.read(tp, offset, maxRecords)
  },
}
const globals = topologies.map((t) => new GlobalTables(t.globalTables))
for (const g of globals) await g.bootstrap(source)

const stopPolicy = setup.tasks.map((spec) => pipelines[spec.pipeline]!.options.errors.afterRetries === 'stop')

/** Task `i` of the setup over the worker's view of committed state (also a rewind's rebuild). */
function buildTask(i: number, poison?: PoisonRecords): Task {
  const spec = setup.tasks[i]!
  const topology = topologies[spec.pipeline]!
  const counts = new Map(setup.pipelines[spec.pipeline]!.tasksPerSubtopology)
  return new Task({
    topology,
    subtopology: topology.subtopologies.find((s) => s.id === spec.subtopology)!,
    partition: spec.partition,
    backend: state,
    partitionsOf: (topic) => reader.partitionsOf(topic),
    upstreamTasks: (id) => counts.get(id)!,
    now: Date.now,
    globals: globals[spec.pipeline]!,
    rewindOnFailure: !stopPolicy[i],
    ...(poison ? { poison } : {}),
  })
}

const tasks = setup.tasks.map((spec, i) => {
  const task = buildTask(i)
  for (const [topic, offset] of spec.positions) task.positions.set(topic, offset)
  return task
})

const loop = new TaskLoop({
  tasks,
  stopPolicy,
  rebuild: buildTask,
  reader,
  state,
  globals: { tables: globals, source },
  maxBatch: setup.maxBatch,
  maxUncollected: setup.maxUncollected,
  post: (message, transfer) => port.postMessage(message, transfer ?? []),
})
port.on('message', (message: ToWorker) => loop.receive(message))
port.postMessage({ type: 'ready' } satisfies FromWorker)
await loop.run()
await reader.close()
// Ends this thread only; user timers (a mapAsync client's keep-alive) must not hold it open.
process.exit(0)
