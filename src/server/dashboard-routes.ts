/**
 * The dashboard's files, built by `npm run build` (Vite) into `dashboard/dist`:
 *
 *   GET /                   index.html (the app routes on the URL hash, so this is its only page)
 *   GET /assets/<file>      scripts and styles, named by content hash: cached for a year
 *
 * The files are read when asked for, so a build made while the server runs is served at once.
 * Without a build, `/` answers 503 saying how to make one.
 */
import { readFile } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist/', import.meta.url))

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
}

/** The app loads only its own files and talks only to this server. */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

const MISSING =
  'the dashboard is not built: run "npm run build" in the sluice directory (npm install runs it too), then reload'

export async function dashboardRoutes(app: FastifyInstance, options: { dir?: string }): Promise<void> {
  const dir = options.dir ?? DEFAULT_DASHBOARD_DIR

  const index = async (request: FastifyRequest, reply: FastifyReply) => {
    let html: Buffer
    try {
      html = await readFile(join(dir, 'index.html'))
    } catch {
      void reply.code(503).header('cache-control', 'no-store')
      if ((request.headers.accept ?? '').includes('text/html')) {
        return reply
          .type('text/html; charset=utf-8')
          .send(
            `<!doctype html><meta charset="utf-8"><title>Sluice dashboard not built</title>` +
              `<p style="font:16px system-ui;margin:3em">${MISSING}.<br>The API works without it: ` +
              `<a href="/api/metrics">/api/metrics</a>, <a href="/health">/health</a>.</p>`,
          )
      }
      return reply.send({ error: MISSING, code: 'SLUICE_DASHBOARD_NOT_BUILT' })
    }
    return reply
      .type(TYPES['.html']!)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .send(html)
  }
  app.get('/', index)
  app.get('/index.html', index)

  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const { file } = request.params
    // Only plain names: nothing outside the assets directory can be asked for.
    if (!/^[\w.-]+$/.test(file) || file.startsWith('.')) return notFound(reply, file)
    let body: Buffer
    try {
      body = await readFile(join(dir, 'assets', file))
    } catch {
      return notFound(reply, file)
    }
    return reply
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(body)
  })
}

function notFound(reply: FastifyReply, file: string): FastifyReply {
  return reply.code(404).send({
    error: `no dashboard asset "${file}": reload the page (a rebuild renames assets)`,
    code: 'SLUICE_NOT_FOUND',
  })
}
