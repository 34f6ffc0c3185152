/**
 * Incremental (cooperative) rebalancing on Kafka: a worker joining or leaving moves only the
 * tasks that must move, and the tasks that stay keep processing and committing through the
 * rebalance — no rewind to the last commit, no rebuild. Two workers run in this process (each
 * with its own Kafka log), so the test can hold on to worker A's Task objects and watch its
 * commits while B joins and later leaves; the input keeps arriving the whole time. Then A's
 * commit is held in flight while C joins, so the rebalance surely catches it: what A kept must
 * commit, in the new generation, and what moved must not (C redoes it). The output is then
 * compared with the embedded runner's over the same input: exactly-once still holds.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { GroupRunner, type Log } from 'sluice'
import { openKafkaLog } from 'sluice/kafka'
import {
  brokers,
  contents,
  countsTopic,
  kafkaForRun,
  lag,
  produce,
  referenceWindows,
  until,
  windowed,
} from './worker-harness.ts'

const EVENTS = 400_000
/** Fed up front, so A has state when B joins. */
const FIRST = 50_000
/** Then this many every FEED_MS while the rebalances run, so there is always work to commit. */
const CHUNK = 300
const FEED_MS = 20
const kafkaLog = kafkaForRun()

interface Member {
  runner: GroupRunner
  log: Log
  running: Promise<void>
  readonly rewound: number
  readonly restores: number
}

/** While held, whatever passes it waits, as behind a slow broker. */
class Gate {
  #gate: Promise<void> | null = null
  #open: () => void = () => {}
  /** How many waited at it so far. */
  waiting = 0

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve
    })
  }

  release(): void {
    this.#gate = null
    this.#open()
  }

  async pass(): Promise<void> {
    const gate = this.#gate
    if (!gate) return
    this.waiting++
    await gate
  }
}

/** The gates of one worker's log: its transaction commits, and its reads of changelogs (restores). */
interface Gates {
  commits: Gate
  restores: Gate
}

function gated(log: Log, gates: Gates): Log {
  const bound = (target: object, prop: string | symbol) => {
    const value = Reflect.get(target, prop, target)
    return typeof value === 'function' ? value.bind(target) : value
  }
  return new Proxy(log, {
    get(target, prop) {
      if (prop === 'resolveOffset') {
        return async (...args: Parameters<Log['resolveOffset']>) => {
          if (args[0].topic.endsWith('-changelog')) await gates.restores.pass()
          return target.resolveOffset(...args)
        }
      }
      if (prop !== 'transaction') return bound(target, prop)
      return (...args: Parameters<Log['transaction']>) => {
        const tx = target.transaction(...args)
        return new Proxy(tx, {
          get(t, p) {
            if (p !== 'commit') return bound(t, p)
            return async () => {
              await gates.commits.pass()
              return t.commit()
            }
          },
        })
      }
    },
  })
}

async function startMember(id: string, gates?: Gates): Promise<Member> {
  const log = await openKafkaLog({ brokers })
  const seen = { rewound: 0, restores: 0 }
  const runner = new GroupRunner(gates ? gated(log, gates) : log, [windowed], {
    instanceId: id,
    onRewind: (r) => {
      seen.rewound += r.tasks
    },
    onRestore: () => {
      seen.restores++
    },
  })
  await runner.start()
  const running = runner.run()
  const member: Member = {
    runner,
    log,
    running,
    get rewound() {
      return seen.rewound
    },
    get restores() {
      return seen.restores
    },
  }
  members.add(member)
  return member
}

const members = new Set<Member>()

async function stopMember(m: Member): Promise<void> {
  members.delete(m)
  m.runner.stop()
  try {
    await m.running
  } finally {
    await m.log.close()
  }
}

type Task = GroupRunner['tasks'][number]
const taskKey = (t: Task) => `${t.subtopology.id}/${t.partition}`

/** A's commits, sampled: how many it had made by each moment. */
function sampleCommits(m: Member): { at: number[]; commits: number[]; stop(): void } {
  const at: number[] = []
  const commits: number[] = []
  const timer = setInterval(() => {
    at.push(Date.now())
    commits.push(m.runner.metrics()[0]!.commits)
  }, 10)
  timer.unref()
  return { at, commits, stop: () => clearInterval(timer) }
}

function commitsBetween(s: { at: number[]; commits: number[] }, from: number, to: number): number {
  let first: number | undefined
  let last: number | undefined
  for (let i = 0; i < s.at.length; i++) {
    if (s.at[i]! < from || s.at[i]! > to) continue
    first ??= s.commits[i]
    last = s.commits[i]
  }
  return first === undefined || last === undefined ? 0 : last - first
}

