// DatanetRegistry on a real anvil with the real protocol: datanets created by burning OPEN,
// open and curated contributions with stakes, the on-chain manifest hash against the protocol's,
// and a real training job's committed attribution setting the pool's weights with no trusted
// hand, then the harmful contribution slashed. Balances checked to the wei.
import {
  attributionWeightsTree,
  datanetManifestHash,
  MerkleTree,
  merkleLeaf,
  scoresToBasisPoints,
} from '@ocn/protocol'
import {
  type Address,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseEther,
  stringToHex,
  toHex,
  zeroAddress,
  zeroHash,
} from 'viem'
import { deployContract, readContract, waitForTransactionReceipt, writeContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  acceptContribution,
  accessManagerAbi,
  approveModel,
  approveToken,
  attributionPoolAbi,
  attributionResultArgs,
  award,
  bindTrainingJob,
  type CommittedAttribution,
  challengeContribution,
  claimContributorRewards,
  commitResult,
  contribute,
  createDatanet,
  datanetRegistryAbi,
  defaultDatanetParameters,
  defaultModelReleaseParameters,
  depositAttributionFees,
  finalize,
  getContribution,
  getContributorRecord,
  getDatanet,
  getDatanetManifestHash,
  getRecordedAttributions,
  getTokenBalance,
  ProtocolRole,
  proposeModel,
  recordAttribution,
  rejectContribution,
  setDatanetCurator,
  timelockControllerAbi,
  timelockControllerBytecode,
  withdrawContributionStake,
} from '../src/index.js'
import {
  advance,
  approveMarket,
  expectRevert,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
  type Wallet,
} from './helpers.js'

const e = parseEther
const BURN_SINK: Address = '0x000000000000000000000000000000000000dEaD'
const STAKE = defaultDatanetParameters.contributionStake
const BURN = defaultDatanetParameters.creationBurn
const LOCK = defaultDatanetParameters.stakeLockPeriod
const REVIEW = defaultModelReleaseParameters.minReviewPeriod
let p: Protocol
let registry: Address
let token: Address
const h = (label: string) => keccak256(toHex(label))
const balance = (account: Address) => getTokenBalance(p.admin, { token, account })

beforeAll(async () => {
  p = await setupProtocol({ challengeWindow: 600, unbondingDelay: 3600n })
  registry = p.deployment.addresses.datanetRegistry as Address
  token = p.deployment.addresses.token
  for (const w of [p.requester, p.other, p.verifier, p.admin]) {
    await approveToken(w, { token, spender: registry, amount: e('100000') })
  }
})
afterAll(async () => {
  await p?.chain.stop()
})

async function newDatanet(creator: Wallet, curated: boolean, minReputation = 0n): Promise<bigint> {
  const { datanetId } = await createDatanet(creator, {
    datanetRegistry: registry,
    curated,
    minReputation,
    metadataHash: h('datanet'),
  })
  return datanetId
}

