/**
 * Bidders' standing (free stake and on-chain record), read once per bidding window per
 * provider: jobs whose windows close together share the reads, and a flood of bids from one
 * identity costs one read. An award locks collateral, so the cached free stake of the winner
 * is lowered at once: the next job closing in the same window does not award on stake that
 * is no longer free (the award would revert).
 */
import { getProviderRecord, getStake } from '@ocn/contracts-client'
import type { Address } from 'viem'
import { BoundedMap } from '../../core/collections.js'
import { jobMarket, type RequesterContext } from './context.js'
import type { BidderStanding } from './ranking.js'

/** providers remembered at once; more are read again */
const MAX_CACHED_PROVIDERS = 4096

interface CachedStanding {
  standing: Promise<BidderStanding>
  readAt: number
}

export class BidderStandings {
  private readonly cache = new BoundedMap<string, CachedStanding>(MAX_CACHED_PROVIDERS)

  constructor(
    private readonly context: Pick<RequesterContext, 'chain'>,
    /** how long a read is used: one bidding window */
    private readonly ttlMs: () => number,
  ) {}

  /** The provider's standing, from the cache while it is younger than a bidding window. */
  standing(provider: Address): Promise<BidderStanding> {
    const key = provider.toLowerCase()
    const cached = this.cache.get(key)
    if (cached !== undefined && Date.now() - cached.readAt < this.ttlMs()) return cached.standing
    const standing = this.read(provider)
    this.cache.set(key, { standing, readAt: Date.now() })
    // a failed read is not cached: the next award tries again
    standing.catch(() => this.cache.delete(key))
    return standing
  }

  /** An award locked `collateral` of the provider's stake: the cached free stake goes down by it. */
  locked(provider: Address, collateral: bigint): void {
    const key = provider.toLowerCase()
    const cached = this.cache.get(key)
    if (cached === undefined) return
    const standing = cached.standing.then((s) => ({
      ...s,
      freeStake: s.freeStake > collateral ? s.freeStake - collateral : 0n,
    }))
    this.cache.set(key, { standing, readAt: cached.readAt })
  }

  private async read(provider: Address): Promise<BidderStanding> {
    const { chain } = this.context
    const [stake, record] = await Promise.all([
      getStake(chain.client, { stakeManager: chain.deployment.addresses.stakeManager, account: provider }),
      getProviderRecord(chain.client, { jobMarket: jobMarket(this.context), provider }),
    ])
    return {
      freeStake: stake.free,
      record: { completed: record.completed, slashed: record.slashed, noShows: record.noShows },
    }
  }
}
