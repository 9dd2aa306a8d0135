import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { zkVerifierRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ClearZkModelParameters extends WriteOptions {
  zkVerifierRegistry: Address
  modelHash: Hex
}

export type ClearZkModelReturnType = WriteResult

/**
 * Removes a model's verifier entry: no new zk-mode job for it can be awarded; jobs already
 * awarded keep the verifier they were awarded under (AccessManager admin role).
 */
export async function clearZkModel(
  client: ProtocolWalletClient,
  { zkVerifierRegistry, modelHash, gas }: ClearZkModelParameters,
): Promise<ClearZkModelReturnType> {
  const { request } = await simulate('clearZkModel', () =>
    simulateContract(client, {
      address: zkVerifierRegistry,
      abi: zkVerifierRegistryAbi,
      functionName: 'clearZkModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'clearZkModel')
}
