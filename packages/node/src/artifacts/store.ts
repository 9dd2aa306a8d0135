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
import type { ContentHash } from '@ocn/protocol'
import type { Registry } from 'prom-client'
import type { Logger } from '../core/logger.js'
import { ArtifactStoreError, ArtifactStoreErrorCode } from './errors.js'
import { ArtifactLayout, checkedName, fileSize } from './layout.js'
import { type ArtifactStoreMetrics, createArtifactStoreMetrics } from './metrics.js'
import { type ArtifactStoreOptions, defaultArtifactStoreOptions } from './options.js'
import {
  checkFitsInMemory,
  collect,
  defaultMaxInMemoryBytes,
  type GetOptions,
  notFound,
  openArtifact,
  readChunks,
} from './read.js'
import { type ArtifactSource, type PutOptions, type PutResult, writeArtifact } from './write.js'

export type { GetOptions } from './read.js'
export type { PutOptions, PutResult } from './write.js'

export interface ArtifactStoreComponents {
  logger: Logger
  registry?: Registry
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

export function createArtifactStore(
  init: ArtifactStoreInit,
  components: ArtifactStoreComponents,
): ArtifactStore {
  const options: ArtifactStoreOptions = { ...defaultArtifactStoreOptions, ...init }
  const log = components.logger.child({ component: 'artifact-store' })
  const metrics: ArtifactStoreMetrics = createArtifactStoreMetrics(components.registry)
  const layout = new ArtifactLayout(options.directory)
  let started = false

  function ensureStarted(): void {
    if (!started)
      throw new ArtifactStoreError(ArtifactStoreErrorCode.NOT_STARTED, 'artifact store not started')
  }

  async function size(hash: ContentHash): Promise<number | undefined> {
    ensureStarted()
    return fileSize(layout.pathOf(hash))
  }

  async function put(source: ArtifactSource, putOptions: PutOptions = {}): Promise<PutResult> {
    ensureStarted()
    if (putOptions.expectedHash !== undefined) checkedName(putOptions.expectedHash)
    const limit = Math.min(putOptions.maxBytes ?? options.maxArtifactBytes, options.maxArtifactBytes)
    return writeArtifact({ layout, size, metrics, log }, source, limit, putOptions)
  }

  async function get(hash: ContentHash, getOptions: GetOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    ensureStarted()
    const handle = await openArtifact(layout.pathOf(hash), hash)
    return readChunks(handle, options.readChunkBytes, metrics, getOptions.signal)
  }

  return {
    async start() {
      await layout.prepare()
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
      if (total === undefined) throw notFound(hash)
      checkFitsInMemory(total, getOptions.maxBytes ?? defaultMaxInMemoryBytes)
      return collect(await get(hash, getOptions), total)
    },
  }
}
