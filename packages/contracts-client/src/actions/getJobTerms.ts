import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetJobTermsParameters {
  jobMarket: Address
  jobId: Hex
}

/** The terms a job was awarded under: settlement, expiry and disputes use these, never later ones. */
export interface GetJobTermsReturnType {
  protocolFeeBps: number
  cheatSlashBps: number
  noShowSlashBps: number
  challengerRewardBps: number
  challengeWindow: number
  /** OPEN: below this price a payout does not raise the provider's `completed` */
  minRecordPrice: bigint
  /** fees and slashes the treasury is owed from all jobs under these terms, not yet swept */
  accrued: bigint
}

/** Reverts `InvalidJobStatus(jobId, 0)` for a job that was never awarded. */
export async function getJobTerms(
  client: ProtocolReadClient,
  { jobMarket, jobId }: GetJobTermsParameters,
): Promise<GetJobTermsReturnType> {
  const terms = await simulate('getJobTerms', () =>
    readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'getJobTerms',
      args: [jobId],
    }),
  )
  return { ...terms }
}
