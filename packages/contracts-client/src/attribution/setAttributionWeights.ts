import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface SetAttributionWeightsParameters extends WriteOptions {
  attributionPool: Address
  modelId: Hex
  /** Merkle root over attributionLeaf(i, address, weightBps) (see @ocn/protocol attributionWeightsTree) */
  weightsRoot: Hex
  /** hash of the committed attribution result the root was taken from (for audit) */
  resultHash: Hex
}

export type SetAttributionWeightsReturnType = WriteResult

/** Commits a model's attribution weights (the attribution role of the AccessManager). */
export async function setAttributionWeights(
  client: ProtocolWalletClient,
  { attributionPool, modelId, weightsRoot, resultHash, gas }: SetAttributionWeightsParameters,
): Promise<SetAttributionWeightsReturnType> {
  const { request } = await simulate('setWeights', () =>
    simulateContract(client, {
      address: attributionPool,
      abi: attributionPoolAbi,
      functionName: 'setWeights',
      args: [modelId, weightsRoot, resultHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setWeights')
}
