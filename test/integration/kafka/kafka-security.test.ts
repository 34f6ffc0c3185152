/**
 * The Kafka backend against listeners that require TLS or SASL, and an authorizer: the broker
 * of scripts/kafka.sh has SASL PLAIN/SCRAM on 127.0.0.1:9094, TLS on 127.0.0.1:9095 (its test
 * CA in .cache/kafka/tls/ca.pem), and ACLs on, with users sluice (a super user) and alice
 * (authenticated, granted nothing). Tests grant alice ACLs on their own topics and remove them.
 *
 * Needs that broker: `bash scripts/kafka.sh start`, then `npm run test:kafka`. KAFKA_SASL_BROKERS,
 * KAFKA_TLS_BROKERS and KAFKA_CA point elsewhere.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  type Acl,
  AclOperations,
  type AclOperationValue,
  AclPermissionTypes,
  Admin,
  ResourcePatternTypes,
  type ResourcePatternTypeValue,
  ResourceTypes,
  type ResourceTypeValue,
} from '@platformatic/kafka'
import { isSluiceError, type SluiceErrorCode } from '../../../src/errors.ts'
import { type KafkaLog, type KafkaSaslOptions, openKafkaLog } from '../../../src/log/kafka/index.ts'
import type { Log } from '../../../src/log/types.ts'
import { tempDir } from '../../helpers/temp-dir.ts'
import {
  brokers,
  clicksTopic,
  contents,
  countsTopic,
  deleteRunTopics,
  lag,
  PARTITIONS,
  produce,
  referenceWindows,
  run,
  windowed,
} from './worker-harness.ts'

const saslBrokers = (process.env.KAFKA_SASL_BROKERS ?? '127.0.0.1:9094').split(',')
const tlsBrokers = (process.env.KAFKA_TLS_BROKERS ?? '127.0.0.1:9095').split(',')
const caFile =
  process.env.KAFKA_CA ?? fileURLToPath(new URL('../../../.cache/kafka/tls/ca.pem', import.meta.url))
const cli = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))
const fixture = fileURLToPath(new URL('./fixtures/windowed.ts', import.meta.url))
const enc = new TextEncoder()
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString())

const sluice = (mechanism: KafkaSaslOptions['mechanism']): KafkaSaslOptions => ({
  mechanism,
  username: 'sluice',
  password: 'sluice-secret',
})
const alice: KafkaSaslOptions = { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' }

function rejectsWith(code: SluiceErrorCode, ...messages: RegExp[]) {
  return (error: unknown) => {
    assert.ok(isSluiceError(error, code), `expected ${code}, got ${(error as Error)?.stack ?? error}`)
    for (const m of messages) assert.match((error as Error).message, m)
    return true
  }
}

/** A regular expression matching `s` literally. */
const literally = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))

/** The super user's view: topics and ACLs through the PLAINTEXT listener (User:ANONYMOUS). */
let log: KafkaLog
const admin = new Admin({ clientId: 'sluice-security-acls', bootstrapBrokers: brokers })
const topics: string[] = []
const granted: Acl[] = []
const closers: Array<() => Promise<unknown>> = []

async function topic(name: string, partitions = 1): Promise<string> {
  const full = `security-${name}-${run}`
  await log.createTopic(full, { partitions })
  topics.push(full)
  return full
}

async function open(brokerList: string[], options: Omit<Parameters<typeof openKafkaLog>[0], 'brokers'>) {
  const opened = await openKafkaLog({ brokers: brokerList, clientId: 'sluice-security', ...options })
  closers.push(() => opened.close())
  return opened
}

/** Appends `values` to partition 0 of `t` through `writer` and reads them back through `reader`. */
async function roundTrip(writer: Log, reader: Log, t: string, values: string[]): Promise<void> {
  const producer = writer.producer()
  await producer.send(
    t,
    values.map((v) => ({ value: enc.encode(v), partition: 0 })),
  )
  await producer.close()
  const fetched = await reader.fetch({ topic: t, partition: 0 }, 0, { waitMs: 2_000 })
  assert.deepEqual(
    fetched.map((r) => text(r.value)),
    values,
  )
}

