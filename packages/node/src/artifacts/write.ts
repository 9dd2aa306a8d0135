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

/** The bytes of an artifact; a chunk must not be changed after it was yielded (writes are batched). */
export type ArtifactSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface ArtifactWriterContext {
  layout: ArtifactLayout
  /** size of a stored artifact, undefined when absent */
  size: (hash: ContentHash) => Promise<number | undefined>
  metrics: ArtifactStoreMetrics
  log: Logger
}

/**
 * Chunks are gathered into writes of about this many bytes, and one write is on the disk
 * while the next is gathered: a network source yields Noise frames of at most 64 KiB, and one
 * awaited write per frame left the receiver waiting on the thread pool for every frame.
 */
const WRITE_BATCH_BYTES = 2 ** 20

/** writes every byte of `buffers` at the file's position, in order */
async function writeAll(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let rest = buffers
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest)
    let skip = bytesWritten
    const next: Uint8Array[] = []
    for (const b of rest) {
      if (skip >= b.length) skip -= b.length
      else {
        next.push(skip > 0 ? b.subarray(skip) : b)
        skip = 0
      }
    }
    rest = next
  }
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
  let batch: Uint8Array[] = []
  let batchBytes = 0
  let writing: Promise<void> = Promise.resolve()
  const flush = async () => {
    await writing
    writing = writeAll(handle, batch)
    // awaited by the next flush or at the end; marked handled so a failure surfacing while
    // the loop throws for another reason is not an unhandled rejection
    writing.catch(() => undefined)
    batch = []
    batchBytes = 0
  }
  try {
    for await (const chunk of source) {
      throwIfAborted(signal)
      written += chunk.length
      if (written > limit) {
        throw new ArtifactStoreError(ArtifactStoreErrorCode.TOO_LARGE, 'artifact too large', {
          details: `more than ${limit} bytes`,
        })
      }
      hasher.update(chunk)
      batch.push(chunk)
      batchBytes += chunk.length
      if (batchBytes >= WRITE_BATCH_BYTES) await flush()
    }
    if (batch.length > 0) await flush()
    await writing
  } catch (error) {
    // no write may still run when the caller closes the handle
    await writing.catch(() => undefined)
    throw error
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
