/**
 * Writing an artifact, write-once: the bytes go to a temp file, are hashed on the way,
 * fsynced, checked against the expected hash, and only then renamed to their name. A crash
 * leaves at worst a temp file (removed on start), never a half-written artifact under a
 * valid name.
 */
import { createHash, type Hash } from 'node:crypto'
import { type FileHandle, open, rename, rm } from 'node:fs/promises'
import type { ContentHash } from '@ocn/protocol'
import type { Logger } from '../core/logger.js'
import { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
import { type ArtifactLayout, syncDirectory, throwIfAborted } from './layout.js'
import type { ArtifactStoreMetrics } from './metrics.js'

export interface PutOptions {
  /** refuse (and discard) the bytes unless they hash to this */
  expectedHash?: ContentHash
  /** lower per-call limit than the store's maxArtifactBytes */
  maxBytes?: number
  signal?: AbortSignal
}

export interface PutResult {
  hash: ContentHash
  size: number
  /** false when the artifact was already stored (write-once: the old file is kept) */
  created: boolean
}

export type ArtifactSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface ArtifactWriterContext {
  layout: ArtifactLayout
  /** size of a stored artifact, undefined when absent */
  size: (hash: ContentHash) => Promise<number | undefined>
  metrics: ArtifactStoreMetrics
  log: Logger
}

/** copies `source` into the file, hashing it, and fails once more than `limit` bytes came */
async function copyHashed(
  source: ArtifactSource,
  handle: FileHandle,
  hasher: Hash,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  let written = 0
  for await (const chunk of source) {
    throwIfAborted(signal)
    written += chunk.length
    if (written > limit) {
      throw new ArtifactStoreError(ArtifactStoreErrorCode.TOO_LARGE, 'artifact too large', {
        details: `more than ${limit} bytes`,
      })
    }
    hasher.update(chunk)
    let offset = 0
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset)
      offset += bytesWritten
    }
  }
  return written
}

function checkExpected(hash: ContentHash, expected: ContentHash | undefined): void {
  if (expected !== undefined && hash !== expected) {
    throw new ArtifactStoreError(
      ArtifactStoreErrorCode.HASH_MISMATCH,
      'artifact bytes do not match their hash',
      {
        details: `expected ${expected}, got ${hash}`,
      },
    )
  }
}

/** Stores `source` under its hash (at most `limit` bytes); the caller has checked expectedHash's form. */
export async function writeArtifact(
  context: ArtifactWriterContext,
  source: ArtifactSource,
  limit: number,
  putOptions: PutOptions,
): Promise<PutResult> {
  const { layout, metrics, log } = context
  const tmpPath = layout.newTempPath()
  const hasher = createHash('sha256')
  let handle: FileHandle | undefined
  let renamed = false
  try {
    throwIfAborted(putOptions.signal)
    handle = await open(tmpPath, 'wx', 0o644)
    const written = await copyHashed(source, handle, hasher, limit, putOptions.signal)
    await handle.sync()
    await handle.close()
    handle = undefined
    const hash = `0x${hasher.digest('hex')}` as ContentHash
    checkExpected(hash, putOptions.expectedHash)
    const target = layout.pathOf(hash)
    if ((await context.size(hash)) !== undefined) {
      return { hash, size: written, created: false }
    }
    await rename(tmpPath, target)
    renamed = true
    await syncDirectory(layout.blobDir)
    metrics.bytesWritten.inc(written)
    log.debug({ hash, size: written }, 'artifact stored')
    return { hash, size: written, created: true }
  } catch (error) {
    if (error instanceof ArtifactStoreError) throw error
    throw new ArtifactStoreError(ArtifactStoreErrorCode.IO_ERROR, 'cannot write artifact', { cause: error })
  } finally {
    if (handle !== undefined) await handle.close().catch(() => {})
    if (!renamed) await rm(tmpPath, { force: true }).catch(() => {})
  }
}