/** Grants alice `operation` on a resource, and waits until the broker's authorizer has it. */
async function grant(
  operation: AclOperationValue,
  resourceType: ResourceTypeValue,
  resourceName: string,
  resourcePatternType: ResourcePatternTypeValue = ResourcePatternTypes.LITERAL,
) {
  const acl: Acl = {
    resourceType,
    resourceName,
    resourcePatternType,
    principal: 'User:alice',
    host: '*',
    operation,
    permissionType: AclPermissionTypes.ALLOW,
  }
  await admin.createAcls({ creations: [acl] })
  granted.push(acl)
  // The controller commits the ACL; the broker applies it when it replays the metadata log.
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = await admin.describeAcls({ filter: acl })
    if (found.some((r) => r.acls.length > 0)) return
    assert.ok(Date.now() < deadline, `the ACL on ${resourceName} reached the broker`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

before(async () => {
  log = await openKafkaLog({ brokers, clientId: 'sluice-security-admin' })
})

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => {})
  if (granted.length > 0) await admin.deleteAcls({ filters: granted }).catch(() => {})
  await admin.close().catch(() => {})
  for (const t of topics) await log.deleteTopic(t).catch(() => {})
  await deleteRunTopics(log).catch(() => {})
  await log.close()
})

describe('SASL (127.0.0.1:9094)', () => {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    test(`${mechanism}: a topic is created, written and read back`, async () => {
      const kafka = await open(saslBrokers, { sasl: sluice(mechanism) })
      const t = `security-${mechanism.toLowerCase()}-${run}`
      await kafka.createTopic(t, { partitions: 2 })
      topics.push(t)
      assert.equal((await log.describeTopic(t)).partitions, 2, 'the broker has the topic')
      await roundTrip(kafka, kafka, t, [`${mechanism}-1`, `${mechanism}-2`])
      await kafka.deleteTopic(t)
      assert.equal(await log.hasTopic(t), false)
    })
  }

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256'] as const) {
    test(`${mechanism} with a wrong password fails at once, naming the authentication and what to check`, async () => {
      const started = Date.now()
      await assert.rejects(
        openKafkaLog({ brokers: saslBrokers, sasl: { ...sluice(mechanism), password: 'wrong' } }),
        rejectsWith(
          'SLUICE_AUTHENTICATION_FAILED',
          /authentication failed/,
          literally(`refused user "sluice" with SASL ${mechanism}`),
          /username and password/,
          /SLUICE_KAFKA_USERNAME/,
        ),
      )
      const elapsed = Date.now() - started
      assert.ok(elapsed < 15_000, `failed after ${elapsed} ms`)
    })
  }

  test('an unknown SCRAM user is refused like a wrong password', async () => {
    await assert.rejects(
      openKafkaLog({
        brokers: saslBrokers,
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'mallory', password: 'x' },
      }),
      rejectsWith('SLUICE_AUTHENTICATION_FAILED', /refused user "mallory"/),
    )
  })

  test('a client without SASL is told the listener may want it', async () => {
    await assert.rejects(
      openKafkaLog({ brokers: saslBrokers, connectTimeoutMs: 2_000 }),
      rejectsWith('SLUICE_BROKER_UNAVAILABLE', /may want SASL/),
    )
  })
})

