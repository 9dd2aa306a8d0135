/**
 * The model status cache on its own, with a reader that counts its calls and answers when
 * the test says so: reuse within the cache time, one read shared by concurrent callers, a
 * bounded number of hashes, failed reads not remembered, and a timeout on a read that hangs.
 */
import type { ModelStatus } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { ChainServiceError, createModelStatusCache } from '../../src/chain/index.js'

const hash = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as Hex

function reader(statuses: Map<string, ModelStatus>) {
  const calls: string[] = []
  return {
    calls,
    read: async (modelHash: Hex) => {
      calls.push(modelHash)
      const status = statuses.get(modelHash)
      if (status === undefined) throw new Error('rpc down')
      return status
    },
  }
}

describe('model status cache', () => {
  it('reuses a read within the cache time and reads again after it, or when asked fresh', async () => {
    let now = 1_000
    const statuses = new Map<string, ModelStatus>([[hash(1), 'approved']])
    const r = reader(statuses)
    const cache = createModelStatusCache(r.read, { ttlMs: 100, maxEntries: 8, timeoutMs: 1_000 }, () => now)
    expect(await cache.status(hash(1))).toBe('approved')
    statuses.set(hash(1), 'revoked')
    now += 99
    expect(await cache.status(hash(1))).toBe('approved')
    expect(await cache.status(hash(1), { maxAgeMs: 0 })).toBe('revoked')
    now += 100
    statuses.set(hash(1), 'deprecated')
    expect(await cache.status(hash(1))).toBe('deprecated')
    expect(r.calls).toHaveLength(3)
  })

  it('shares one read among concurrent callers, whatever the case of the hash', async () => {
    const r = reader(new Map([[hash(0xab), 'proposed']]))
    const cache = createModelStatusCache(r.read, { ttlMs: 1_000, maxEntries: 8, timeoutMs: 1_000 })
    const upper = `0x${hash(0xab).slice(2).toUpperCase()}` as Hex
    const all = await Promise.all([cache.status(hash(0xab)), cache.status(upper), cache.status(hash(0xab))])
    expect(all).toEqual(['proposed', 'proposed', 'proposed'])
    expect(r.calls).toHaveLength(1)
  })

  it('keeps at most maxEntries hashes, dropping the oldest read', async () => {
    const statuses = new Map<string, ModelStatus>()
    for (let i = 0; i < 5; i++) statuses.set(hash(i), 'none')
    const r = reader(statuses)
    const cache = createModelStatusCache(r.read, { ttlMs: 60_000, maxEntries: 3, timeoutMs: 1_000 })
    for (let i = 0; i < 5; i++) await cache.status(hash(i))
    expect(r.calls).toHaveLength(5)
    // 2, 3 and 4 are remembered; 0 was dropped and is read again
    await cache.status(hash(4))
    await cache.status(hash(2))
    expect(r.calls).toHaveLength(5)
    await cache.status(hash(0))
    expect(r.calls).toHaveLength(6)
  })

  it('does not remember a failed read', async () => {
    const statuses = new Map<string, ModelStatus>()
    const r = reader(statuses)
    const cache = createModelStatusCache(r.read, { ttlMs: 60_000, maxEntries: 8, timeoutMs: 1_000 })
    await expect(cache.status(hash(7))).rejects.toThrow('rpc down')
    statuses.set(hash(7), 'approved')
    expect(await cache.status(hash(7))).toBe('approved')
    expect(r.calls).toHaveLength(2)
  })

  it('gives up on a read that does not answer in timeoutMs', async () => {
    let reads = 0
    const hanging = (_modelHash: Hex) => {
      reads++
      return new Promise<ModelStatus>(() => {})
    }
    const cache = createModelStatusCache(hanging, { ttlMs: 60_000, maxEntries: 8, timeoutMs: 50 })
    const err = await cache.status(hash(9)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainServiceError)
    expect((err as ChainServiceError).code).toBe('CHAIN_TIMEOUT')
    // the timed-out read is not cached: the next caller tries again
    await cache.status(hash(9)).catch(() => {})
    expect(reads).toBe(2)
  })
})
