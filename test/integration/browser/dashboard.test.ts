/**
 * The dashboard in real Chromium against a real `sluice run` of fixtures/sensors.ts (readings
 * counted per sensor per second; allowed lateness 0 with a late output; a step that throws on a
 * poison value): throughput figures move as events arrive, the topology shows the pipeline's
 * steps by name, a late event increments the late counter, a poison event appears in the
 * dead-letter browser and Replay re-sends it to readings, the server going away and coming back
 * is shown, and with --tokens the token prompt lets a valid token in. No page logs an error.
 * Screenshots of every page go to test-artifacts/dashboard/.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { tempDir } from '../../helpers/temp-dir.ts'
import {
  buildDashboard,
  createTopic,
  launch,
  numberIn,
  openPage,
  produce,
  type Reading,
  type Sluice,
  screenshot,
  seriesPixels,
  startSluice,
  textOf,
  until,
} from './harness.ts'

let browser: Browser

before(async () => {
  buildDashboard()
  browser = await launch()
})

after(async () => {
  await browser?.close()
})

/** Readings of sensors s0..s3 with event times just before now. */
function readings(n: number, from = 0): Reading[] {
  const now = Date.now()
  return Array.from({ length: n }, (_, i) => ({
    sensor: `s${(from + i) % 4}`,
    value: from + i,
    at: now - (n - i) * 50,
  }))
}

async function topicRecords(url: string, topic: string): Promise<number> {
  const t = (await (await fetch(`${url}/api/topics/${topic}`)).json()) as { records: number }
  return t.records
}

