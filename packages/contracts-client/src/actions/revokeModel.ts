import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface RevokeModelParameters extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
}

export type RevokeModelReturnType = WriteResult

/** Any status but Revoked -> Revoked, for good: JobMarket awards no further job for the model (MODEL_CURATOR role of the AccessManager). */
export async function revokeModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, gas }: RevokeModelParameters,
): Promise<RevokeModelReturnType> {
  const { request } = await simulate('revokeModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'revokeModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'revokeModel')
}
