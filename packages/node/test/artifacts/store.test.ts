import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ContentHash, contentHashOf } from '@ocn/protocol'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ArtifactStore,
  ArtifactStoreError,
  ArtifactStoreErrorCode,
  createArtifactStore,
} from '../../src/artifacts/index.js'
import { silentLogger } from '../../src/core/logger.js'

let dir: string
let store: ArtifactStore

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-store-'))
  store = createArtifactStore({ directory: dir, maxArtifactBytes: 4 * 2 ** 20 }, { logger: silentLogger })
  await store.start()
})

afterEach(async () => {
  await store.stop()
  await rm(dir, { recursive: true, force: true })
})

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ArtifactStoreError)
  return (error as ArtifactStoreError).code
}

describe('artifact store', () => {
  it('stores under the SHA-256 of the bytes and streams them back', async () => {
    const bytes = randomBytes(1_000_000)
    const chunks = [bytes.subarray(0, 1), bytes.subarray(1, 700_000), bytes.subarray(700_000)]
    const result = await store.put(chunks)
    expect(result).toEqual({ hash: contentHashOf(bytes), size: bytes.length, created: true })
    expect(await store.has(result.hash)).toBe(true)
    expect(await store.size(result.hash)).toBe(bytes.length)
    expect(Buffer.from(await store.getBytes(result.hash)).equals(bytes)).toBe(true)
    let total = 0
    for await (const chunk of await store.get(result.hash)) total += chunk.length
    expect(total).toBe(bytes.length)
  })

  it('writes many small chunks in order across batches, and a source failing midway leaves nothing', async () => {
    const bytes = randomBytes(3 * 2 ** 20 + 12_345)
    const sizes = [1, 7_000, 65_519, 300_000, 2 ** 20, 13]
    const chunks: Uint8Array[] = []
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = Math.min(sizes[k % sizes.length]!, bytes.length - at)
      chunks.push(bytes.subarray(at, at + n))
      at += n
    }
    const result = await store.put(chunks)
    expect(result.hash).toBe(contentHashOf(bytes))
    expect(Buffer.from(await store.getBytes(result.hash)).equals(bytes)).toBe(true)
    async function* failing() {
      yield* chunks.slice(0, 8)
      throw new Error('peer went away')
    }
    expect(await codeOf(store.put(failing()))).toBe(ArtifactStoreErrorCode.IO_ERROR)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })

  it('is write-once: a second put of the same bytes keeps the first file', async () => {
    const bytes = randomBytes(100)
    expect((await store.putBytes(bytes)).created).toBe(true)
    expect((await store.putBytes(bytes)).created).toBe(false)
  })

  it('discards bytes that do not match the expected hash, and oversized ones', async () => {
    const bytes = randomBytes(1000)
    const wrong = contentHashOf(randomBytes(10))
    expect(await codeOf(store.putBytes(bytes, { expectedHash: wrong }))).toBe(
      ArtifactStoreErrorCode.HASH_MISMATCH,
    )
    expect(await store.has(contentHashOf(bytes))).toBe(false)
    expect(await codeOf(store.putBytes(randomBytes(5 * 2 ** 20)))).toBe(ArtifactStoreErrorCode.TOO_LARGE)
    expect(await codeOf(store.putBytes(bytes, { maxBytes: 999 }))).toBe(ArtifactStoreErrorCode.TOO_LARGE)
    // nothing half-written is left behind
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(await readdir(join(dir, 'sha256'))).toEqual([])
  })

  it('refuses any name that is not a content hash before touching the disk', async () => {
    const secret = join(dir, 'secret')
    await writeFile(secret, 'do not serve')
    const names = [
      '../secret',
      `0x${'a'.repeat(63)}/`,
      `0x${'A'.repeat(64)}`,
      `0x${'a'.repeat(62)}..`,
      '',
      `${contentHashOf(new Uint8Array([1]))}\u0000`,
    ]
    for (const name of names) {
      expect(await codeOf(store.has(name as ContentHash))).toBe(ArtifactStoreErrorCode.INVALID_HASH)
      expect(await codeOf(store.get(name as ContentHash))).toBe(ArtifactStoreErrorCode.INVALID_HASH)
      expect(await codeOf(store.putBytes(new Uint8Array(1), { expectedHash: name as ContentHash }))).toBe(
        ArtifactStoreErrorCode.INVALID_HASH,
      )
    }
  })

  it('reports a missing artifact as NOT_FOUND and aborts on signal', async () => {
    const missing = contentHashOf(randomBytes(8))
    expect(await codeOf(store.get(missing))).toBe(ArtifactStoreErrorCode.NOT_FOUND)
    expect(await store.size(missing)).toBeUndefined()
    const controller = new AbortController()
    controller.abort()
    expect(await codeOf(store.putBytes(randomBytes(10), { signal: controller.signal }))).toBe(
      ArtifactStoreErrorCode.ABORTED,
    )
  })

  it('removes temp files left by an interrupted write on start', async () => {
    await writeFile(join(dir, 'tmp', 'crashed.part'), 'partial')
    const again = createArtifactStore({ directory: dir }, { logger: silentLogger })
    await again.start()
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
  })
})
