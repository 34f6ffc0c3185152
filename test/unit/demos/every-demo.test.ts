/**
 * What every demo does the same way, through the real CLI: its --help has examples of the
 * common flags; --seed picks the generated data (the records in the log are the generator's
 * for that seed), --rate caps how many are sent in --duration; the results reach what the
 * dashboard's Results page reads while the demo runs (the topology's output topics, and a
 * live SSE stream of one of them); and a taken default port does not cost the dashboard.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { ShopGenerator } from '../../../examples/ecommerce/generator.ts'
import { FraudGenerator } from '../../../examples/fraud/generator.ts'
import { IotGenerator } from '../../../examples/iot/generator.ts'
import { scoreLine, servedUrl, sluice } from '../../helpers/demo-cli.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const DEMOS = ['fraud', 'iot', 'ecommerce'] as const

test('sluice demo --help and each demo’s --help show examples of --rate, --duration, --seed and --backend', async () => {
  const top = await sluice(['demo', '--help']).done
  assert.equal(top.code, 0)
  assert.match(top.stdout, /^Usage: sluice demo <name>/)
  assert.match(top.stdout, /Demos: fraud, iot, ecommerce/)
  assert.match(top.stdout, /Example:\n {2}sluice demo fraud/)
  assert.match(top.stdout, /sluice demo \w+ --rate \d+ --duration \w+ --seed \d+/)
  assert.match(top.stdout, /sluice demo \w+ --backend kafka:\/\//)
  for (const name of DEMOS) {
    const { code, stdout } = await sluice(['demo', name, '--help']).done
    assert.equal(code, 0, name)
    assert.match(stdout, new RegExp(`^Usage: sluice demo ${name} \\[options\\]`), name)
    for (const flag of ['--rate', '--events', '--duration', '--seed', '--backend', '--port'])
      assert.match(stdout, new RegExp(`^ {2}${flag} `, 'm'), `${name} --help lists ${flag}`)
    const examples = stdout.slice(stdout.indexOf('\nExample:\n'))
    assert.ok(examples.length > 10, `${name} --help has an Example section`)
    for (const example of [
      new RegExp(`sluice demo ${name} +#`),
      new RegExp(`sluice demo ${name} --rate \\d+ --duration \\w+ --seed \\d+`),
      new RegExp(`sluice demo ${name} --backend kafka://`),
    ])
      assert.match(examples, example, `${name} --help examples`)
  }
})

test('sluice demo: a bad --rate, --duration or --seed is a usage error that names the flag', async () => {
  for (const [flag, value, message] of [
    ['--rate', '0', /--rate/],
    ['--duration', 'soon', /--duration/],
    ['--seed', '-1', /--seed/],
  ] as const) {
    const run = sluice(['demo', 'fraud', '--port', '0', flag, value])
    const { code } = await run.done
    assert.equal(code, 2, `${flag} ${value}: ${run.stderr()}`)
    assert.match(run.stderr(), message)
    assert.match(run.stderr(), /run "sluice demo --help" for usage/)
  }
})

test('sluice demo: flags may come before the demo name', async () => {
  // "0" is --rate's value, not the demo: the error is about --rate, not an unknown demo "0".
  const run = sluice(['demo', '--rate', '0', 'fraud', '--port', '0'])
  const { code } = await run.done
  assert.equal(code, 2, run.stderr())
  assert.match(run.stderr(), /--rate/)
  assert.doesNotMatch(run.stderr(), /unknown demo/)
})

/** Consumes a topic of a kept --data-dir as the CLI prints it: one JSON value per record. */
async function values(dir: string, topic: string): Promise<unknown[]> {
  const { code, stdout } = await sluice(['consume', topic, '--from-beginning', '--data-dir', dir]).done
  assert.equal(code, 0, `consume ${topic}`)
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { value: unknown }).value)
}

/** The same records, whatever the partitions did to their order. */
const sameRecords = (a: unknown[], b: unknown[]) =>
  assert.deepEqual(a.map((v) => JSON.stringify(v)).sort(), b.map((v) => JSON.stringify(v)).sort())

/** Reads a topic's SSE stream (as the Results page does) until the first record; returns its data. */
async function firstStreamed(url: string, topic: string): Promise<unknown> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), 30_000)
  try {
    const response = await fetch(`${url}/topics/${encodeURIComponent(topic)}/stream?from=earliest`, {
      signal: abort.signal,
    })
    assert.equal(response.status, 200)
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of response.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true })
      const m = /event: record\ndata: (.+)\n/.exec(text)
      if (m) return JSON.parse(m[1]!)
    }
    assert.fail(`the stream of ${topic} ended without a record: ${text}`)
  } finally {
    clearTimeout(timer)
    abort.abort()
  }
}

