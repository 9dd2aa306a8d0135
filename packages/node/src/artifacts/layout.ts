/**
 * Where artifacts live on disk: `<directory>/sha256/<hex>` for stored ones and
 * `<directory>/tmp/<uuid>.part` for writes in progress. Every path is built from a checked
 * content hash, so no name from outside ("../") ever reaches the disk.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type ContentHash, isContentHash } from '@ocn/protocol'
import { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'

/** the file name of an artifact; throws INVALID_HASH for anything but a content hash */
export function checkedName(hash: unknown): string {
  if (!isContentHash(hash)) {
    throw new ArtifactStoreError(ArtifactStoreErrorCode.INVALID_HASH, 'not a content hash', {
      details: 'artifact names are 0x followed by 64 lowercase hex digits',
    })
  }
  return hash.slice(2)
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new ArtifactStoreError(ArtifactStoreErrorCode.ABORTED, 'aborted', { cause: signal.reason })
}

export class ArtifactLayout {
  readonly blobDir: string
  readonly tmpDir: string

  constructor(directory: string) {
    this.blobDir = join(directory, 'sha256')
    this.tmpDir = join(directory, 'tmp')
  }

  pathOf(hash: ContentHash): string {
    return join(this.blobDir, checkedName(hash))
  }

  newTempPath(): string {
    return join(this.tmpDir, `${randomUUID()}.part`)
  }

  /** creates the directories and removes the leftovers of writes interrupted by a crash */
  async prepare(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
    for (const name of await readdir(this.tmpDir)) {
      if (name.endsWith('.part')) await rm(join(this.tmpDir, name), { force: true })
    }
  }
}

/** the size of the file at `path`, or undefined when there is none */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path)
    return s.isFile() ? s.size : undefined
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ArtifactStoreError(ArtifactStoreErrorCode.IO_ERROR, 'cannot stat artifact', { cause: error })
  }
}

export async function syncDirectory(path: string): Promise<void> {
  // makes the rename durable; not every platform allows fsync on a directory
  try {
    const dir = await open(path, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  } catch {
    // best effort
  }
}
