import { type BidTerms, jobIdOf, type OfferTerms } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface AwardBatchParameters extends WriteOptions {
  jobMarket: Address
  /** one entry per job: the offer (its `requester` must be the client's account), the
   * provider's bid for `jobIdOf(offer)` and its EIP-712 signature (see `signBid`) */
  awards: readonly { offer: OfferTerms; bid: BidTerms; signature: Hex }[]
}

export type AwardBatchReturnType = WriteResult & { jobIds: Hex[] }

/**
 * Awards several jobs in one transaction, escrowing the summed prices with one transfer (approve
 * the JobMarket for the total first). All or nothing: an award `award` would refuse reverts the
 * whole batch with that award's error, before any gas is spent (the call is simulated first).
 */
export async function awardBatch(
  client: ProtocolWalletClient,
  { jobMarket, awards, gas, onSent }: AwardBatchParameters,
): Promise<AwardBatchReturnType> {
  const { request } = await simulate('awardBatch', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'awardBatch',
      args: [awards.map((a) => a.offer), awards.map((a) => a.bid), awards.map((a) => a.signature)],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'awardBatch', onSent)
  return { ...result, jobIds: awards.map((a) => jobIdOf(a.offer)) }
}
