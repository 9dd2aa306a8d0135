/**
 * The content-addressed artifact store: models, inputs and outputs on disk, each named
 * by the SHA-256 of its bytes (see `@ocn/protocol` content hashes).
 *
 * - Write-once: bytes go to a temp file, are hashed on the way, fsynced, checked against
 *   the expected hash, and only then renamed to their name. A crash leaves at worst a
 *   temp file (removed on start), never a half-written artifact under a valid name.
 * - No path from outside: every public method takes a content hash, checked against
 *   /^0x[0-9a-f]{64}$/ before any path is built, so "../" can never reach the disk.
 * - Streaming both ways with constant memory, whatever the artifact size.
 */
import { createHash, randomUUID } from 'node:crypto'
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type ContentHash, isContentHash } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.js'
import { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
import { type ArtifactStoreMetrics, createArtifactStoreMetrics } from './metrics.js'
import { type ArtifactStoreOptions, defaultArtifactStoreOptions } from './options.js'

export interface ArtifactStoreComponents {
  logger: Logger
  registry?: Registry
}

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

export interface GetOptions {
  signal?: AbortSignal
}

export interface ArtifactStore {
  start(): Promise<void>
  stop(): Promise<void>
  has(hash: ContentHash): Promise<boolean>
  /** size in bytes, or undefined when not stored */
  size(hash: ContentHash): Promise<number | undefined>
  put(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: PutOptions): Promise<PutResult>
  putBytes(bytes: Uint8Array, options?: PutOptions): Promise<PutResult>
  /** streams the artifact's bytes; throws NOT_FOUND before yielding anything if absent */
  get(hash: ContentHash, options?: GetOptions): Promise<AsyncIterable<Uint8Array>>
  /** reads a whole (small) artifact into memory, refusing ones larger than maxBytes */
  getBytes(hash: ContentHash, options?: GetOptions & { maxBytes?: number }): Promise<Uint8Array>
}

export type ArtifactStoreInit = Partial<ArtifactStoreOptions> & Pick<ArtifactStoreOptions, 'directory'>

function checkedName(hash: unknown): string {
  if (!isContentHash(hash)) {
    throw new ArtifactStoreError(ArtifactStoreErrorCode.INVALID_HASH, 'not a content hash', {
      details: 'artifact names are 0x followed by 64 lowercase hex digits',
    })
  }
  return hash.slice(2)
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new ArtifactStoreError(ArtifactStoreErrorCode.ABORTED, 'aborted', { cause: signal.reason })
}

export function createArtifactStore(
  init: ArtifactStoreInit,
  components: ArtifactStoreComponents,
): ArtifactStore {
  const options: ArtifactStoreOptions = { ...defaultArtifactStoreOptions, ...init }
  const log = components.logger.child({ component: 'artifact-store' })
  const metrics: ArtifactStoreMetrics = createArtifactStoreMetrics(components.registry)
  const blobDir = join(options.directory, 'sha256')
  const tmpDir = join(options.directory, 'tmp')
  let started = false

  const pathOf = (hash: ContentHash) => join(blobDir, checkedName(hash))

  function ensureStarted(): void {
    if (!started)
      throw new ArtifactStoreError(ArtifactStoreErrorCode.NOT_STARTED, 'artifact store not started')
  }

  async function size(hash: ContentHash): Promise<number | undefined> {
    ensureStarted()
    const path = pathOf(hash)
    try {
      const s = await stat(path)
      return s.isFile() ? s.size : undefined
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ArtifactStoreError(ArtifactStoreErrorCode.IO_ERROR, 'cannot stat artifact', { cause: error })
    }
  }

  async function put(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    putOptions: PutOptions = {},
  ): Promise<PutResult> {
    ensureStarted()
    if (putOptions.expectedHash !== undefined) checkedName(putOptions.expectedHash)
    const limit = Math.min(putOptions.maxBytes ?? options.maxArtifactBytes, options.maxArtifactBytes)
    const tmpPath = join(tmpDir, `${randomUUID()}.part`)
    const hasher = createHash('sha256')
    let written = 0
    let handle: FileHandle | undefined
    let renamed = false
    try {
      aborted(putOptions.signal)
      handle = await open(tmpPath, 'wx', 0o644)
      for await (const chunk of source) {
        aborted(putOptions.signal)
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
      await handle.sync()
      await handle.close()
      handle = undefined
      const hash = `0x${hasher.digest('hex')}` as ContentHash
      if (putOptions.expectedHash !== undefined && hash !== putOptions.expectedHash) {
        throw new ArtifactStoreError(
          ArtifactStoreErrorCode.HASH_MISMATCH,
          'artifact bytes do not match their hash',
          {
            details: `expected ${putOptions.expectedHash}, got ${hash}`,
          },
        )
      }
      const target = pathOf(hash)
      if ((await size(hash)) !== undefined) {
        return { hash, size: written, created: false }
      }
      await rename(tmpPath, target)
      renamed = true
      await syncDirectory(blobDir)
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

  async function get(hash: ContentHash, getOptions: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    ensureStarted()
    const path = pathOf(hash)
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ArtifactStoreError(ArtifactStoreErrorCode.NOT_FOUND, 'artifact not in store', {
          details: hash,
        })
      }
      throw new ArtifactStoreError(ArtifactStoreErrorCode.IO_ERROR, 'cannot open artifact', { cause: error })
    }
    const chunkBytes = options.readChunkBytes
    async function* read(): AsyncGenerator<Uint8Array> {
      try {
        while (true) {
          aborted(getOptions.signal)
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
    return read()
  }

  return {
    async start() {
      await mkdir(blobDir, { recursive: true })
      await mkdir(tmpDir, { recursive: true })
      // leftovers of writes interrupted by a crash
      for (const name of await readdir(tmpDir)) {
        if (name.endsWith('.part')) await rm(join(tmpDir, name), { force: true })
      }
      started = true
    },
    async stop() {
      started = false
    },
    async has(hash) {
      return (await size(hash)) !== undefined
    },
    size,
    put,
    putBytes(bytes, putOptions) {
      return put([bytes], putOptions)
    },
    get,
    async getBytes(hash, getOptions = {}) {
      const total = await size(hash)
      if (total === undefined) {
        throw new ArtifactStoreError(ArtifactStoreErrorCode.NOT_FOUND, 'artifact not in store', {
          details: hash,
        })
      }
      const max = getOptions.maxBytes ?? 64 * 2 ** 20
      if (total > max) {
        throw new ArtifactStoreError(
          ArtifactStoreErrorCode.TOO_LARGE,
          'artifact too large to read into memory',
          {
            details: `${total} > ${max} bytes; stream it with get()`,
          },
        )
      }
      const out = new Uint8Array(total)
      let offset = 0
      for await (const chunk of await get(hash, getOptions)) {
        if (offset + chunk.length > total) break
        out.set(chunk, offset)
        offset += chunk.length
      }
      return out.subarray(0, offset)
    },
  }
}

async function syncDirectory(path: string): Promise<void> {
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