const cases = [
  {
    name: 'fraud',
    // --duration with --rate: at most rate × duration are sent.
    args: ['--rate', '1000', '--duration', '3s'],
    outputs: ['fraud-alerts'],
    streamed: 'fraud-alerts',
    sent: /^fraud demo: ([\d,]+) transactions/m,
    async check(dir: string, sent: number) {
      assert.ok(sent > 0 && sent <= 3_000, `--rate 1000 --duration 3s sent ${sent}`)
      const g = new FraudGenerator({ seed: 7 })
      sameRecords(
        await values(dir, 'card-transactions'),
        Array.from({ length: sent }, () => g.next()),
      )
    },
  },
  {
    name: 'iot',
    args: ['--rate', '4000', '--events', '12000'],
    outputs: ['iot-alerts', 'iot-room-climate', 'device-commands'],
    streamed: 'iot-room-climate',
    sent: /^iot demo: ([\d,]+) readings/m,
    async check(dir: string, sent: number) {
      assert.equal(sent, 12_000)
      const g = new IotGenerator({ seed: 7 })
      sameRecords(
        await values(dir, 'iot-readings'),
        Array.from({ length: sent }, () => g.next()),
      )
      sameRecords(await values(dir, 'iot-devices'), g.devices)
    },
  },
  {
    name: 'ecommerce',
    args: ['--rate', '2000', '--events', '5000'],
    outputs: ['shop-trending', 'shop-recommendations', 'shop-abandoned-carts', 'shop-alerts'],
    streamed: 'shop-recommendations',
    sent: /^ecommerce demo: ([\d,]+) events/m,
    async check(dir: string, sent: number) {
      assert.equal(sent, 5_000)
      const g = new ShopGenerator({ seed: 7 })
      const deliveries = Array.from({ length: sent }, () => g.next())
      for (const [topic, name] of [
        ['clicks', 'shop-clicks'],
        ['changes', 'shop-product-changes'],
        ['products', 'shop-products'],
      ] as const) {
        const expected = deliveries.filter((d) => d.topic === topic).map((d) => d.value)
        assert.ok(expected.length > 0, topic)
        sameRecords(await values(dir, name), expected)
      }
    },
  },
]

for (const demo of cases) {
  test(`sluice demo ${demo.name} --seed 7: the log holds the generator's records for seed 7; results stream to the dashboard while it runs`, async () => {
    const dir = tempDir()
    const run = sluice(['demo', demo.name, ...demo.args, '--seed', '7', '--port', '0', '--data-dir', dir])
    const url = await servedUrl(run)
    // The Results page offers the topology's output topics, and tails the one picked over SSE.
    const { pipelines } = (await (await fetch(`${url}/api/pipelines`)).json()) as {
      pipelines: Array<{ sinkTopics: string[] }>
    }
    const offered = pipelines.flatMap((p) => p.sinkTopics)
    for (const topic of demo.outputs) assert.ok(offered.includes(topic), `${topic} in ${offered.join(', ')}`)
    const first = await firstStreamed(url, demo.streamed)
    assert.ok(typeof first === 'object' && first !== null && 'value' in first, JSON.stringify(first))

    const { code, stdout } = await run.done
    assert.equal(code, 0, run.stderr())
    assert.match(run.stderr(), /\(seed 7\)/)
    scoreLine(stdout)
    const sent = Number(demo.sent.exec(stdout)?.[1]?.replaceAll(',', ''))
    await demo.check(dir, sent)
  })
}

test('sluice demo with the default port taken serves the dashboard on a free one', async () => {
  // Hold 8080 if it is free; if something else holds it, the demo must cope all the same.
  const holder = createServer()
  const held = await new Promise<boolean>((resolve) => {
    holder.once('error', () => resolve(false))
    holder.listen(8080, '127.0.0.1', () => resolve(true))
  })
  try {
    const run = sluice(['demo', 'fraud', '--events', '1000'])
    const url = await servedUrl(run)
    if (held) {
      assert.notEqual(new URL(url).port, '8080')
      assert.match(run.stderr(), /port 8080 is in use; serving the dashboard on a free port instead/)
    }
    assert.equal((await fetch(`${url}/`)).status, 200)
    const { code } = await run.done
    assert.equal(code, 0, run.stderr())
  } finally {
    if (held) await new Promise((resolve) => holder.close(resolve))
  }
})
