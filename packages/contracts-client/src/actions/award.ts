import { type BidTerms, jobIdOf, type OfferTerms } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface AwardParameters extends WriteOptions {
  jobMarket: Address
  /** the offer; `offer.requester` must be the client's account */
  offer: OfferTerms
  /** the provider's bid for `jobIdOf(offer)` */
  bid: BidTerms
  /** the provider's EIP-712 signature over `bid` (see `signBid`) */
  signature: Hex
}

export type AwardReturnType = WriteResult & { jobId: Hex }

/**
 * Awards a job to a signed bid, escrowing `bid.price` from the requester (approve the
 * JobMarket first, or use `awardWithPermit`) and locking the provider's collateral.
 * Award before `offer.biddingEnds` (else `BiddingClosed`) and while `now + bid.etaSeconds`
 * still fits before `offer.deadline` (else `EtaPastDeadline`); the requester cannot award to
 * itself (`SelfAward`), nor to a bid whose nonce the provider invalidated (`NonceAlreadyUsed`).
 * The job is bound to the current terms (`getJobTerms`) and its leaf count to the offer.
 */
export async function award(
  client: ProtocolWalletClient,
  { jobMarket, offer, bid, signature, gas, onSent }: AwardParameters,
): Promise<AwardReturnType> {
  const { request } = await simulate('award', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'award',
      args: [offer, bid, signature],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'award', onSent)
  return { ...result, jobId: jobIdOf(offer) }
}