describe('ACLs: alice is authenticated and granted nothing', () => {
  let kafka: KafkaLog
  before(async () => {
    kafka = await open(saslBrokers, { sasl: alice })
  })

  test('writing, reading, describing and creating a topic: SLUICE_NOT_AUTHORIZED, naming the topic and the ACL', async () => {
    const t = await topic('denied')
    await log.producer().send(t, { value: enc.encode('secret') })
    const acl = literally(
      `kafka-acls.sh --bootstrap-server ${saslBrokers[0]} --add --allow-principal User:alice`,
    )
    const denied = (operation: string) =>
      rejectsWith(
        'SLUICE_NOT_AUTHORIZED',
        /not authorized/,
        literally(`denies User:alice access to topic "${t}" (TOPIC_AUTHORIZATION_FAILED)`),
        acl,
        literally(`--operation ${operation} --topic ${t}`),
      )
    const started = Date.now()
    await assert.rejects(kafka.producer().send(t, { value: enc.encode('x') }), denied('Write'))
    await assert.rejects(kafka.fetch({ topic: t, partition: 0 }, 0), denied('Read'))
    await assert.rejects(kafka.describeTopic(t), denied('Describe'))
    const tx = kafka.transaction({ id: `security-denied-${run}` })
    tx.send(t, { value: enc.encode('x') })
    await assert.rejects(tx.commit(), denied('Write'))
    assert.ok(Date.now() - started < 5_000, 'a refusal is an answer, not retried')

    const created = `security-alice-creates-${run}`
    await assert.rejects(
      kafka.createTopic(created, { partitions: 1 }),
      rejectsWith(
        'SLUICE_NOT_AUTHORIZED',
        literally(`cannot create topic "${created}"`),
        literally(`--operation Create --topic ${created}`),
      ),
    )
    assert.equal(await log.hasTopic(created), false)
    // Kafka lists only the topics a principal may describe.
    assert.ok(!(await kafka.listTopics()).includes(t))
  })

  test('joining a group with Read on the topic only: SLUICE_NOT_AUTHORIZED naming the group', async () => {
    const t = await topic('group')
    await grant(AclOperations.READ, ResourceTypes.TOPIC, t)
    const group = `security-group-${run}`
    const consumer = kafka.consumer({ group, topics: [t] })
    closers.push(() => consumer.close())
    await assert.rejects(
      consumer.poll({ waitMs: 5_000 }),
      rejectsWith(
        'SLUICE_NOT_AUTHORIZED',
        literally(`cannot join consumer group "${group}"`),
        literally(`access to consumer group "${group}" (GROUP_AUTHORIZATION_FAILED)`),
        literally(`--allow-principal User:alice --operation Read --group ${group}`),
      ),
    )
    await assert.rejects(
      kafka.committedOffsets(group, t),
      rejectsWith('SLUICE_NOT_AUTHORIZED', literally(`consumer group "${group}"`)),
    )
  })

  test('producing with Describe on the topic only: SLUICE_NOT_AUTHORIZED, advising Write on it', async () => {
    const t = await topic('describe-only')
    await grant(AclOperations.DESCRIBE, ResourceTypes.TOPIC, t)
    // Kafka refuses the producer id (CLUSTER_AUTHORIZATION_FAILED): a principal without Write
    // on any topic may not have an idempotent producer.
    await assert.rejects(
      kafka.producer().send(t, { value: enc.encode('x') }),
      rejectsWith(
        'SLUICE_NOT_AUTHORIZED',
        literally(`cannot send to topic "${t}"`),
        /CLUSTER_AUTHORIZATION_FAILED/,
        literally(`--allow-principal User:alice --operation Write --topic ${t}`),
      ),
    )
  })

  test('a transaction with Write on the topic only: SLUICE_NOT_AUTHORIZED naming the transactional id', async () => {
    const t = await topic('txn')
    await grant(AclOperations.WRITE, ResourceTypes.TOPIC, t)
    const id = `security-txn-${run}`
    const tx = kafka.transaction({ id })
    tx.send(t, { value: enc.encode('x') })
    await assert.rejects(
      tx.commit(),
      rejectsWith(
        'SLUICE_NOT_AUTHORIZED',
        literally(`cannot commit transaction "${id}"`),
        literally(`access to transactional id "${id}" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)`),
        literally(`--operation Write --transactional-id ${id}`),
      ),
    )
  })

  test('with the ACLs the messages name, alice produces, reads, and commits transactions with offsets', async () => {
    // Write and Read only, no DescribeConfigs: the producer cannot read the topic's limits and
    // leaves them to the broker. And transactions of a principal that is not a super user
    // (AddPartitionsToTxn as a client, v3, not the brokers' v4+ that needs ClusterAction).
    const t = await topic('granted')
    const group = `security-granted-${run}`
    const id = `security-granted-${run}`
    await grant(AclOperations.WRITE, ResourceTypes.TOPIC, t)
    await grant(AclOperations.READ, ResourceTypes.TOPIC, t)
    await grant(AclOperations.WRITE, ResourceTypes.TRANSACTIONAL_ID, id)
    await grant(AclOperations.READ, ResourceTypes.GROUP, group)
    await roundTrip(kafka, kafka, t, ['a1', 'a2'])
    const tx = kafka.transaction({ id })
    tx.send(t, { value: enc.encode('a3') })
    tx.commitOffsets(group, [{ topic: t, partition: 0, offset: 2 }])
    await tx.commit()
    assert.deepEqual([...(await kafka.committedOffsets(group, t))], [[0, 2]])
    const all = await log.fetch({ topic: t, partition: 0 }, 0, { waitMs: 2_000 })
    assert.deepEqual(
      all.map((r) => text(r.value)),
      ['a1', 'a2', 'a3'],
    )
  })
})

