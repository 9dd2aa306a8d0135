/**
 * Artifact transfer between real nodes on 127.0.0.1: a 64 MiB file streamed and
 * hash-verified, a peer serving corrupted bytes detected and skipped, a missing artifact
 * reported as such without hanging.
 */
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import { type ContentHash, contentHashOf, createContentHasher, encodeMessage } from '@ocn/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ARTIFACT_PROTOCOL, P2PError, P2PErrorCode } from '../../src/p2p/index.js'
import { connect, startNode, stopNodes, type TestNode, waitFor } from './helpers.js'

const MiB = 2 ** 20
let fetcher: TestNode
let honest: TestNode
let corrupt: TestNode
let empty: TestNode

/** Streams `size` pseudo-random bytes in 1 MiB chunks into a node's store. */
async function storeRandom(node: TestNode, size: number): Promise<ContentHash> {
  const chunks = (function* () {
    for (let left = size; left > 0; left -= MiB) yield randomBytes(Math.min(MiB, left))
  })()
  const { hash } = await node.store.put(chunks)
  return hash
}

/** Puts the same bytes under the name on a malicious node, with one byte flipped. */
async function plantCorruptCopy(from: TestNode, to: TestNode, hash: ContentHash): Promise<void> {
  const bytes = await from.store.getBytes(hash, { maxBytes: 64 * MiB })
  const middle = bytes.length >> 1
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff
  // a malicious node does not go through the store's checks: write the file directly
  await writeFile(join(to.storeDir, 'sha256', hash.slice(2)), bytes)
}

async function hashOfStored(node: TestNode, hash: ContentHash): Promise<ContentHash> {
  const hasher = createContentHasher()
  for await (const chunk of await node.store.get(hash)) hasher.update(chunk)
  return hasher.digest()
}

beforeAll(async () => {
  fetcher = await startNode()
  honest = await startNode()
  corrupt = await startNode()
  empty = await startNode()
  for (const peer of [honest, corrupt, empty]) await connect(fetcher, peer)
})

afterAll(async () => {
  await stopNodes([fetcher, honest, corrupt, empty])
})

describe('artifact protocol', () => {
  it('transfers a 64 MiB artifact and verifies its hash', async () => {
    const hash = await storeRandom(honest, 64 * MiB)
    const result = await fetcher.artifacts.fetch(hash, [honest.peerId])
    expect(result).toEqual({ hash, size: 64 * MiB, created: true })
    expect(await fetcher.store.size(hash)).toBe(64 * MiB)
    expect(await hashOfStored(fetcher, hash)).toBe(hash)
    // fetching again is served from the local store
    expect((await fetcher.artifacts.fetch(hash, [honest.peerId])).created).toBe(false)
  })

  it('detects a peer serving corrupted bytes and gets the artifact from a second peer', async () => {
    const hash = await storeRandom(honest, 8 * MiB)
    await plantCorruptCopy(honest, corrupt, hash)
    const result = await fetcher.artifacts.fetch(hash, [corrupt.peerId, honest.peerId])
    expect(result.hash).toBe(hash)
    expect(await hashOfStored(fetcher, hash)).toBe(hash)
    expect(fetcher.artifacts.misbehavingPeers()).toContain(corrupt.peerId)

    // the corrupt peer is not asked again, and alone it cannot deliver
    const other = await storeRandom(honest, MiB)
    await plantCorruptCopy(honest, corrupt, other)
    const error = await fetcher.artifacts.fetch(other, [corrupt.peerId]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PError)
    expect((error as P2PError).code).toBe(P2PErrorCode.ALL_PEERS_FAILED)
    expect((error as P2PError).causes[0]?.code).toBe(P2PErrorCode.HASH_MISMATCH)
    expect(await fetcher.store.has(other)).toBe(false)
  })

  it('a corrupt peer alone is reported as HASH_MISMATCH and nothing is stored', async () => {
    const victim = await startNode()
    try {
      await connect(victim, corrupt)
      const hash = await storeRandom(honest, MiB)
      await plantCorruptCopy(honest, corrupt, hash)
      const error = await victim.artifacts.fetch(hash, [corrupt.peerId]).catch((e: unknown) => e)
      expect((error as P2PError).causes.map((c) => c.code)).toEqual([P2PErrorCode.HASH_MISMATCH])
      expect(await victim.store.has(hash)).toBe(false)
    } finally {
      await stopNodes([victim])
    }
  })

  it('a missing artifact gives a clear ARTIFACT_NOT_FOUND, not a hang', async () => {
    const missing = contentHashOf(randomBytes(32))
    const error = await fetcher.artifacts
      .fetch(missing, [empty.peerId, honest.peerId])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(P2PError)
    expect((error as P2PError).code).toBe(P2PErrorCode.ARTIFACT_NOT_FOUND)
    expect((error as P2PError).causes).toHaveLength(2)
  })

  it('refuses an invalid name before any I/O and honours an aborted signal', async () => {
    await expect(
      fetcher.artifacts.fetch('../../etc/passwd' as ContentHash, [honest.peerId]),
    ).rejects.toMatchObject({
      code: P2PErrorCode.PROTOCOL_VIOLATION,
    })
    const hash = await storeRandom(honest, MiB)
    const controller = new AbortController()
    controller.abort()
    await expect(
      fetcher.artifacts.fetch(hash, [honest.peerId], { signal: controller.signal }),
    ).rejects.toBeDefined()
    expect(await fetcher.store.has(hash)).toBe(false)
  })

  it('refuses an artifact announced larger than the caller allows', async () => {
    const hash = await storeRandom(honest, 2 * MiB)
    const error = await fetcher.artifacts
      .fetch(hash, [honest.peerId], { maxBytes: MiB })
      .catch((e: unknown) => e)
    expect((error as P2PError).causes[0]?.code).toBe(P2PErrorCode.TOO_LARGE)
    expect(await fetcher.store.has(hash)).toBe(false)
  })
})

