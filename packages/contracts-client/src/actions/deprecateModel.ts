import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface DeprecateModelParameters extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
}

export type DeprecateModelReturnType = WriteResult

/** Approved -> Deprecated: superseded, jobs still award (MODEL_CURATOR role of the AccessManager). */
export async function deprecateModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, gas }: DeprecateModelParameters,
): Promise<DeprecateModelReturnType> {
  const { request } = await simulate('deprecateModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'deprecateModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'deprecateModel')
}
