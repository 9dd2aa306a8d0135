import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface CommitBatchParameters extends WriteOptions {
  jobMarket: Address
  /** one entry per job, each as `commitResult` takes it (the leaf count the terms fixed) */
  commits: readonly { jobId: Hex; resultRoot: Hex; leafCount: number }[]
}

export type CommitBatchReturnType = WriteResult

/**
 * Commits the result roots of several of the provider's jobs in one transaction. All or
 * nothing: a commit `commitResult` would refuse reverts the batch with its error.
 */
export async function commitBatch(
  client: ProtocolWalletClient,
  { jobMarket, commits, gas, onSent }: CommitBatchParameters,
): Promise<CommitBatchReturnType> {
  const { request } = await simulate('commitBatch', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'commitBatch',
      args: [commits.map((c) => c.jobId), commits.map((c) => c.resultRoot), commits.map((c) => c.leafCount)],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'commitBatch', onSent)
}