test('a worker joining and leaving leaves the tasks that stay running: no rewind, no rebuild, commits go on, a caught commit lands for them only', async (t) => {
  const gates: Gates = { commits: new Gate(), restores: new Gate() }
  // A failed assertion must not leave workers running (or waiting at a gate) in this process.
  t.after(async () => {
    gates.commits.release()
    gates.restores.release()
    for (const m of [...members]) await stopMember(m).catch(() => {})
  })
  const kafka = kafkaLog()
  const expected = await referenceWindows(EVENTS)
  await produce(kafka, 0, FIRST)
  const a = await startMember('coop-a', gates)
  const total = () => a.runner.tasks.length
  await until(async () => total() > 0 && (await lag(kafka)) < FIRST / 2, 'A at work', 120_000)
  const tasks = total()

  // The input keeps coming while B joins and leaves.
  let fed = FIRST
  let feeding = true
  t.after(() => {
    feeding = false
  })
  const feeder = (async () => {
    while (feeding && fed < EVENTS) {
      const to = Math.min(EVENTS, fed + CHUNK)
      await produce(kafka, fed, to)
      fed = to
      await new Promise((r) => setTimeout(r, FEED_MS))
    }
  })()
  const sampler = sampleCommits(a)
  t.after(() => sampler.stop())
  const before = new Map(a.runner.tasks.map((task) => [taskKey(task), task]))

  // Join: B takes half the tasks; the ones A keeps are the same Task objects, never rewound.
  const joinStarted = Date.now()
  const b = await startMember('coop-b')
  await until(
    async () =>
      b.restores > 0 && b.runner.tasks.length > 0 && a.runner.tasks.length + b.runner.tasks.length === tasks,
    'B to take its share',
    120_000,
  )
  const joined = Date.now()
  const keptOnJoin = a.runner.tasks
  assert.ok(
    keptOnJoin.length > 0 && keptOnJoin.length < tasks,
    `A kept ${keptOnJoin.length} of ${tasks} tasks`,
  )
  for (const task of keptOnJoin) {
    assert.equal(
      task,
      before.get(taskKey(task)),
      `A's task ${taskKey(task)} ran on, not rebuilt, while B joined`,
    )
  }
  assert.equal(a.rewound, 0, 'no commit of A went back while B joined')
  const duringJoin = commitsBetween(sampler, joinStarted, joined)
  t.diagnostic(
    `join: ${joined - joinStarted} ms, A committed ${duringJoin} times meanwhile; A keeps ${keptOnJoin.length}/${tasks}`,
  )
  assert.ok(duringJoin > 0, 'A committed while B joined')

  // Leave: B stops; A takes its tasks back and the ones it kept still run on — also while A
  // restores the tasks it gained (its changelog reads wait at a gate until A has committed a
  // few times more).
  await new Promise((r) => setTimeout(r, 1_000))
  const kept = new Map(a.runner.tasks.map((task) => [taskKey(task), task]))
  const restoresBefore = a.restores
  const leaveStarted = Date.now()
  gates.restores.hold()
  await stopMember(b)
  await until(async () => gates.restores.waiting > 0, "A to restore B's tasks", 60_000)
  const commitsAtRestore = a.runner.metrics()[0]!.commits
  await until(
    async () => a.runner.metrics()[0]!.commits >= commitsAtRestore + 3,
    'A to commit its kept tasks while it restores the gained ones',
    30_000,
  )
  assert.equal(a.runner.tasks.length, kept.size, 'the gained tasks join only once restored')
  gates.restores.release()
  await until(
    async () => a.runner.tasks.length === tasks && a.restores > restoresBefore,
    'A to take every task back',
    120_000,
  )
  const left = Date.now()
  for (const [key, task] of kept) {
    assert.ok(
      a.runner.tasks.find((x) => taskKey(x) === key) === task,
      `A's task ${key} ran on, not rebuilt, while B left`,
    )
  }
  assert.equal(a.rewound, 0, 'no commit of A went back while B left')
  const duringLeave = commitsBetween(sampler, leaveStarted, left)
  t.diagnostic(
    `leave: ${left - leaveStarted} ms, A committed ${duringLeave} times meanwhile; fed ${fed} of ${EVENTS}`,
  )
  assert.ok(duringLeave > 0, 'A committed while B left')

  // A commit caught in flight: A's commit waits at the gate, with work of every task, while C
  // joins and takes half the tasks over (A's client lets them go by itself). When it goes on,
  // the generation has moved: the work of the tasks A kept commits in the new one, and the
  // work of the moved ones — which C redid from the committed offsets — never lands.
  const keptBeforeC = new Map(a.runner.tasks.map((task) => [taskKey(task), task]))
  gates.commits.hold()
  await until(async () => gates.commits.waiting > 0, "A's commit to wait at the gate", 30_000)
  const c = await startMember('coop-c')
  await until(
    async () => c.restores > 0 && c.runner.metrics()[0]!.commits > 2,
    'C to take its share and commit',
    120_000,
  )
  const aCommits = a.runner.metrics()[0]!.commits
  gates.commits.release()
  await until(
    async () =>
      a.runner.tasks.length + c.runner.tasks.length === tasks &&
      a.runner.metrics()[0]!.commits > aCommits + 2,
    'A to follow and commit again',
    120_000,
  )
  assert.ok(a.runner.tasks.length < tasks, `C took tasks from A (${c.runner.tasks.length})`)
  for (const task of a.runner.tasks) {
    assert.ok(task === keptBeforeC.get(taskKey(task)), `A's task ${taskKey(task)} kept its work, not rewound`)
  }
  assert.equal(a.rewound, 0, "A's caught commit went through for the tasks it kept instead of going back")
  t.diagnostic(`caught commit: A keeps ${a.runner.tasks.length}/${tasks}, C took ${c.runner.tasks.length}`)

  // The rest of the input, then the output must be exactly the embedded runner's.
  feeding = false
  await feeder
  sampler.stop()
  await produce(kafka, fed, EVENTS)
  await until(async () => (await lag(kafka)) === 0, 'every input committed', 300_000)
  await stopMember(c)
  await stopMember(a)
  const actual = await contents(kafka, countsTopic)
  assert.equal(actual.length - new Set(actual).size, 0, 'no window is committed twice')
  assert.deepEqual(actual, expected)
})
