import { type Address, type Hex, zeroAddress } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetZkTermsParameters {
  jobMarket: Address
  jobId: Hex
}

/**
 * What a zk-mode job's proof must match, as bound at award; undefined for replay jobs and once
 * the job is settled or expired.
 */
export type GetZkTermsReturnType =
  | { modelCommitment: bigint; inputCommitment: bigint; verifier: Address }
  | undefined

export async function getZkTerms(
  client: ProtocolReadClient,
  { jobMarket, jobId }: GetZkTermsParameters,
): Promise<GetZkTermsReturnType> {
  const terms = await simulate('getZkTerms', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getZkTerms',
      args: [jobId],
    }),
  )
  return terms.verifier === zeroAddress ? undefined : { ...terms }
}
