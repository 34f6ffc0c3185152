/**
 * What the dashboard's browser tests share: `sluice run` as a child process on a free port,
 * events through HTTP ingest, Chromium through playwright-core with every console error and
 * page error collected, screenshots into test-artifacts/dashboard/, and polling until a
 * condition holds (the dashboard refreshes every second).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url))
export const FIXTURE = fileURLToPath(new URL('./fixtures/sensors.ts', import.meta.url))
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url))

/** Builds the dashboard from its sources, so the tests never look at a stale build. */
export function buildDashboard(): void {
  execFileSync(
    process.execPath,
    [
      `${ROOT}node_modules/vite/bin/vite.js`,
      'build',
      '--config',
      `${ROOT}dashboard/vite.config.ts`,
      '--logLevel',
      'warn',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  )
}

export interface Sluice {
  url: string
  port: number
  child: ChildProcess
  stderr(): string
  stop(): Promise<number | null>
}

/** `sluice run <fixture> --port <port> --threads 1 --data-dir <dir>`, once it serves HTTP. */
export async function startSluice(
  dir: string,
  options: { port?: number; extra?: string[] } = {},
): Promise<Sluice> {
  const args = [
    MAIN,
    'run',
    FIXTURE,
    '--port',
    String(options.port ?? 0),
    '--threads',
    '1',
    '--data-dir',
    dir,
  ]
  const child = spawn(process.execPath, [...args, ...(options.extra ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice run did not start serving:\n${stderr}`)), 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
      const m = /serving (http:\/\/[\d.]+:\d+)/.exec(stderr)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then((code) => reject(new Error(`sluice run exited with ${code}:\n${stderr}`)))
  })
  return {
    url,
    port: Number(new URL(url).port),
    child,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM')
      return exited
    },
  }
}

export interface Reading {
  sensor: string
  value: number | string
  at: number
}

/** Appends readings through `POST /topics/readings/events` (NDJSON); returns where they landed. */
export async function produce(
  url: string,
  readings: readonly Reading[],
  token?: string,
): Promise<Array<{ partition: number; offset: number }>> {
  const res = await fetch(`${url}/topics/readings/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-ndjson',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: readings.map((r) => JSON.stringify(r)).join('\n'),
  })
  const body = (await res.json()) as { records: Array<{ partition: number; offset: number }>; error?: string }
  if (!res.ok) throw new Error(`ingest answered ${res.status}: ${body.error}`)
  return body.records
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/** `sluice topics create <args>` on the data directory, before `sluice run` opens it. */
export function createTopic(dir: string, args: readonly string[]): void {
  execFileSync(process.execPath, [MAIN, 'topics', 'create', ...args, '--data-dir', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

/** A page the size of a common laptop screen (1366×768), whose console errors and uncaught exceptions are collected. */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } })
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`)
  })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  return { page, errors }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })
}

/** Polls `check` until it returns something other than undefined/false; fails naming `what`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** The text of the first element matching `selector`, or undefined when there is none. */
export async function textOf(page: Page, selector: string): Promise<string | undefined> {
  const el = page.locator(selector).first()
  if ((await el.count()) === 0) return undefined
  return ((await el.textContent()) ?? '').trim()
}

/**
 * Pixels of a chart's canvas in one of the series colours (dashboard/src/components/chart.tsx
 * PALETTE): more than 0 when uPlot drew a line or a dot, 0 for an empty chart.
 */
export async function seriesPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    // The test's TypeScript has no DOM types: the little it uses, declared here.
    interface Canvas {
      width: number
      height: number
      getContext(
        kind: '2d',
      ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null
    }
    const doc = (globalThis as unknown as { document: { querySelector(s: string): Canvas | null } }).document
    const canvas = doc.querySelector(`${sel} canvas`)
    const ctx = canvas?.getContext('2d')
    if (!canvas || !ctx) return 0
    const colours = [
      [0x25, 0x63, 0xeb],
      [0xd9, 0x77, 0x06],
      [0xdc, 0x26, 0x26],
      [0x7c, 0x3a, 0xed],
    ]
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data
    let n = 0
    for (let i = 0; i < d.length; i += 4) {
      if (
        colours.some(
          ([r, g, b]) => Math.abs(d[i]! - r!) + Math.abs(d[i + 1]! - g!) + Math.abs(d[i + 2]! - b!) < 40,
        )
      )
        n++
    }
    return n
  }, selector)
}

/** `1,234` → 1234 (the dashboard groups digits). */
export function numberIn(text: string | undefined): number {
  return text === undefined ? Number.NaN : Number(text.replace(/[^\d.-]/g, ''))
}
