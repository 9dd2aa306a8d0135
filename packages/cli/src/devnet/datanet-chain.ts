/**
 * The attribution phase's on-chain steps, shared with the attribution e2e test: a datanet
 * created in the DatanetRegistry (burning OPEN), its contributors staking in manifest order, the
 * trained model released in the ModelRegistry with its training job bound, the finalized job's
 * committed attribution recorded by anyone (no governance call), and the contributions that
 * attribution ranked harmful slashed.
 */
import {
  approveModel,
  approveToken,
  bindTrainingJob,
  type CommittedAttribution,
  challengeContribution,
  contribute,
  createDatanet,
  type Deployment,
  datanetRegistryAbi,
  getContribution,
  getDatanet,
  type ProtocolWalletClient,
  proposeModel,
  recordAttribution,
} from '@ocn/contracts-client'
import { type DatanetManifest, decodeJobOffer, MerkleTree } from '@ocn/protocol'
import { type Address, type Hex, hexToBytes, parseEventLogs } from 'viem'
import { readContract } from 'viem/actions'
import { DevnetError } from './errors.js'

function registryOf(deployment: Deployment): Address {
  const registry = deployment.addresses.datanetRegistry
  if (registry === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the deployment has no DatanetRegistry', {
      details: 'redeploy with a current @ocn/contracts-client',
    })
  }
  return registry
}

export interface DatanetOnChain {
  datanetId: bigint
  /** OPEN the creator burned */
  burned: bigint
  /** OPEN each contributor staked */
  stake: bigint
  /** contribution index of each manifest contributor, in manifest order */
  indices: bigint[]
}

/**
 * Creates an open datanet from `creator` and registers each manifest contributor's rows from its
 * own wallet, in manifest order, so the registry's manifest of all of them hashes as `manifest`
 * does. Each wallet needs the OPEN it burns or stakes (and gas).
 */
export async function registerDatanetOnChain(
  creator: ProtocolWalletClient,
  contributors: readonly ProtocolWalletClient[],
  deployment: Deployment,
  manifest: DatanetManifest,
): Promise<DatanetOnChain> {
  const registry = registryOf(deployment)
  const { token } = deployment.addresses
  const params = await readContract(creator, {
    address: registry,
    abi: datanetRegistryAbi,
    functionName: 'params',
  })
  await approveToken(creator, { token, spender: registry, amount: params.creationBurn })
  const { datanetId } = await createDatanet(creator, {
    datanetRegistry: registry,
    curated: false,
    metadataHash: manifest.datasetId,
  })
  const indices: bigint[] = []
  for (const [i, entry] of manifest.contributors.entries()) {
    const wallet = contributors[i]
    if (wallet?.account.address.toLowerCase() !== entry.address.toLowerCase()) {
      throw new DevnetError('DEVNET_PHASE_FAILED', `contributor ${i} has no wallet for ${entry.address}`)
    }
    const rows = entry.ranges.reduce((sum, r) => sum + (r.end - r.start), 0)
    await approveToken(wallet, { token, spender: registry, amount: params.contributionStake })
    const done = await contribute(wallet, {
      datanetRegistry: registry,
      datanetId,
      dataHash: entry.dataHash,
      rows: BigInt(rows),
    })
    indices.push(done.index)
  }
  const record = await getDatanet(creator, { datanetRegistry: registry, datanetId })
  if (record?.acceptedCount !== manifest.contributors.length) {
    throw new DevnetError('DEVNET_PHASE_FAILED', `datanet ${datanetId} did not accept every contribution`)
  }
  return { datanetId, burned: params.creationBurn, stake: params.contributionStake, indices }
}

/**
 * Releases the trained model: `owner` proposes it (with its evaluation report hash anchored)
 * and binds its training job; `curator` (the ModelRegistry's curator role) approves it once the
 * review period (0 on the devnet) has passed.
 */
export async function releaseTrainedModel(
  owner: ProtocolWalletClient,
  curator: ProtocolWalletClient,
  deployment: Deployment,
  model: {
    modelHash: Hex
    jobId: Hex
    storagePointer: string
    trainingSpecHash: Hex
    evaluationReportHash: Hex
  },
): Promise<void> {
  const modelRegistry = deployment.addresses.modelRegistry
  if (modelRegistry === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the deployment has no ModelRegistry')
  }
  const { modelHash, jobId, ...proposal } = model
  await proposeModel(owner, { modelRegistry, modelHash, ...proposal })
  await bindTrainingJob(owner, { modelRegistry, modelHash, jobId })
  await approveModel(curator, { modelRegistry, modelHash })
}

/** The job's committed leaves: its checkpoint hashes, then the attribution result's hash. */
export function attributionLeafProof(result: CommittedAttribution & { resultHash: Hex }): {
  root: Hex
  proof: Hex[]
} {
  const tree = MerkleTree.fromDataHashes([...result.checkpointHashes, result.resultHash])
  return { root: tree.root, proof: tree.proof(result.checkpointHashes.length) }
}

/**
 * Anyone (`sender`) records the finalized training job's committed attribution: the registry
 * checks the job, the manifest and the Merkle proof, and sets the model's weights root in the
 * AttributionPool. `offer` is the job's signed offer as the requester stores it (wire bytes).
 */
export async function recordFinalizedAttribution(
  sender: ProtocolWalletClient,
  deployment: Deployment,
  p: {
    datanetId: bigint
    count: number
    modelHash: Hex
    offer: Hex
    result: CommittedAttribution & { resultHash: Hex }
  },
): Promise<Hex> {
  const offer = decodeJobOffer(hexToBytes(p.offer)).terms
  const { proof } = attributionLeafProof(p.result)
  const done = await recordAttribution(sender, {
    datanetRegistry: registryOf(deployment),
    datanetId: p.datanetId,
    count: BigInt(p.count),
    modelHash: p.modelHash,
    offer,
    result: p.result,
    proof,
  })
  return done.hash
}

export interface SlashedContribution {
  index: bigint
  contributor: Address
  /** the challenger's share */
  reward: bigint
  /** deposited into the model's pool, for the datanet's other contributors */
  toPool: bigint
  transaction: Hex
}

/** `challenger` slashes every contribution of the datanet that an attribution ranked harmful. */
export async function slashHarmfulContributions(
  challenger: ProtocolWalletClient,
  deployment: Deployment,
  datanetId: bigint,
  indices: readonly bigint[],
): Promise<SlashedContribution[]> {
  const datanetRegistry = registryOf(deployment)
  const slashed: SlashedContribution[] = []
  for (const index of indices) {
    const c = await getContribution(challenger, { datanetRegistry, datanetId, index })
    if (c.status !== 'accepted' || /^0x0+$/.test(c.harmfulModel)) continue
    const done = await challengeContribution(challenger, { datanetRegistry, datanetId, index })
    const [event] = parseEventLogs({
      abi: datanetRegistryAbi,
      eventName: 'ContributionSlashed',
      logs: done.receipt.logs,
    })
    slashed.push({
      index,
      contributor: c.contributor,
      reward: event?.args.reward ?? 0n,
      toPool: event?.args.toPool ?? 0n,
      transaction: done.hash,
    })
  }
  return slashed
}
