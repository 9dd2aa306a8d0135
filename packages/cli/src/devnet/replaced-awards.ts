/**
 * The money of offers a job replaced (re-offers). A replaced offer that was awarded on chain
 * (a no-show, an award whose record write failed) escrowed its price from the requester like
 * any job: until it expires for the refund, the market holds it; should its provider commit
 * after all, it is paid like any job. The devnet's money checks need every such award, so a
 * chain read that fails is retried and then fails the summary: skipping it would hide a paid
 * award (the requester's delta would not add up, with nothing in the summary to say why).
 */
import type { Address } from 'viem'
import { DevnetError } from './errors.js'
import { sleep } from './sleep.js'

/** What a replaced offer's award was on chain when the balances were read. */
export interface ReplacedAward<J> {
  job: J
  id: string
  status: string
  provider: Address
  price: bigint
}

/** The fields of a summary job this module fills in. */
export interface ReplacedAwardMoney {
  /** the offers the job replaced, oldest first */
  superseded?: string[]
  /** price still escrowed in the JobMarket for replaced offers */
  escrowHeld?: bigint
  /** replaced offers whose award was settled by paying its provider */
  latePaid?: { id: string; provider: Address; price: bigint }[]
}

/** Statuses whose price the JobMarket still holds in escrow. */
const ESCROWED = new Set(['awarded', 'committed'])
/** Statuses in which the JobMarket paid the award's price to its provider. */
const PAID = new Set(['finalized'])

/** Reads of one award tried this many times before the summary fails. */
const READ_ATTEMPTS = 4
const READ_RETRY_MS = 500

/** An on-chain award as the reader gets it (`status: 'none'`: the offer was never awarded). */
export interface AwardOnChain {
  status: string
  provider: Address
  price: bigint
}

/**
 * The on-chain awards of every job's replaced offers (an offer never awarded has none). A read
 * that keeps failing throws DEVNET_CHAIN_FAILED instead of leaving the award out.
 */
export async function readReplacedAwards<J extends ReplacedAwardMoney>(
  jobs: readonly J[],
  read: (jobId: string) => Promise<AwardOnChain>,
  retryMs = READ_RETRY_MS,
): Promise<ReplacedAward<J>[]> {
  const awards: ReplacedAward<J>[] = []
  for (const job of jobs) {
    for (const id of job.superseded ?? []) {
      const onChain = await readWithRetries(id, read, retryMs)
      if (onChain.status === 'none') continue
      awards.push({ job, id, status: onChain.status, provider: onChain.provider, price: onChain.price })
    }
  }
  return awards
}

async function readWithRetries(
  id: string,
  read: (jobId: string) => Promise<AwardOnChain>,
  retryMs: number,
): Promise<AwardOnChain> {
  let last: unknown
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    try {
      return await read(id)
    } catch (error) {
      last = error
      await sleep(retryMs)
    }
  }
  throw new DevnetError('DEVNET_CHAIN_FAILED', `cannot read the award of replaced offer ${id}`, {
    cause: last,
    details: `${READ_ATTEMPTS} reads of JobMarket.getJob failed; without it the money checks cannot add up (is the chain still running?)`,
  })
}

/**
 * Books each award on its job: an escrowed price as `escrowHeld` (the requester's, held by the
 * market), a paid one in `latePaid`. Expired (refunded) and slashed (refunded) awards move
 * nothing the requester keeps. Each job's fields are set from these awards alone.
 */
export function bookReplacedAwards<J extends ReplacedAwardMoney>(
  jobs: readonly J[],
  awards: readonly ReplacedAward<J>[],
): void {
  for (const job of jobs) {
    delete job.escrowHeld
    delete job.latePaid
  }
  for (const award of awards) {
    if (ESCROWED.has(award.status)) award.job.escrowHeld = (award.job.escrowHeld ?? 0n) + award.price
    if (PAID.has(award.status)) {
      award.job.latePaid = [
        ...(award.job.latePaid ?? []),
        { id: award.id, provider: award.provider, price: award.price },
      ]
    }
  }
}