describe('DatanetRegistry: datanets and contributions', () => {
  it('is deployed with governed parameters and holds the attribution role', async () => {
    expect(registry).toMatch(/^0x[0-9a-fA-F]{40}$/)
    const params = await readContract(p.admin, {
      address: registry,
      abi: datanetRegistryAbi,
      functionName: 'params',
    })
    expect(params).toEqual(defaultDatanetParameters)
    const [isAttributor] = await readContract(p.admin, {
      address: p.deployment.addresses.accessManager,
      abi: accessManagerAbi,
      functionName: 'hasRole',
      args: [ProtocolRole.attribution, registry],
    })
    expect(isAttributor).toBe(true)
  })

  it('burns the creation amount into the sink and counts it', async () => {
    const before = await balance(p.requester.account.address)
    const sinkBefore = await balance(BURN_SINK)
    const id = await newDatanet(p.requester, false)
    expect(await balance(p.requester.account.address)).toBe(before - BURN)
    expect(await balance(BURN_SINK)).toBe(sinkBefore + BURN)
    const burned = await readContract(p.admin, {
      address: registry,
      abi: datanetRegistryAbi,
      functionName: 'totalBurned',
    })
    expect(burned).toBe(sinkBefore + BURN)
    expect((await getDatanet(p.admin, { datanetRegistry: registry, datanetId: id }))?.creator).toBe(
      p.requester.account.address,
    )
    expect(await getDatanet(p.admin, { datanetRegistry: registry, datanetId: 999n })).toBeUndefined()
  })

  it('restricts and bounds the parameters', async () => {
    const set = (w: Wallet, over: Partial<typeof defaultDatanetParameters>) =>
      writeContract(w, {
        address: registry,
        abi: datanetRegistryAbi,
        functionName: 'setParams',
        args: [{ ...defaultDatanetParameters, ...over }],
      })
    await expect(set(p.other, {})).rejects.toThrow(/AccessManagedUnauthorized|reverted/)
    for (const bad of [
      { contributionStake: 0n },
      { challengePeriod: 60 },
      { harmThresholdBps: 0 },
      { challengerShareBps: 10_001 },
      { maxCurators: 33 },
      { creationBurn: e('1000001') },
    ]) {
      await expect(set(p.admin, bad)).rejects.toThrow(/InvalidParams|reverted/)
    }
  })

  it('accepts open contributions at once, one per contributor, stake locked', async () => {
    const id = await newDatanet(p.requester, false)
    const before = await balance(p.other.account.address)
    const { index } = await contribute(p.other, {
      datanetRegistry: registry,
      datanetId: id,
      dataHash: h('d0'),
      rows: 5n,
    })
    expect(await balance(p.other.account.address)).toBe(before - STAKE)
    const c = await getContribution(p.admin, { datanetRegistry: registry, datanetId: id, index })
    expect(c).toMatchObject({ status: 'accepted', stake: STAKE, rows: 5n, startRow: 0n, dataHash: h('d0') })
    await expectRevert(
      contribute(p.other, { datanetRegistry: registry, datanetId: id, dataHash: h('d1'), rows: 1n }),
      'AlreadyContributed',
    )
    await expectRevert(
      contribute(p.verifier, { datanetRegistry: registry, datanetId: id, dataHash: h('d1'), rows: 0n }),
      'InvalidContribution',
    )
    await expectRevert(
      contribute(p.verifier, { datanetRegistry: registry, datanetId: 999n, dataHash: h('d1'), rows: 1n }),
      'UnknownDatanet',
    )
    await expectRevert(
      withdrawContributionStake(p.other, { datanetRegistry: registry, datanetId: id, index }),
      'StakeLocked',
    )
    await expectRevert(
      withdrawContributionStake(p.verifier, { datanetRegistry: registry, datanetId: id, index }),
      'NotContributor',
    )
    await advance(p, LOCK + 1)
    await withdrawContributionStake(p.other, { datanetRegistry: registry, datanetId: id, index })
    expect(await balance(p.other.account.address)).toBe(before)
    await expectRevert(
      withdrawContributionStake(p.other, { datanetRegistry: registry, datanetId: id, index }),
      'InvalidContributionStatus',
    )
  })

  it('curates: creator-set bounded curators accept or reject, rejection refunds', async () => {
    const id = await newDatanet(p.requester, true)
    const open = await newDatanet(p.requester, false)
    const ds = { datanetRegistry: registry, datanetId: id }
    await expectRevert(
      setDatanetCurator(p.other, { ...ds, curator: p.other.account.address, enabled: true }),
      'NotCreator',
    )
    await expectRevert(
      setDatanetCurator(p.requester, {
        datanetRegistry: registry,
        datanetId: open,
        curator: p.other.account.address,
        enabled: true,
      }),
      'NotCurated',
    )
    await setDatanetCurator(p.requester, { ...ds, curator: p.admin.account.address, enabled: true })
    expect((await getDatanet(p.admin, ds))?.curatorCount).toBe(1)

    const before = await balance(p.other.account.address)
    const a = await contribute(p.other, { ...ds, dataHash: h('c0'), rows: 3n })
    const b = await contribute(p.verifier, { ...ds, dataHash: h('c1'), rows: 4n })
    expect((await getContribution(p.admin, { ...ds, index: a.index })).status).toBe('pending')
    await expectRevert(acceptContribution(p.verifier, { ...ds, index: a.index }), 'NotCurator')
    await acceptContribution(p.admin, { ...ds, index: a.index })
    await expectRevert(acceptContribution(p.admin, { ...ds, index: a.index }), 'InvalidContributionStatus')
    const vBefore = await balance(p.verifier.account.address)
    await rejectContribution(p.requester, { ...ds, index: b.index })
    expect(await balance(p.verifier.account.address)).toBe(vBefore + STAKE)
    expect((await getContribution(p.admin, { ...ds, index: b.index })).status).toBe('withdrawn')
    // a rejected contributor may submit again, and withdraw while still pending
    const again = await contribute(p.verifier, { ...ds, dataHash: h('c1 fixed'), rows: 4n })
    await withdrawContributionStake(p.verifier, { ...ds, index: again.index })
    expect(await balance(p.verifier.account.address)).toBe(vBefore + STAKE)
    expect(await balance(p.other.account.address)).toBe(before - STAKE)
    expect((await getDatanet(p.admin, ds))?.acceptedCount).toBe(1)

    // a curated datanet may require reputation nobody has yet
    const gated = await newDatanet(p.requester, true, 1n)
    await expectRevert(
      contribute(p.other, { datanetRegistry: registry, datanetId: gated, dataHash: h('g'), rows: 1n }),
      'ReputationTooLow',
    )
  })

  it('caps the curators at the governed maximum', async () => {
    const id = await newDatanet(p.requester, true)
    await writeContract(p.admin, {
      address: registry,
      abi: datanetRegistryAbi,
      functionName: 'setParams',
      args: [{ ...defaultDatanetParameters, maxCurators: 1 }],
    })
    const ds = { datanetRegistry: registry, datanetId: id }
    await setDatanetCurator(p.requester, { ...ds, curator: p.admin.account.address, enabled: true })
    await expectRevert(
      setDatanetCurator(p.requester, { ...ds, curator: p.other.account.address, enabled: true }),
      'TooManyCurators',
    )
    await setDatanetCurator(p.requester, { ...ds, curator: p.admin.account.address, enabled: false })
    await setDatanetCurator(p.requester, { ...ds, curator: p.other.account.address, enabled: true })
    await writeContract(p.admin, {
      address: registry,
      abi: datanetRegistryAbi,
      functionName: 'setParams',
      args: [defaultDatanetParameters],
    })
  })
})

