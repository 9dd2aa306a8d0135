import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ApproveModelParameters extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
}

export type ApproveModelReturnType = WriteResult

/** Proposed -> Approved (MODEL_CURATOR role of the AccessManager). */
export async function approveModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, gas }: ApproveModelParameters,
): Promise<ApproveModelReturnType> {
  const { request } = await simulate('approveModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'approveModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'approveModel')
}
