import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { attributionPoolAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetAttributionPoolParameters {
  attributionPool: Address
  modelId: Hex
}

export interface GetAttributionPoolReturnType {
  weightsRoot: Hex
  attributionResult: Hex
  /** deposited, not yet settled into a round */
  pending: bigint
  rounds: bigint
}

/** A model's state in the pool. */
export async function getAttributionPool(
  client: ProtocolReadClient,
  { attributionPool, modelId }: GetAttributionPoolParameters,
): Promise<GetAttributionPoolReturnType> {
  const read = (functionName: 'weightsRoot' | 'attributionResult' | 'pending' | 'roundCount') =>
    readContract(client, { address: attributionPool, abi: attributionPoolAbi, functionName, args: [modelId] })
  const [weightsRoot, attributionResult, pending, rounds] = await simulate('attribution state', () =>
    Promise.all([read('weightsRoot'), read('attributionResult'), read('pending'), read('roundCount')]),
  )
  return {
    weightsRoot: weightsRoot as Hex,
    attributionResult: attributionResult as Hex,
    pending: pending as bigint,
    rounds: rounds as bigint,
  }
}
