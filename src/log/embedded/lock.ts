import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { SluiceError } from '../../errors.ts'

/**
 * One process owns a data directory for writing: the log keeps the next offset of each
 * partition in memory, so a second writer would hand out the same offsets. A lock file
 * holding the owner's pid enforces it; a lock left by a process that died (kill -9) is taken
 * over, since a dead pid cannot write any more.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const path = join(dataDir, 'LOCK')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => rmSync(path, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new SluiceError(
          'SLUICE_DATA_DIR_LOCKED',
          owner === process.pid
            ? `data directory ${dataDir} is already open in this process; share the one Log instead of opening it twice.`
            : `data directory ${dataDir} is in use by process ${owner}. Stop that process, or use another --data-dir.`,
        )
      }
      rmSync(path, { force: true })
    }
  }
  throw new SluiceError(
    'SLUICE_DATA_DIR_LOCKED',
    `could not lock data directory ${dataDir}; another process races for it`,
  )
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
