/** Reading an artifact: streamed in fixed-size chunks, or whole when it is small. */
import { type FileHandle, open } from 'node:fs/promises'
import type { ContentHash } from '@ocn/protocol'
import { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
import { throwIfAborted } from './layout.js'
import type { ArtifactStoreMetrics } from './metrics.js'

export interface GetOptions {
  signal?: AbortSignal
}

/** the largest artifact getBytes reads into memory unless told otherwise */
export const defaultMaxInMemoryBytes = 64 * 2 ** 20

export function notFound(hash: ContentHash): ArtifactStoreError {
  return new ArtifactStoreError(ArtifactStoreErrorCode.NOT_FOUND, 'artifact not in store', { details: hash })
}

/** opens the artifact at `path`; throws NOT_FOUND when it is absent */
export async function openArtifact(path: string, hash: ContentHash): Promise<FileHandle> {
  try {
    return await open(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(hash)
    throw new ArtifactStoreError(ArtifactStoreErrorCode.IO_ERROR, 'cannot open artifact', { cause: error })
  }
}

/** the file's bytes in chunks of `chunkBytes`; closes the file when done or abandoned */
export async function* readChunks(
  handle: FileHandle,
  chunkBytes: number,
  metrics: ArtifactStoreMetrics,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  try {
    while (true) {
      throwIfAborted(signal)
      // a fresh buffer per chunk: consumers may keep it (e.g. queued on a stream)
      const buffer = new Uint8Array(chunkBytes)
      const { bytesRead } = await handle.read(buffer, 0, chunkBytes, null)
      if (bytesRead === 0) return
      metrics.bytesRead.inc(bytesRead)
      yield bytesRead === chunkBytes ? buffer : buffer.subarray(0, bytesRead)
    }
  } finally {
    await handle.close().catch(() => {})
  }
}

export function checkFitsInMemory(total: number, max: number): void {
  if (total > max) {
    throw new ArtifactStoreError(ArtifactStoreErrorCode.TOO_LARGE, 'artifact too large to read into memory', {
      details: `${total} > ${max} bytes; stream it with get()`,
    })
  }
}

/** the first `total` bytes of `chunks` in one buffer (fewer if the file shrank meanwhile) */
export async function collect(chunks: AsyncIterable<Uint8Array>, total: number): Promise<Uint8Array> {
  const out = new Uint8Array(total)
  let offset = 0
  for await (const chunk of chunks) {
    if (offset + chunk.length > total) break
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out.subarray(0, offset)
}
