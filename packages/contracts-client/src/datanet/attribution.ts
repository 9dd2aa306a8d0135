/**
 * Attribution without a trusted hand: a Finalized training job's committed attribution leaf,
 * proven against its result root, sets the model's weights root in the AttributionPool.
 */
import type { OfferTerms } from '@ocn/protocol'
import { type Address, bytesToHex, type Hex, keccak256, stringToHex } from 'viem'
import { readContract, simulateContract } from 'viem/actions'
import { datanetRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

/** The committed attribution result (node/src/attribution/result.ts AttributionResult, minus its hash). */
export interface CommittedAttribution {
  method: string
  manifestHash: Hex
  validationHash: Hex
  checkpointHashes: readonly Hex[]
  scores: readonly number[]
  weights: readonly { address: Address; weight: number }[]
  weightsRoot: Hex
}

/** The result as DatanetRegistry.AttributionResult takes it: scores as big-endian float64 bytes. */
export function attributionResultArgs(r: CommittedAttribution) {
  const scores = new Uint8Array(r.scores.length * 8)
  const view = new DataView(scores.buffer)
  for (const [i, s] of r.scores.entries()) view.setFloat64(i * 8, s, false)
  return {
    methodHash: keccak256(stringToHex(r.method)),
    manifestHash: r.manifestHash,
    validationHash: r.validationHash,
    checkpointHashes: r.checkpointHashes,
    scores: bytesToHex(scores),
    weights: r.weights.map((w) => ({ account: w.address, weight: BigInt(w.weight) })),
    weightsRoot: r.weightsRoot,
  }
}

export interface RecordAttributionParameters extends WriteOptions {
  datanetRegistry: Address
  datanetId: bigint
  /** accepted contributions the job's manifest covers (its first `count`) */
  count: bigint
  /** the trained model; its ModelRegistry record must name the job and be approved */
  modelHash: Hex
  /** the training job's offer (its hash is the job id) */
  offer: OfferTerms
  result: CommittedAttribution
  /** Merkle proof of the attribution leaf (index = checkpoint count) in the job's result tree */
  proof: readonly Hex[]
}

/** Anyone records a Finalized job's attribution: weights root to the pool, records, harmful flags. */
export async function recordAttribution(
  client: ProtocolWalletClient,
  { datanetRegistry, datanetId, count, modelHash, offer, result, proof, gas }: RecordAttributionParameters,
): Promise<WriteResult> {
  const { request } = await simulate('recordAttribution', () =>
    simulateContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'recordAttribution',
      args: [datanetId, count, modelHash, offer, attributionResultArgs(result), proof],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'recordAttribution')
}

/** The manifest hash the registry computes for the first `count` accepted contributions. */
export async function getDatanetManifestHash(
  client: ProtocolReadClient,
  p: { datanetRegistry: Address; datanetId: bigint; datasetId: Hex; count: bigint },
): Promise<Hex> {
  return simulate('manifestHash', () =>
    readContract(client, {
      address: p.datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'manifestHash',
      args: [p.datanetId, p.datasetId, p.count],
    }),
  )
}
