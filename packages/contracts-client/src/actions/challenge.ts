import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ChallengeParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
  leafIndex: bigint
  claimedDataHash: Hex
}

export type ChallengeReturnType = WriteResult

/** Disputes one leaf of a committed result; pulls the challenge bond (needs an allowance to the JobMarket). */
export async function challenge(
  client: ProtocolWalletClient,
  { jobMarket, jobId, leafIndex, claimedDataHash, gas }: ChallengeParameters,
): Promise<ChallengeReturnType> {
  const { request } = await simulate('challenge', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'challenge',
      args: [jobId, leafIndex, claimedDataHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'challenge')
}