describe('TLS (127.0.0.1:9095)', () => {
  test('with the CA: a topic is created, written and read back', async () => {
    const kafka = await open(tlsBrokers, { tls: { ca: readFileSync(caFile, 'utf8') } })
    const t = `security-tls-${run}`
    await kafka.createTopic(t, { partitions: 1 })
    topics.push(t)
    await roundTrip(kafka, log, t, ['over', 'tls'])
  })

  test("without the CA (the system's CAs): the certificate is not trusted, and the message says what to pass", async () => {
    const started = Date.now()
    await assert.rejects(
      openKafkaLog({ brokers: tlsBrokers, tls: true }),
      rejectsWith(
        'SLUICE_AUTHENTICATION_FAILED',
        /TLS certificate of the broker at .* is not signed by a CA this client trusts/,
        /SELF_SIGNED_CERT_IN_CHAIN/,
        /SLUICE_KAFKA_CA=ca\.pem/,
      ),
    )
    assert.ok(Date.now() - started < 15_000)
  })

  test('a plaintext client at the TLS port is told to use TLS', async () => {
    await assert.rejects(
      openKafkaLog({ brokers: tlsBrokers }),
      rejectsWith('SLUICE_AUTHENTICATION_FAILED', /speaks TLS and this client does not/, /kafkas:\/\//),
    )
  })

  test('a TLS client at a plaintext port is told it does not speak TLS', async () => {
    await assert.rejects(
      openKafkaLog({ brokers, tls: { ca: readFileSync(caFile, 'utf8') }, connectTimeoutMs: 2_000 }),
      rejectsWith('SLUICE_AUTHENTICATION_FAILED', /does not speak TLS/),
    )
  })
})

// ---------------------------------------------------------------- sluice run

interface Run {
  running: () => boolean
  stderr: () => string
  exited: Promise<number | null>
  stop: () => Promise<number | null>
}

/** `sluice run fixtures/windowed.ts --backend <url>` in a fresh working directory. */
function sluiceRun(backend: string, env: Record<string, string> = {}, id = 'security'): Run {
  const child = spawn(
    process.execPath,
    [cli, 'run', fixture, '--backend', backend, '--instance-id', `${id}-${run}`],
    {
      cwd: tempDir(),
      env: { ...process.env, SLUICE_TEST_RUN: run, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  const chunks: string[] = []
  child.stderr!.on('data', (d: Buffer) => chunks.push(d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  closers.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  return {
    running: () => child.exitCode === null && child.signalCode === null,
    stderr: () => chunks.join(''),
    exited,
    stop: () => {
      child.kill('SIGTERM')
      return exited
    },
  }
}

async function drained(what: string, worker: Run): Promise<void> {
  const deadline = Date.now() + 120_000
  while ((await lag(log)) > 0) {
    assert.ok(worker.running(), `${what} exited early:\n${worker.stderr()}`)
    assert.ok(
      Date.now() < deadline,
      `${what} did not drain its input in 120 s:\n${worker.stderr().slice(-3_000)}`,
    )
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

describe('sluice run over SASL and TLS', () => {
  test('as alice, granted nothing: exits 1 at once with the authorization error', async () => {
    const worker = sluiceRun(`kafka://alice:alice-secret@${saslBrokers.join(',')}?sasl=plain`, {}, 'alice')
    const started = Date.now()
    assert.equal(await worker.exited, 1, worker.stderr())
    assert.ok(Date.now() - started < 30_000)
    assert.match(worker.stderr(), /sluice: error: .*not authorized: .*User:alice.*kafka-acls\.sh/)
  })

  test('kafkas:// without SLUICE_KAFKA_CA: exits 1 naming the untrusted certificate', async () => {
    const worker = sluiceRun(`kafkas://${tlsBrokers.join(',')}`, { SLUICE_KAFKA_CA: '' }, 'no-ca')
    assert.equal(await worker.exited, 1, worker.stderr())
    assert.match(worker.stderr(), /sluice: error: .*not signed by a CA this client trusts.*SLUICE_KAFKA_CA/)
  })

  test('a SCRAM worker, a TLS worker, then alice with the ACLs of the README: the input exactly once', async () => {
    const events = 30_000
    const third = events / 3
    const expected = await referenceWindows(events)
    await log.createTopic(clicksTopic, { partitions: PARTITIONS })
    const phase = async (what: string, from: number, backend: string, env: Record<string, string> = {}) => {
      await produce(log, from, from + third)
      const worker = sluiceRun(backend, env, what)
      await drained(`the ${what} worker`, worker)
      assert.equal(await worker.stop(), 0, `the ${what} worker stops cleanly:\n${worker.stderr()}`)
      assert.match(worker.stderr(), literally(`running ${windowed.name} on Kafka`))
    }
    // Creates the repartition and changelog topics as it starts.
    await phase('scram', 0, `kafka://sluice:sluice-secret@${saslBrokers.join(',')}?sasl=scram-sha-256`)
    await phase('tls', third, `kafkas://${tlsBrokers.join(',')}`, { SLUICE_KAFKA_CA: caFile })
    // README, "TLS, SASL and ACLs": everything under the pipeline's name (its group, its
    // transactional ids, its repartition, changelog and dead-letter topics), and the source
    // and sink topics.
    const prefixed = async (resourceType: ResourceTypeValue) =>
      grant(AclOperations.ALL, resourceType, windowed.name, ResourcePatternTypes.PREFIXED)
    await prefixed(ResourceTypes.TOPIC)
    await prefixed(ResourceTypes.GROUP)
    await prefixed(ResourceTypes.TRANSACTIONAL_ID)
    for (const operation of [AclOperations.READ, AclOperations.DESCRIBE_CONFIGS])
      await grant(operation, ResourceTypes.TOPIC, clicksTopic)
    for (const operation of [AclOperations.WRITE, AclOperations.DESCRIBE_CONFIGS])
      await grant(operation, ResourceTypes.TOPIC, countsTopic)
    await phase('alice', 2 * third, `kafka://${saslBrokers.join(',')}?sasl=scram-sha-512`, {
      SLUICE_KAFKA_USERNAME: 'alice',
      SLUICE_KAFKA_PASSWORD: 'alice-secret',
    })
    assert.deepEqual(await contents(log, countsTopic), expected)
  })
})
