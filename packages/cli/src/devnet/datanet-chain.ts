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
  modelRegistryAbi,
  type ProtocolWalletClient,
  proposeModel,
  recordAttribution,
} from '@ocn/contracts-client'
import { type DatanetManifest, decodeJobOffer, MerkleTree } from '@ocn/protocol'
import { type Address, type Hex, hexToBytes, parseEventLogs } from 'viem'
import { getBlock, readContract } from 'viem/actions'
import { DevnetError } from './errors.js'
import { sleep } from './sleep.js'

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
 * The devnet's review period for a proposed model: not 0, so the release gate is exercised, and
 * short enough to wait out in real time (the devnet mines a block a second), like its timelock.
 */
export const DEVNET_MODEL_REVIEW_SECONDS = 5

/**
 * Releases the trained model: `owner` proposes it (with its evaluation report hash anchored)
 * and binds its training job; `untilReviewEnds` waits until chain time reaches the end of the
 * review period (the devnet waits, a test advances anvil's clock); then `curator` (the
 * ModelRegistry's curator role) approves it.
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
  untilReviewEnds: (reviewEndsAt: bigint) => Promise<void>,
): Promise<void> {
  const modelRegistry = deployment.addresses.modelRegistry
  if (modelRegistry === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the deployment has no ModelRegistry')
  }
  const { modelHash, jobId, ...proposal } = model
  await proposeModel(owner, { modelRegistry, modelHash, ...proposal })
  await bindTrainingJob(owner, { modelRegistry, modelHash, jobId })
  const reviewEndsAt = await readContract(owner, {
    address: modelRegistry,
    abi: modelRegistryAbi,
    functionName: 'reviewEndsAt',
    args: [modelHash],
  })
  await untilReviewEnds(BigInt(reviewEndsAt))
  await approveModel(curator, { modelRegistry, modelHash })
}

/**
 * Waits until the latest block's time reaches `time`, mining an empty block at each poll so chain
 * time follows the clock whether or not the devnet's ticker runs; DEVNET_PHASE_FAILED after
 * `withinMs`.
 */
export async function untilChainTime(
  client: ProtocolWalletClient,
  time: bigint,
  withinMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + withinMs
  while ((await getBlock(client, { blockTag: 'latest' })).timestamp < time) {
    if (Date.now() > deadline) {
      throw new DevnetError(
        'DEVNET_PHASE_FAILED',
        `the chain did not reach time ${time} within ${withinMs} ms`,
        {
          details: 'anvil did not mine: is the devnet chain still running?',
        },
      )
    }
    await sleep(250, signal)
    await client.request({ method: 'evm_mine' as 'eth_chainId' })
  }
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