/** node/src/attribution/result.ts attributionResultHash, restated so the contract is checked against it. */
function resultHash(r: CommittedAttribution): Hex {
  const a = attributionResultArgs(r)
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32[]' },
        { type: 'bytes' },
        {
          type: 'tuple[]',
          components: [
            { name: 'account', type: 'address' },
            { name: 'weight', type: 'uint256' },
          ],
        },
        { type: 'bytes32' },
      ],
      [
        keccak256(stringToHex('ocn/attribution/v1')),
        a.methodHash,
        a.manifestHash,
        a.validationHash,
        a.checkpointHashes,
        a.scores,
        a.weights,
        a.weightsRoot,
      ],
    ),
  )
}

describe('DatanetRegistry: attribution from a finalized job, harm and slashing', () => {
  const contributors = () => [p.other, p.verifier, p.admin]
  const rows = [4n, 3n, 5n]
  // contributor 1 harms the model (negative beyond 10% of the largest), 2 barely helps
  const scores = [1.0, -0.5, 0.02]
  let datanetId: bigint
  const datasetId = h('assembled dataset')

  it('records a finalized job attribution, sets the pool weights and slashes only the harmful', async () => {
    datanetId = await newDatanet(p.requester, false)
    const ds = { datanetRegistry: registry, datanetId }
    for (const [i, w] of contributors().entries()) {
      await contribute(w, { ...ds, dataHash: h(`data ${i}`), rows: rows[i]! })
    }
    const manifest = {
      version: 1 as const,
      datasetId,
      rows: 12,
      contributors: contributors().map((w, i) => ({
        address: w.account.address,
        dataHash: h(`data ${i}`),
        ranges: [{ start: [0, 4, 7][i]!, end: [4, 7, 12][i]! }],
      })),
    }
    const onChain = await getDatanetManifestHash(p.admin, { ...ds, datasetId, count: 3n })
    expect(onChain).toBe(datanetManifestHash(manifest))
    await expectRevert(
      getDatanetManifestHash(p.admin, { ...ds, datasetId, count: 4n }),
      'InvalidManifestCount',
    )

    // a training job on the dataset: 3 checkpoints + the attribution leaf
    await stakeAs(p, p.provider, e('10000'))
    await approveMarket(p, p.requester, e('1000'))
    const offer = await makeOffer(p, { kind: 1, inputHash: datasetId, sampleCount: 8, microBatchSize: 4 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, {
      jobMarket: p.deployment.addresses.jobMarket,
      offer,
      bid,
      signature,
    })
    const weights = scoresToBasisPoints(scores).map((weight, i) => ({
      address: contributors()[i]!.account.address,
      weight,
    }))
    const checkpointHashes = [h('ck0'), h('ck1'), h('ck2')]
    const result: CommittedAttribution = {
      method: 'tracin-cp-v1',
      manifestHash: onChain,
      validationHash: h('validation'),
      checkpointHashes,
      scores,
      weights,
      weightsRoot: attributionWeightsTree(weights).root,
    }
    const rh = resultHash(result)
    expect(
      await readContract(p.admin, {
        address: registry,
        abi: datanetRegistryAbi,
        functionName: 'attributionResultHash',
        args: [attributionResultArgs(result)],
      }),
    ).toBe(rh)
    const tree = MerkleTree.fromLeaves([
      ...checkpointHashes.map((c, i) => merkleLeaf(i, c)),
      merkleLeaf(3, rh),
    ])
    await commitResult(p.provider, {
      jobMarket: p.deployment.addresses.jobMarket,
      jobId,
      resultRoot: tree.root,
      leafCount: 4,
    })

    const modelHash = h('trained model')
    const modelRegistry = p.deployment.addresses.modelRegistry as Address
    await proposeModel(p.requester, {
      modelRegistry,
      modelHash,
      storagePointer: 'ipfs://trained',
      trainingSpecHash: h('spec'),
      evaluationReportHash: h('eval'),
    })
    await expectRevert(bindTrainingJob(p.other, { modelRegistry, modelHash, jobId }), 'NotModelOwner')
    await bindTrainingJob(p.requester, { modelRegistry, modelHash, jobId })
    const record = (over: Partial<Parameters<typeof recordAttribution>[1]> = {}) =>
      recordAttribution(p.verifier, {
        ...ds,
        count: 3n,
        modelHash,
        offer,
        result,
        proof: tree.proof(3),
        ...over,
      })
    await expectRevert(record(), 'ModelNotBoundToJob')
    // the release gate's default review period holds the approval (anyone may object meanwhile)
    await expectRevert(approveModel(p.admin, { modelRegistry, modelHash }), 'ReviewNotOver')
    await advance(p, REVIEW)
    await approveModel(p.admin, { modelRegistry, modelHash })
    await expectRevert(record(), 'JobNotFinalized')
    await advance(p, 601)
    // the contributions' locks pass meanwhile: the harmful one must still be held by the challenge
    await advance(p, LOCK)
    await finalize(p.requester, { jobMarket: p.deployment.addresses.jobMarket, jobId })

    await expectRevert(record({ proof: tree.proof(2) }), 'InvalidProof')
    await expectRevert(record({ count: 2n }), 'ManifestMismatch')
    // a result that is not the committed one (weights moved to other contributors) proves nothing
    await expectRevert(record({ result: { ...result, weights: [...weights].reverse() } }), 'InvalidProof')
    await record()
    await expectRevert(record(), 'AttributionAlreadyRecorded')
    const pool = p.deployment.addresses.attributionPool as Address
    const root = await readContract(p.admin, {
      address: pool,
      abi: attributionPoolAbi,
      functionName: 'weightsRoot',
      args: [modelHash],
    })
    expect(root).toBe(result.weightsRoot)

    const records = await Promise.all(
      contributors().map((w) =>
        getContributorRecord(p.admin, { datanetRegistry: registry, contributor: w.account.address }),
      ),
    )
    expect(records.map((r) => [r.attributions, r.harmful, r.weightBpsTotal])).toEqual(
      weights.map((w, i) => [1, i === 1 ? 1 : 0, BigInt(w.weight)]),
    )
    expect(records[1]!.reputation).toBe(0n)

    // the harmful stake is held while challengeable; honest low influence is free to go
    await expectRevert(withdrawContributionStake(p.verifier, { ...ds, index: 1n }), 'StakeLocked')
    await expectRevert(challengeContribution(p.requester, { ...ds, index: 2n }), 'NotChallengeable')
    const lowBefore = await balance(p.admin.account.address)
    await withdrawContributionStake(p.admin, { ...ds, index: 2n })
    expect(await balance(p.admin.account.address)).toBe(lowBefore + STAKE)

    const challengerBefore = await balance(p.requester.account.address)
    const pendingBefore = await readContract(p.admin, {
      address: pool,
      abi: attributionPoolAbi,
      functionName: 'pending',
      args: [modelHash],
    })
    await challengeContribution(p.requester, { ...ds, index: 1n })
    const reward = (STAKE * BigInt(defaultDatanetParameters.challengerShareBps)) / 10_000n
    expect(await balance(p.requester.account.address)).toBe(challengerBefore + reward)
    const pendingAfter = await readContract(p.admin, {
      address: pool,
      abi: attributionPoolAbi,
      functionName: 'pending',
      args: [modelHash],
    })
    expect(pendingAfter - pendingBefore).toBe(STAKE - reward)
    expect((await getContribution(p.admin, { ...ds, index: 1n })).status).toBe('slashed')
    await expectRevert(challengeContribution(p.requester, { ...ds, index: 1n }), 'NotChallengeable')
    await expectRevert(
      withdrawContributionStake(p.verifier, { ...ds, index: 1n }),
      'InvalidContributionStatus',
    )
    expect(
      (
        await getContributorRecord(p.admin, {
          datanetRegistry: registry,
          contributor: p.verifier.account.address,
        })
      ).slashed,
    ).toBe(1)

    // the registry holds exactly the live stakes
    const staked = await readContract(p.admin, {
      address: registry,
      abi: datanetRegistryAbi,
      functionName: 'totalStaked',
    })
    expect(await balance(registry)).toBe(staked)
  })

  it('contributors claim their shares once (settling the slashed stake) and take their stakes back once unlocked', async () => {
    const ds = { datanetRegistry: registry, datanetId }
    const attributionPool = p.deployment.addresses.attributionPool as Address
    const claim = (w: Wallet, contributor?: Address) =>
      claimContributorRewards(w, {
        ...ds,
        attributionPool,
        fromBlock: p.deployment.deployBlock,
        ...(contributor === undefined ? {} : { contributor }),
      })
    const recorded = await getRecordedAttributions(p.admin, { ...ds, fromBlock: p.deployment.deployBlock })
    expect(recorded).toHaveLength(1)
    const weights = recorded[0]!.weights.map((w) => w.weight)
    const pot = STAKE - (STAKE * BigInt(defaultDatanetParameters.challengerShareBps)) / 10_000n

    // contributor 0 (honest, its lock passed before the job finalized) claims and withdraws in one go
    const otherBefore = await balance(p.other.account.address)
    const first = await claim(p.other)
    const share0 = (pot * BigInt(weights[0]!)) / 10_000n
    expect(first.claims.map((c) => [c.round, c.index, c.paid])).toEqual([[0n, 0, share0]])
    expect(first.stake).toMatchObject({ state: 'withdrawn', index: 0n, amount: STAKE })
    expect(await balance(p.other.account.address)).toBe(otherBefore + share0 + STAKE)
    // a second run finds nothing left to claim or withdraw
    const again = await claim(p.other)
    expect(again.paid).toBe(0n)
    expect(again.stake).toMatchObject({ state: 'gone', status: 'withdrawn' })
    expect(await balance(p.other.account.address)).toBe(otherBefore + share0 + STAKE)

    // anyone may claim for a contributor: the money goes to its leaf's address, the stake stays
    const adminBefore = await balance(p.admin.account.address)
    const forAdmin = await claim(p.requester, p.admin.account.address)
    // the last weight to claim takes the round's remainder (its rounding dust)
    expect(forAdmin.paid).toBe(pot - share0)
    expect(forAdmin.stake).toMatchObject({ state: 'gone', status: 'withdrawn' })
    expect(await balance(p.admin.account.address)).toBe(adminBefore + pot - share0)
    // the slashed contributor's leaf (weight 0) is paid nothing and has no stake left
    const slashed = await claim(p.verifier)
    expect(slashed.paid).toBe(0n)
    expect(slashed.stake).toMatchObject({ state: 'gone', status: 'slashed' })
    const round = await readContract(p.admin, {
      address: attributionPool,
      abi: attributionPoolAbi,
      functionName: 'getRound',
      args: [recorded[0]!.modelHash, 0n],
    })
    expect(round).toMatchObject({ amount: pot, claimedAmount: pot, claimedWeight: 10_000n })
  })

  it('closes the challenge period', async () => {
    const ds = { datanetRegistry: registry, datanetId }
    await advance(p, defaultDatanetParameters.challengePeriod + 1)
    await expectRevert(challengeContribution(p.requester, { ...ds, index: 0n }), 'NotChallengeable')
  })

  it('refuses a committed result that does not fit the datanet or has no attribution leaf', async () => {
    const ds = { datanetRegistry: registry, datanetId }
    const jobMarket = p.deployment.addresses.jobMarket
    const modelRegistry = p.deployment.addresses.modelRegistry as Address
    const manifestHash = await getDatanetManifestHash(p.admin, { ...ds, datasetId, count: 3n })
    const checkpointHashes = [h('ck0'), h('ck1'), h('ck2')]
    const weights = scoresToBasisPoints(scores).map((weight, i) => ({
      address: contributors()[i]!.account.address,
      weight,
    }))
    // weights in another order than the manifest's contributors, committed as the job's leaf
    const misordered: CommittedAttribution = {
      method: 'tracin-cp-v1',
      manifestHash,
      validationHash: h('validation'),
      checkpointHashes,
      scores,
      weights: [...weights].reverse(),
      weightsRoot: attributionWeightsTree([...weights].reverse()).root,
    }
    const jobs = []
    for (const [label, attributionLeaf] of [
      ['misordered', true],
      ['no leaf', false],
    ] as const) {
      const offer = await makeOffer(p, { kind: 1, inputHash: datasetId, sampleCount: 8, microBatchSize: 4 })
      const { bid, signature } = await makeBid(p, offer)
      const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
      const leaves = checkpointHashes.map((c, i) => merkleLeaf(i, c))
      if (attributionLeaf) leaves.push(merkleLeaf(3, resultHash(misordered)))
      const tree = MerkleTree.fromLeaves(leaves)
      await commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount: leaves.length })
      const modelHash = h(`model ${label}`)
      await proposeModel(p.requester, {
        modelRegistry,
        modelHash,
        storagePointer: `ipfs://${label}`,
        trainingSpecHash: h('spec'),
        evaluationReportHash: h('eval'),
      })
      await bindTrainingJob(p.requester, { modelRegistry, modelHash, jobId })
      jobs.push({ offer, jobId, tree, modelHash })
    }
    await advance(p, REVIEW)
    for (const j of jobs) {
      await approveModel(p.admin, { modelRegistry, modelHash: j.modelHash })
      await finalize(p.requester, { jobMarket, jobId: j.jobId })
    }
    const [bad, leafless] = jobs
    await expectRevert(
      recordAttribution(p.verifier, {
        ...ds,
        count: 3n,
        modelHash: bad!.modelHash,
        offer: bad!.offer,
        result: misordered,
        proof: bad!.tree.proof(3),
      }),
      'WeightsMismatch',
    )
    await expectRevert(
      recordAttribution(p.verifier, {
        ...ds,
        count: 3n,
        modelHash: leafless!.modelHash,
        offer: leafless!.offer,
        result: misordered,
        proof: [],
      }),
      'AttributionLeafMismatch',
    )
  })
  it('pays the contributors of an attribution recorded through another contract (a timelock), to the wei', async () => {
    const ds = { datanetRegistry: registry, datanetId }
    const jobMarket = p.deployment.addresses.jobMarket
    const modelRegistry = p.deployment.addresses.modelRegistry as Address
    const attributionPool = p.deployment.addresses.attributionPool as Address
    // a real forwarding contract: OpenZeppelin's TimelockController, delay 0, the requester proposes and executes
    const deployHash = await deployContract(p.requester, {
      abi: timelockControllerAbi,
      bytecode: timelockControllerBytecode,
      args: [0n, [p.requester.account.address], [p.requester.account.address], zeroAddress],
    })
    const timelock = (await waitForTransactionReceipt(p.requester, { hash: deployHash })).contractAddress!

    // a second training job on the same three contributions, every influence positive
    const manifestHash = await getDatanetManifestHash(p.admin, { ...ds, datasetId, count: 3n })
    const positive = [0.5, 0.3, 0.2]
    const weights = scoresToBasisPoints(positive).map((weight, i) => ({
      address: contributors()[i]!.account.address,
      weight,
    }))
    const result: CommittedAttribution = {
      method: 'tracin-cp-v1',
      manifestHash,
      validationHash: h('validation 2'),
      checkpointHashes: [h('ck a'), h('ck b')],
      scores: positive,
      weights,
      weightsRoot: attributionWeightsTree(weights).root,
    }
    const tree = MerkleTree.fromLeaves([
      ...result.checkpointHashes.map((c, i) => merkleLeaf(i, c)),
      merkleLeaf(2, resultHash(result)),
    ])
    const offer = await makeOffer(p, { kind: 1, inputHash: datasetId, sampleCount: 8, microBatchSize: 4 })
    const { bid, signature } = await makeBid(p, offer)
    const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
    await commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount: 3 })
    const modelHash = h('model recorded through a timelock')
    await proposeModel(p.requester, {
      modelRegistry,
      modelHash,
      storagePointer: 'ipfs://timelocked',
      trainingSpecHash: h('spec'),
      evaluationReportHash: h('eval 2'),
    })
    await bindTrainingJob(p.requester, { modelRegistry, modelHash, jobId })
    await advance(p, REVIEW)
    await approveModel(p.admin, { modelRegistry, modelHash })
    await finalize(p.requester, { jobMarket, jobId })

    // the timelock calls recordAttribution: the transaction goes to the timelock, not the registry
    const data = encodeFunctionData({
      abi: datanetRegistryAbi,
      functionName: 'recordAttribution',
      args: [datanetId, 3n, modelHash, offer, attributionResultArgs(result), tree.proof(2)],
    })
    const operation = [registry, 0n, data, zeroHash, h('salt')] as const
    await writeContract(p.requester, {
      address: timelock,
      abi: timelockControllerAbi,
      functionName: 'schedule',
      args: [...operation, 0n],
    })
    const executed = await writeContract(p.requester, {
      address: timelock,
      abi: timelockControllerAbi,
      functionName: 'execute',
      args: operation,
    })
    const receipt = await waitForTransactionReceipt(p.requester, { hash: executed })
    expect(receipt.status).toBe('success')
    expect(receipt.to?.toLowerCase()).toBe(timelock.toLowerCase())

    const recorded = await getRecordedAttributions(p.admin, { ...ds, fromBlock: p.deployment.deployBlock })
    expect(recorded.map((r) => [r.modelHash, r.transaction])).toContainEqual([modelHash, executed])
    expect(recorded.find((r) => r.modelHash === modelHash)?.weights).toEqual(weights)

    // fees for the model, then each contributor claims its share: the last takes the remainder
    const fees = e('7') + 1n
    await approveToken(p.requester, { token, spender: attributionPool, amount: fees })
    await depositAttributionFees(p.requester, { attributionPool, modelId: modelHash, amount: fees })
    const before = await Promise.all(contributors().map((w) => balance(w.account.address)))
    const paid: bigint[] = []
    for (const w of contributors()) {
      const done = await claimContributorRewards(w, {
        ...ds,
        attributionPool,
        fromBlock: p.deployment.deployBlock,
      })
      expect(done.claims.map((c) => c.modelHash)).toEqual([modelHash])
      paid.push(done.paid)
    }
    const share = (i: number) => (fees * BigInt(weights[i]!.weight)) / 10_000n
    expect(paid).toEqual([share(0), share(1), fees - share(0) - share(1)])
    const after = await Promise.all(contributors().map((w) => balance(w.account.address)))
    expect(after.map((b, i) => b - before[i]!)).toEqual(paid)
  })
})
