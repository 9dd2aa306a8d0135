/**
 * Model statuses read from the deployment's ModelRegistry, for nodes configured to run
 * approved models only. A provider asks once per offer it considers, so reads are cached
 * for a short while (a revocation is seen within `ttlMs`), the cache is bounded (offers name
 * arbitrary hashes: a flood of them must not grow memory), concurrent reads of one hash share
 * one RPC call, and every read gives up after `timeoutMs`. Failed reads are not cached.
 */
import type { ModelStatus } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { withTimeout as withDeadline } from '../core/time.js'
import { ChainServiceError } from './errors.js'

export interface ModelStatusCacheOptions {
  /** how long a status read stays good */
  ttlMs: number
  /** most hashes remembered; the oldest read is dropped beyond it */
  maxEntries: number
  /** one registry read gives up after this */
  timeoutMs: number
}

export const defaultModelStatusCacheOptions: ModelStatusCacheOptions = {
  ttlMs: 5_000,
  maxEntries: 1_024,
  timeoutMs: 10_000,
}

export interface ModelStatusReadOptions {
  /** a cached status older than this is read again; 0 always reads the chain */
  maxAgeMs?: number
}

export interface ModelStatusCache {
  status(modelHash: Hex, options?: ModelStatusReadOptions): Promise<ModelStatus>
}

interface Entry {
  readAt: number
  value: Promise<ModelStatus>
}

export function createModelStatusCache(
  read: (modelHash: Hex) => Promise<ModelStatus>,
  options: ModelStatusCacheOptions = defaultModelStatusCacheOptions,
  now: () => number = Date.now,
): ModelStatusCache {
  const entries = new Map<string, Entry>()

  function withTimeout(modelHash: Hex): Promise<ModelStatus> {
    return withDeadline(
      () => read(modelHash),
      options.timeoutMs,
      () =>
        new ChainServiceError(
          'CHAIN_TIMEOUT',
          `the model registry did not answer within ${options.timeoutMs} ms`,
          {
            details: `reading the status of model ${modelHash}`,
          },
        ),
    )
  }

  return {
    status(modelHash, readOptions = {}) {
      const key = modelHash.toLowerCase()
      const maxAge = Math.min(readOptions.maxAgeMs ?? options.ttlMs, options.ttlMs)
      const cached = entries.get(key)
      if (cached !== undefined && now() - cached.readAt < maxAge) return cached.value
      const entry: Entry = { readAt: now(), value: withTimeout(modelHash) }
      // re-inserted at the end, so the first key is always the oldest read
      entries.delete(key)
      entries.set(key, entry)
      while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as string)
      entry.value.catch(() => {
        if (entries.get(key) === entry) entries.delete(key)
      })
      return entry.value
    },
  }
}