describe('bounded uploads (issue 13)', () => {
  /** asks `server` for `hash` and never reads the answer (the stream is paused at once) */
  async function stalledRead(reader: TestNode, server: TestNode, hash: ContentHash) {
    const stream = await reader.host.dialProtocol(server.host.getMultiaddrs()[0]!, ARTIFACT_PROTOCOL)
    stream.pause()
    await lpStream(stream).write(encodeMessage('artifactRequest', { version: 1, hash }))
    return stream
  }

  it('a stalled reader holds at most its share, is cut off at the idle deadline, penalised and refused; a trusted peer keeps a slot', async () => {
    const server = await startNode({
      artifacts: {
        idleTimeoutMs: 500,
        uploadSlots: { total: 3, reservedForTrusted: 1, maxPerPeer: 1, maxPerTrustedPeer: 2 },
      },
    })
    const staller = await startNode()
    const stranger = await startNode()
    const trusted = await startNode()
    try {
      for (const peer of [staller, stranger, trusted]) await connect(peer, server)
      const big = await storeRandom(server, 16 * MiB)
      const small = await storeRandom(server, 1024)
      await stalledRead(staller, server, big)
      await stalledRead(staller, server, big)
      await waitFor(() => server.artifacts.uploadUsage().uploads === 1, 5_000, 'the stalled upload')
      // its second read got `busy` (its share is 1); the stranger takes the last untrusted slot
      await stalledRead(stranger, server, big)
      await waitFor(() => server.artifacts.uploadUsage().uploads === 2, 5_000, 'the stranger upload')
      // untrusted peers hold 2 of 3: a third stranger is busy, the trusted peer is served
      const refused = await staller.artifacts
        .fetch(small, [server.peerId], { busyRetries: 0 })
        .catch((e: unknown) => e)
      expect((refused as P2PError).causes[0]?.code).toBe(P2PErrorCode.BUSY)
      server.artifacts.trustPeer(trusted.peerId, Date.now() + 60_000)
      expect((await trusted.artifacts.fetch(small, [server.peerId])).hash).toBe(small)
      // the idle deadline cuts both stalled uploads off; both readers are penalised
      await waitFor(() => server.artifacts.uploadUsage().uploads === 0, 10_000, 'the stalls to be cut off')
      expect(server.penalties.isRefused(staller.peerId)).toBe(true)
      expect(server.penalties.appScore(stranger.peerId)).toBeLessThan(0)
      // refused at once now, even for a small file
      const again = await stranger.artifacts.fetch(small, [server.peerId]).catch((e: unknown) => e)
      expect(again).toBeInstanceOf(P2PError)
      expect(await stranger.store.has(small)).toBe(false)
    } finally {
      await stopNodes([server, staller, stranger, trusted])
    }
  })
})
