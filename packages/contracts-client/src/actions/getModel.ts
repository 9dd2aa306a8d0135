import type { Address, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { modelRegistryAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import { type ModelStatus, modelStatusName, type ProtocolReadClient } from '../types.js'

export interface GetModelParameters {
  modelRegistry: Address
  modelHash: Hex
}

export interface ModelRecord {
  modelHash: Hex
  status: ModelStatus
  /** who proposed it; the zero address for a hash revoked without a proposal */
  owner: Address
  storagePointer: string
  trainingSpecHash: Hex
  evaluationReportHash: Hex
  /** unix seconds; 0 when never proposed */
  proposedAt: number
  /** unix seconds of the last status change */
  updatedAt: number
}

/** The registry's record of a model, or undefined when it has none (status None). */
export type GetModelReturnType = ModelRecord | undefined

export async function getModel(
  client: ProtocolReadClient,
  { modelRegistry, modelHash }: GetModelParameters,
): Promise<GetModelReturnType> {
  const m = await simulate('getModel', () =>
    readContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'getModel',
      args: [modelHash],
    }),
  )
  const status = modelStatusName[m.status]
  if (status === undefined || status === 'none') return undefined
  return {
    modelHash,
    status,
    owner: m.owner,
    storagePointer: m.storagePointer,
    trainingSpecHash: m.trainingSpecHash,
    evaluationReportHash: m.evaluationReportHash,
    proposedAt: m.proposedAt,
    updatedAt: m.updatedAt,
  }
}
