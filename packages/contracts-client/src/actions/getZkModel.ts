import { type Address, type Hex, zeroAddress } from 'viem'
import { readContract } from 'viem/actions'
import { zkVerifierRegistryAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

export interface GetZkModelParameters {
  zkVerifierRegistry: Address
  modelHash: Hex
}

/** The registry entry for a model artifact, or undefined when none is registered. */
export type GetZkModelReturnType = { modelCommitment: bigint; verifier: Address } | undefined

export async function getZkModel(
  client: ProtocolReadClient,
  { zkVerifierRegistry, modelHash }: GetZkModelParameters,
): Promise<GetZkModelReturnType> {
  const [modelCommitment, verifier] = await simulate('getZkModel', () =>
    readContract(client, {
      address: zkVerifierRegistry,
      abi: zkVerifierRegistryAbi,
      functionName: 'getZkModel',
      args: [modelHash],
    }),
  )
  return verifier === zeroAddress ? undefined : { modelCommitment, verifier }
}