describe('the dashboard over a running pipeline', () => {
  let sluice: Sluice
  let page: Page
  let errors: string[]
  const dir = tempDir('sluice-dashboard-')

  before(async () => {
    // The source topic made beforehand with a retention, for the topics page to show.
    createTopic(dir, ['readings', '--partitions', '2', '--retention', '7d', '--retention-bytes', '64MiB'])
    sluice = await startSluice(dir)
    await produce(sluice.url, readings(40))
    ;({ page, errors } = await openPage(browser))
  })

  after(async () => {
    await page?.close()
    await sluice?.stop()
  })

  test('overview: the pipeline with throughput figures that move as events arrive', async () => {
    await page.goto(sluice.url)
    const row = '[data-pipeline="sensors"]'
    await page.locator(row).waitFor({ timeout: 20_000 })
    assert.equal(await textOf(page, `${row} .badge`), 'running')
    const before = await until('the first records read', async () => {
      const n = numberIn(await textOf(page, `${row} [data-figure="read"]`))
      return n >= 40 ? n : undefined
    })
    // Events keep arriving for a few seconds: the per-second rate shows them while they do.
    let sent = 0
    let sawRate = 0
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && (sent < 60 || sawRate === 0)) {
      await produce(sluice.url, readings(5, 1000 + sent))
      sent += 5
      sawRate = Math.max(sawRate, numberIn(await textOf(page, `${row} [data-figure="in-rate"]`)) || 0)
      await new Promise((r) => setTimeout(r, 200))
    }
    assert.ok(sawRate > 0, 'records in per second rose above 0 while events arrived')
    const afterRead = await until('the read count to grow', async () => {
      const n = numberIn(await textOf(page, `${row} [data-figure="read"]`))
      return n >= before + sent ? n : undefined
    })
    assert.equal(afterRead, before + sent)
    await screenshot(page, 'overview')
    assert.deepEqual(errors, [])
  })

  test("pipeline page: the topology shows the pipeline's steps, and a late event increments the late counter", async () => {
    await page.goto(`${sluice.url}/#/pipelines/sensors`)
    for (const step of [
      'readings',
      'check-value',
      'per-second-by',
      'sensors-per-second-by-repartition',
      'per-second',
      'sink-0',
    ]) {
      await page.locator(`[data-node="${step}"]`).waitFor({ timeout: 20_000 })
    }
    // Every record read from the topic goes into the first step: its per-step count catches up
    // with the source's read figure.
    await until('check-value to count every record read', async () => {
      const read = numberIn(await textOf(page, '[data-node="readings"] [data-figure="read"] b'))
      const into = numberIn(await textOf(page, '[data-node="check-value"] [data-figure="step-in"] b'))
      return read >= 40 && into === read
    })
    assert.match((await textOf(page, '[data-node="per-second"]'))!, /tumbling 1 s, lateness 0/)
    assert.match((await textOf(page, '[data-node="sink-0"]'))!, /to readings-per-second/)
    const late = '[data-node="per-second"] [data-figure="late"] b'
    const lateBefore = await until('the late figure', async () => numberIn(await textOf(page, late)))
    assert.equal(lateBefore, 0)
    // A minute behind every window the watermark has passed: late, with allowedLateness 0.
    await produce(sluice.url, [{ sensor: 's1', value: 1, at: Date.now() - 60_000 }])
    await until('the late counter to reach 1', async () => numberIn(await textOf(page, late)) === 1)
    assert.equal(numberIn(await textOf(page, '.stats [data-figure="late"] .stat-value')), 1)
    const why = (await textOf(page, '[data-test="why"] .findings'))!
    assert.match(
      why,
      /1 record reached window per-second after their window had closed \(allowed lateness 0\) and went to late-readings/,
    )
    await until(
      'the late record in late-readings',
      async () => (await topicRecords(sluice.url, 'late-readings')) === 1,
    )
    // The open windows' entries in the window store.
    await until(
      'state entries',
      async () => numberIn(await textOf(page, '[data-figure="state-entries"] .stat-value')) > 0,
    )
    await screenshot(page, 'pipeline')
    assert.deepEqual(errors, [])
  })

  test('dead letters: a poison event is listed with its error, step and origin; Replay re-sends it', async () => {
    const [landed] = await produce(sluice.url, [{ sensor: 's2', value: 'poison', at: Date.now() }])
    await page.goto(`${sluice.url}/#/topics/sensors-dlq`)
    const row = page.locator('[data-test="dead-letter"]', { hasText: 'poison value from sensor s2' })
    await row.waitFor({ timeout: 20_000 })
    assert.equal(
      (await row.locator('[data-test="dead-letter-operator"]').textContent())?.trim(),
      'sensors · check-value',
    )
    assert.equal(
      (await row.locator('[data-test="dead-letter-origin"]').textContent())?.trim(),
      `readings/${landed!.partition} @ ${landed!.offset}`,
    )
    await screenshot(page, 'dead-letters')

    const sourceBefore = await topicRecords(sluice.url, 'readings')
    const topic = (await (await fetch(`${sluice.url}/api/topics/readings`)).json()) as {
      partitionDetails: Array<{ endOffset: number }>
    }
    const next = topic.partitionDetails[landed!.partition]!.endOffset
    await row.locator('[data-test="replay"]').click()
    const result = await until('the replay result', async () => {
      const text = (await row.locator('[data-test="replay-result"]').textContent())?.trim()
      return text && text !== 'replaying…' ? text : undefined
    })
    // Back to the partition it was read from, at that partition's end.
    assert.equal(result, `replayed to readings/${landed!.partition} @ ${next}`)
    assert.equal(
      await topicRecords(sluice.url, 'readings'),
      sourceBefore + 1,
      'the source topic grew by the replayed record',
    )
    // The replayed record is the original, marked as a replay; the step throws on it again.
    await until(
      'the replay to fail again into the dead-letter topic',
      async () =>
        (await page
          .locator('[data-test="dead-letter"]', { hasText: 'poison value from sensor s2' })
          .count()) === 2,
    )
    await page.goto(`${sluice.url}/#/topics/readings`)
    await page.locator('[data-test="tail-filter"]').fill('poison')
    const replayed = page.locator('[data-test="tail-record"]', { hasText: 'sluice-replay-of=sensors-dlq/' })
    await replayed.waitFor({ timeout: 20_000 })
    assert.match((await replayed.textContent())!, /"value":"poison"/)
    assert.equal(await page.locator('[data-test="tail-status"]').textContent(), 'live')
    await screenshot(page, 'topic-tail')
    // The poison record made the runner rebuild the tasks from their last commit; the rebuilt
    // ones keep the figures: the late record of the pipeline test is still counted.
    await page.goto(sluice.url)
    await until(
      'the overview after the rewinds',
      async () =>
        numberIn(await textOf(page, '[data-pipeline="sensors"] [data-figure="dead-letters"]')) === 2,
    )
    assert.equal(numberIn(await textOf(page, '[data-pipeline="sensors"] [data-figure="late"]')), 1)
    assert.deepEqual(errors, [])
  })

  test('topics, results and latency pages show their figures', async () => {
    await page.goto(`${sluice.url}/#/topics`)
    await page.locator('[data-topic="readings"]').waitFor({ timeout: 20_000 })
    const records = numberIn(await textOf(page, '[data-topic="readings"] [data-figure="records"]'))
    assert.equal(records, await topicRecords(sluice.url, 'readings'))
    assert.equal(await textOf(page, '[data-topic="readings"] [data-figure="retention"]'), '7 d, 64 MiB')
    const { bytes } = (await (await fetch(`${sluice.url}/api/topics/readings`)).json()) as { bytes: number }
    assert.ok(bytes > 0)
    assert.match((await textOf(page, '[data-topic="readings"] [data-figure="size"]'))!, /^[\d.]+ (B|KiB)$/)
    await screenshot(page, 'topics')

    await page.goto(`${sluice.url}/#/results/topic/readings-per-second`)
    await page.locator('[data-test="result-rows"] tbody tr').first().waitFor({ timeout: 20_000 })
    await page.locator('[data-test="result-chart"] canvas').waitFor({ timeout: 20_000 })
    await until(
      'the windowed counts drawn',
      async () => (await seriesPixels(page, '[data-test="result-chart"]')) > 0,
    )
    await screenshot(page, 'results-topic')

    await page.goto(`${sluice.url}/#/results/store/sensors/per-second`)
    await page.locator('[data-test="results"]').waitFor({ timeout: 20_000 })
    await screenshot(page, 'results-store')

    await page.goto(`${sluice.url}/#/latency/sensors`)
    // Output in the last minute: the histogram has bars.
    await produce(sluice.url, readings(20, 5000))
    await page.locator('[data-test="histogram"] .bar').first().waitFor({ timeout: 20_000 })
    // Since start, across the rewinds of the dead-letter test: every record measured is counted.
    const api = (await (await fetch(`${sluice.url}/api/metrics`)).json()) as {
      pipelines: Array<{ latency: { count: number } }>
    }
    const measured = await until('records measured', async () => {
      const n = numberIn(await textOf(page, '[data-figure="measured"] .stat-value'))
      return n >= api.pipelines[0]!.latency.count ? n : undefined
    })
    assert.ok(measured >= 100, `${measured} records measured since start`)
    // The seconds with output are drawn, even one between seconds without.
    await until(
      'percentiles drawn',
      async () => (await seriesPixels(page, '[data-test="latency-chart"]')) > 0,
    )
    await screenshot(page, 'latency')
    assert.deepEqual(errors, [])
  })

  test('a server restart: a banner while it is away, then reconnected with live figures', async () => {
    await page.goto(sluice.url)
    await page.locator('[data-pipeline="sensors"]').waitFor({ timeout: 20_000 })
    const errorsBefore = errors.length
    assert.equal(await sluice.stop(), 0)
    await page
      .locator('[data-test="banner"]', { hasText: 'Server unreachable — retrying' })
      .waitFor({ timeout: 20_000 })
    assert.equal(await page.locator('[data-test="connection"].dot-down').count(), 1)
    await screenshot(page, 'server-down')
    sluice = await startSluice(dir, { port: sluice.port })
    await page.locator('[data-test="banner"]', { hasText: 'Reconnected' }).waitFor({ timeout: 20_000 })
    await page.locator('[data-test="connection"].dot-ok').waitFor({ timeout: 5_000 })
    // The browser itself logs each refused connection while the server is away; nothing else.
    const during = errors.slice(errorsBefore)
    assert.deepEqual(
      during.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/.test(e)),
      [],
    )
  })
})

