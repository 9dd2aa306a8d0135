import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { jobMarketAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface CommitResultParameters extends WriteOptions {
  jobMarket: Address
  jobId: Hex
  resultRoot: Hex
  /** must equal the count the job's terms fixed at award (`getJob(...).leafCount`), else the
   * commit reverts `LeafCountMismatch`: ceil(sampleCount / microBatchSize), plus one for training */
  leafCount: number
}

export type CommitResultReturnType = WriteResult

/** Commits the Merkle root over the job's result leaves (provider only, before the deadline). */
export async function commitResult(
  client: ProtocolWalletClient,
  { jobMarket, jobId, resultRoot, leafCount, gas, onSent }: CommitResultParameters,
): Promise<CommitResultReturnType> {
  const { request } = await simulate('commitResult', () =>
    simulateContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'commitResult',
      args: [jobId, resultRoot, leafCount],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'commitResult', onSent)
}
