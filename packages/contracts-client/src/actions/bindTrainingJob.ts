import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface BindTrainingJobParameters extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
  /** the JobMarket id of the training job that produced the model (zero clears it) */
  jobId: Hex
}

/**
 * The owner of a Proposed model names its training job, before approval: once approved, the
 * job's committed attribution can set the model's pool weights through the DatanetRegistry.
 */
export async function bindTrainingJob(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, jobId, gas }: BindTrainingJobParameters,
): Promise<WriteResult> {
  const { request } = await simulate('bindTrainingJob', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'bindTrainingJob',
      args: [modelHash, jobId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'bindTrainingJob')
}