describe('the dashboard with --tokens', () => {
  const TOKEN = 'dashboard-secret-1'
  let sluice: Sluice

  before(async () => {
    const dir = tempDir('sluice-dashboard-auth-')
    const tokens = join(dir, 'tokens.json')
    writeFileSync(
      tokens,
      JSON.stringify([{ token: TOKEN, read: ['*'], write: ['*'], stores: true, name: 'ops' }]),
    )
    sluice = await startSluice(join(dir, 'data'), { extra: ['--tokens', tokens] })
    await produce(sluice.url, readings(10), TOKEN)
  })

  after(async () => {
    await sluice?.stop()
  })

  test('asks for a token, refuses a wrong one, and works with the right one', async () => {
    const { page, errors } = await openPage(browser)
    try {
      await page.goto(sluice.url)
      const prompt = page.locator('[data-test="token-prompt"]')
      await prompt.waitFor({ timeout: 20_000 })
      assert.equal(
        await page.locator('[data-pipeline="sensors"]').count(),
        0,
        'nothing is shown without a token',
      )
      await screenshot(page, 'token-prompt')
      await prompt.locator('input').fill('not-the-token')
      await prompt.locator('button[type="submit"]').click()
      await page.locator('[data-test="token-refused"]').waitFor({ timeout: 10_000 })
      await prompt.locator('input').fill(TOKEN)
      await prompt.locator('button[type="submit"]').click()
      await page.locator('[data-pipeline="sensors"]').waitFor({ timeout: 20_000 })
      assert.equal(await prompt.count(), 0)
      assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice-token')), TOKEN)
      // EventSource carries the token as ?token=: the live tail works too.
      await page.goto(`${sluice.url}/#/topics/readings`)
      await page.locator('[data-test="tail-record"]').first().waitFor({ timeout: 20_000 })
      assert.equal(await page.locator('[data-test="tail-status"]').textContent(), 'live')
      await screenshot(page, 'with-token')
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
})
