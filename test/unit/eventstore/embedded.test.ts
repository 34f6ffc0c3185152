/** The event store conformance suite on the embedded (LMDB) store (runs in `npm test`), and what is the embedded store's own. */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { open } from 'lmdb'
import { isSluiceError } from '../../../src/errors.ts'
import { openEmbeddedEventStore } from '../../../src/eventstore/embedded/embedded-event-store.ts'
import { eventStoreConformance } from '../../conformance/event-store.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

const root = tempDir('sluice-eventstore-')
let n = 0

eventStoreConformance('embedded', {
  async newTarget() {
    const dataDir = join(root, `store-${++n}`)
    return {
      config: { kind: 'embedded', dataDir },
      cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
    }
  },
  capabilities: { densePositions: true },
})

describe('embedded event store', () => {
  test('one writer per data directory; read-only openers beside it; another format is refused', async () => {
    const dataDir = join(root, 'own')
    const store = await openEmbeddedEventStore({ dataDir })
    try {
      await store.append('s', [{ type: 'A', data: 1 }])
      await assert.rejects(openEmbeddedEventStore({ dataDir }), (error) => {
        assert.ok(isSluiceError(error, 'SLUICE_DATA_DIR_LOCKED'))
        assert.match((error as Error).message, /already open in this process/)
        return true
      })
      const reader = await openEmbeddedEventStore({ dataDir, readOnly: true })
      try {
        assert.equal(await reader.headPosition(), 1)
        await store.append('s', [{ type: 'B', data: 2 }])
        assert.deepEqual(
          (await reader.readStream('s')).map((e) => e.type),
          ['A', 'B'],
          'a read-only opener sees what the writer commits',
        )
        await assert.rejects(reader.append('s', [{ type: 'C', data: 3 }]), /open read-only/)
      } finally {
        await reader.close()
      }
    } finally {
      await store.close()
    }
    await assert.rejects(
      openEmbeddedEventStore({ dataDir: join(root, 'none'), readOnly: true }),
      /no event store/,
    )

    const env = open({ path: join(dataDir, 'events', 'events.mdb') })
    await env.openDB<number, string>('meta', { encoding: 'msgpack' }).put('format', 99)
    await env.close()
    await assert.rejects(openEmbeddedEventStore({ dataDir }), (error) => {
      assert.ok(isSluiceError(error, 'SLUICE_SCHEMA_MISMATCH'))
      assert.match((error as Error).message, /has format 99, this Sluice reads format 1.*a newer one/)
      return true
    })
  })
})
