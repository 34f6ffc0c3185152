/**
 * Queries for a key held by another worker of a consumer group: each worker advertises its
 * HTTP server and tasks in the worker directory; a worker asked for a key it does not hold
 * sends the query on to the worker that does and relays its answer. Two GroupRunners on one
 * embedded log (a consumer group there behaves as on Kafka), each with its own server.
 */
import { test } from 'node:test'
import { openEmbeddedLog } from 'sluice'
import { checkQueryRouting } from '../../helpers/query-routing.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

test('a worker answers a key another worker holds by asking that worker', async () => {
  await checkQueryRouting(await openEmbeddedLog({ dataDir: tempDir() }), 'embedded', 20_000)
})
