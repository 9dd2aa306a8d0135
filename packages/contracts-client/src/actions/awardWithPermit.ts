import { type BidTerms, jobIdOf, type OfferTerms } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { signPermit } from './signPermit.js'

export interface AwardWithPermitParameters extends WriteOptions {
  jobMarket: Address
  token: Address
  offer: OfferTerms
  bid: BidTerms
  signature: Hex
  /** unix seconds until which the permit is valid; defaults to the offer's deadline */
  permitDeadline?: bigint
}

export type AwardWithPermitReturnType = WriteResult & { jobId: Hex }

/** As `award`, signing an ERC-2612 permit for the escrow instead of a separate approval. */
export async function awardWithPermit(
  client: ProtocolWalletClient,
  { jobMarket, token, offer, bid, signature, permitDeadline, gas }: AwardWithPermitParameters,
): Promise<AwardWithPermitReturnType> {
  const deadline = permitDeadline ?? offer.deadline
  const permit = await signPermit(client, { token, spender: jobMarket, value: bid.price, deadline })
  const { request } = await simulate('awardWithPermit', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'awardWithPermit',
      args: [offer, bid, signature, deadline, permit.v, permit.r, permit.s],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const result = await submit(client, request, 'awardWithPermit')
  return { ...result, jobId: jobIdOf(offer) }
}
