import type { Address, Hex } from 'viem'
import { simulateContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface ProposeModelParameters extends WriteOptions {
  modelRegistry: Address
  /** content hash of the model artifact, as offers name it in `modelHash` */
  modelHash: Hex
  /** where the artifact can be fetched (ipfs://, https://, ...); 1 to 256 bytes */
  storagePointer: string
  /** hash of the training spec the model came from */
  trainingSpecHash: Hex
  /** hash of the evaluation report backing the proposal */
  evaluationReportHash: Hex
}

export type ProposeModelReturnType = WriteResult

/** Proposes a model (anyone may); the caller becomes the record's owner and its status Proposed. */
export async function proposeModel(
  client: ProtocolWalletClient,
  {
    modelRegistry,
    modelHash,
    storagePointer,
    trainingSpecHash,
    evaluationReportHash,
    gas,
  }: ProposeModelParameters,
): Promise<ProposeModelReturnType> {
  const { request } = await simulate('proposeModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'proposeModel',
      args: [modelHash, storagePointer, trainingSpecHash, evaluationReportHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'proposeModel')
}
