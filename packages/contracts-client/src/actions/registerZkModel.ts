import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { zkVerifierRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface RegisterZkModelParameters extends WriteOptions {
  zkVerifierRegistry: Address
  /** content hash of the model's ONNX artifact, as zk-mode offers name it in `modelHash` */
  modelHash: Hex
  /** Poseidon commitment to the quantized weights (the circuit's first public signal) */
  modelCommitment: bigint
  /** the deployed Groth16 verifier exported from the circuit's setup */
  verifier: Address
}

export type RegisterZkModelReturnType = WriteResult

/**
 * Registers (or replaces) the verifier and model commitment for a model artifact, so zk-mode
 * offers for it can be awarded (AccessManager admin role).
 */
export async function registerZkModel(
  client: ProtocolWalletClient,
  { zkVerifierRegistry, modelHash, modelCommitment, verifier, gas }: RegisterZkModelParameters,
): Promise<RegisterZkModelReturnType> {
  const { request } = await simulate('registerZkModel', () =>
    simulateContract(client, {
      address: zkVerifierRegistry,
      abi: zkVerifierRegistryAbi,
      functionName: 'registerZkModel',
      args: [modelHash, modelCommitment, verifier],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'registerZkModel')
}
