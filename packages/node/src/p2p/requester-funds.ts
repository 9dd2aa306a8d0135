/**
 * Whether an offer's requester can pay what it offers: its prepaid balance in the JobMarket
 * covers the offer's maxPrice (an award then takes the price from there, chain/reads.ts
 * `escrowSource`), or its OPEN balance (and, when asked for, its allowance to the JobMarket) does. Before this, a correctly signed
 * offer from a fresh key with no tokens passed validation and providers bid on copies of
 * real jobs (issue 13).
 *
 * Reads go through a reader the daemon builds on the chain layer; answers are cached per
 * requester: a covering answer for `ttlMs`, a short one only `shortfallTtlMs` (a requester that
 * just got funded is heard again soon), and one read in flight per requester at a time, so a
 * flood of offers from one address costs one RPC call. `invalidate` drops an entry when a chain
 * event says the requester's tokens moved.
 */
import type { Address } from 'viem'
import { escrowSource } from '../chain/reads.js'
import { BoundedMap } from '../core/collections.js'
import { withTimeout } from '../core/time.js'

export interface Funds {
  balance: bigint
  /** allowance to the JobMarket */
  allowance: bigint
  /** prepaid balance in the JobMarket (absent: none); used for an award only when it covers the price */
  market?: bigint
}

export type FundsReader = (requester: Address, signal: AbortSignal) => Promise<Funds>

export interface RequesterFundsOptions {
  /** how long a covering answer is trusted */
  ttlMs: number
  /** how long a short answer is trusted */
  shortfallTtlMs: number
  /** requesters remembered */
  capacity: number
  /** a read that takes longer counts as unknown */
  readTimeoutMs: number
  /**
   * also require the allowance to cover maxPrice (on by default: the requester role raises its
   * allowance before it publishes an offer, roles/requester/allowance.ts)
   */
  requireAllowance: boolean
}

export const defaultRequesterFundsOptions: RequesterFundsOptions = {
  ttlMs: 30_000,
  shortfallTtlMs: 2_000,
  capacity: 4096,
  readTimeoutMs: 5_000,
  requireAllowance: true,
}

export type FundsVerdict = 'covered' | 'short-balance' | 'short-allowance' | 'unknown'

interface Entry {
  funds: Funds
  at: number
}

export class RequesterFunds {
  private readonly cache: BoundedMap<string, Entry>
  private readonly reading = new Map<string, Promise<Funds | undefined>>()

  constructor(
    private readonly read: FundsReader,
    readonly options: RequesterFundsOptions = defaultRequesterFundsOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new BoundedMap(options.capacity)
  }

  async covers(requester: Address, amount: bigint): Promise<FundsVerdict> {
    const key = requester.toLowerCase()
    const cached = this.cache.get(key)
    if (cached !== undefined) {
      const verdict = this.judge(cached.funds, amount)
      const ttl = verdict === 'covered' ? this.options.ttlMs : this.options.shortfallTtlMs
      if (this.now() - cached.at < ttl) return verdict
    }
    const funds = await this.fresh(key, requester)
    return funds === undefined ? 'unknown' : this.judge(funds, amount)
  }

  /** forgets what is known about a requester (its tokens moved) */
  invalidate(requester: string): void {
    this.cache.delete(requester.toLowerCase())
  }

  /** requesters cached (bounded by `capacity`) */
  get size(): number {
    return this.cache.size
  }

  private judge(funds: Funds, amount: bigint): FundsVerdict {
    const source = escrowSource({ balance: funds.balance, market: funds.market ?? 0n }, amount)
    // paid from the deposit: no transferFrom, so no allowance needed
    if (source === 'market') return 'covered'
    if (source === undefined) return 'short-balance'
    if (this.options.requireAllowance && funds.allowance < amount) return 'short-allowance'
    return 'covered'
  }

  private fresh(key: string, requester: Address): Promise<Funds | undefined> {
    const pending = this.reading.get(key)
    if (pending !== undefined) return pending
    const read = withTimeout(
      (signal) => this.read(requester, signal),
      this.options.readTimeoutMs,
      () => new Error('funds read timed out'),
    )
      .then((funds) => {
        this.cache.set(key, { funds, at: this.now() })
        return funds
      })
      .catch(() => undefined)
      .finally(() => this.reading.delete(key))
    this.reading.set(key, read)
    return read
  }
}
