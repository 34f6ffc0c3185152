/** The event store conformance suite on the embedded (LMDB) store (runs in `npm test`). */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
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
