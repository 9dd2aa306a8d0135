import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface RejectModelParameters extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
}

export type RejectModelReturnType = WriteResult

/** Proposed -> None: deletes a proposal so the hash can be proposed again (MODEL_CURATOR role of the AccessManager). */
export async function rejectModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, gas }: RejectModelParameters,
): Promise<RejectModelReturnType> {
  const { request } = await simulate('rejectModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'rejectModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'rejectModel')
}
