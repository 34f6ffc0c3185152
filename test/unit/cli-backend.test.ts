import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { parseBackend } from '../../src/cli/backend.ts'
import { tempDir } from '../helpers/temp-dir.ts'

test('backend URLs: embedded, Kafka brokers, TLS and SASL', () => {
  assert.deepEqual(parseBackend('run', undefined), { kind: 'embedded' })
  assert.deepEqual(parseBackend('run', 'embedded'), { kind: 'embedded' })
  assert.deepEqual(parseBackend('run', 'kafka://127.0.0.1:9092'), {
    kind: 'kafka',
    brokers: ['127.0.0.1:9092'],
  })
  assert.deepEqual(parseBackend('run', 'kafka://a:9092,b:9093/'), {
    kind: 'kafka',
    brokers: ['a:9092', 'b:9093'],
  })
  assert.deepEqual(parseBackend('run', 'kafkas://k:9093', {}), {
    kind: 'kafka',
    brokers: ['k:9093'],
    tls: {},
  })
  assert.deepEqual(parseBackend('run', 'kafka://ada:s%40cret@k:9092?sasl=scram-sha-512&tls=true', {}), {
    kind: 'kafka',
    brokers: ['k:9092'],
    tls: {},
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'ada', password: 's@cret' },
  })
  assert.deepEqual(
    parseBackend('run', 'kafka://k:9092?sasl=plain', {
      SLUICE_KAFKA_USERNAME: 'u',
      SLUICE_KAFKA_PASSWORD: 'p',
    }),
    { kind: 'kafka', brokers: ['k:9092'], sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
  )
})

test('bad backend URLs name the problem and show a good one', () => {
  const cases: Array<[string, RegExp]> = [
    ['postgres://x:5432', /not a backend URL.*kafka:\/\/127\.0\.0\.1:9092/],
    ['kafka://localhost', /broker "localhost" is not host:port/],
    ['kafka://k:9092?acks=all', /unknown option "acks"/],
    ['kafka://k:9092?sasl=kerberos', /unknown SASL mechanism "kerberos"/],
    ['kafka://k:9092?sasl=plain', /SASL needs a username and password/],
  ]
  for (const [url, message] of cases) assert.throws(() => parseBackend('run', url, {}), message, url)
})

test('sluice run --backend with a bad URL exits 2 before loading anything', async () => {
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname
    const child = spawn(process.execPath, [
      main,
      'run',
      'nothing.ts',
      '--backend',
      'kafka://nohost',
      '--data-dir',
      tempDir(),
    ])
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => resolve({ code, stderr }))
  })
  assert.equal(result.code, 2)
  assert.match(result.stderr, /broker "nohost" is not host:port/)
})
