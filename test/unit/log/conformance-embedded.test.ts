/** The Log conformance suite on the embedded log (runs in `npm test`). */
import { openEmbeddedLog } from '../../../src/log/embedded/embedded-log.ts'
import { logConformance } from '../../conformance/log-conformance.ts'
import { tempDir } from '../../helpers/temp-dir.ts'

logConformance(
  'embedded',
  async () => {
    const log = await openEmbeddedLog({ dataDir: tempDir(), cleanupIntervalMs: 0 })
    return { log, cleanup: () => log.close() }
  },
  { storageStats: true, transactionMarkers: false },
)
