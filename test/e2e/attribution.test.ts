/**
 * Proof of Attribution through the real roles: a training job on a datanet names
 * `tracin-cp-v1` in its spec; the provider trains, computes each contributor's influence in
 * the attributor's child process and commits the result's hash as the leaf after the
 * checkpoints; the verifier samples and replays it like a segment; the requester gets
 * attribution.json. A provider that forges the weights is challenged on that leaf and slashed.
 * The data economy around it (issue 16): a datanet created on chain by burning OPEN, its
 * contributors staking, a KNN-Shapley job's committed attribution setting the pool's weights
 * root from a contributor's transaction (no governance), the harmful contributor slashed and the
 * others paid by Merkle claims, every balance checked to the wei.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  createCheatingFaultPlan,
  recordFinalizedAttribution,
  registerDatanetOnChain,
  releaseTrainedModel,
  slashHarmfulContributions,
  writeDatanetFixture,
} from '@ocn/cli'
import {
  claimContributorRewards,
  defaultDatanetParameters,
  getAttributionPool,
  getContributorRecord,
  getJob,
  getTokenBalance,
} from '@ocn/contracts-client'
import type { attribution, RequesterRole, VerificationReport } from '@ocn/node'
import { attributionWeightsTree, contentHashOf } from '@ocn/protocol'
import { createWalletClient, type Hex, http } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  E2E_MODEL_REVIEW_SECONDS,
  finalizedOncePassed,
  fundAndStake,
  increaseTime,
  jobIn,
  juryConviction,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  waitFor,
  writeFixture,
} from './helpers.js'

const REQUESTER = 1
const HONEST = 2
const FORGER = 3
const VERIFIER = 4
const JUROR = 5
const TREASURY = 9
const CHALLENGE_WINDOW = 20
// contributor payout addresses: accounts without any role
const CONTRIBUTORS = [6, 7, 8]
const STAKE = defaultDatanetParameters.contributionStake
const BURN = defaultDatanetParameters.creationBurn
const BURN_SINK = '0x000000000000000000000000000000000000dEaD'

describe('attribution in the job lifecycle (in-process nodes, anvil, ORT)', () => {
  let dir: string
  let net: Awaited<ReturnType<typeof startChain>>
  let nodes: TestNode[]
  let fixture: Awaited<ReturnType<typeof writeDatanetFixture>>
  let modelPath: string
  let jobMarket: `0x${string}`
  let client: Parameters<typeof getJob>[0]
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  const submit = () =>
    requester().submitJob({
      modelPath,
      inputsPath: fixture.inputsPath,
      trainingSpecPath: fixture.trainingSpecPath,
      datanetManifestPath: fixture.manifestPath,
      kind: 'training',
      verification: 'replay',
    })

  beforeAll(async () => {
    dir = await tempDir()
    net = await startChain({ challengeWindow: CHALLENGE_WINDOW, treasuryIndex: TREASURY })
    const { chain, deployment, deployer } = net
    jobMarket = deployment.addresses.jobMarket
    client = deployer as unknown as Parameters<typeof getJob>[0]
    await fundAndStake(chain, deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, HONEST, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, FORGER, 200n * OPEN, 100n * OPEN)
    // verifier minimum, juror pool and a challenge's stake at risk
    await fundAndStake(chain, deployment, VERIFIER, 400n * OPEN, 300n * OPEN)
    await fundAndStake(chain, deployment, JUROR, 400n * OPEN, 300n * OPEN)
    modelPath = (await writeFixture(dir)).modelPath
    // contributor 1 supplies random labels
    fixture = await writeDatanetFixture(dir, {
      contributors: CONTRIBUTORS.map((i) => chain.accounts[i]!.address),
      noisy: [1],
    })
    nodes = await startNodes(chain, deployment, dir, [
      { name: 'juror', accountIndex: JUROR, roles: ['verifier'] },
      { name: 'verifier', accountIndex: VERIFIER, roles: ['verifier'] },
      { name: 'honest', accountIndex: HONEST, roles: ['provider'] },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'] },
    ])
  }, 120_000)

  afterAll(async () => {
    for (const n of nodes ?? []) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    await removeDir(dir)
  })

  it('commits the attribution as the leaf after the checkpoints; the verifier replays it; the signal contributor outweighs the noise one', async () => {
    const submitted = await submit()
    // once both verifiers passed it, the rest of the challenge window is skipped; a loaded machine
    // may miss the first bidding window, and the requester offers the same work again
    const { id: jobId } = await finalizedOncePassed(
      net.chain,
      node('requester'),
      [node('verifier'), node('juror')],
      submitted.jobId,
      { windowSeconds: CHALLENGE_WINDOW, followReoffers: true },
    )
    const results = await waitFor('the attribution result at the requester', async () => {
      const record = await node('requester').daemon.state.getJob(jobId)
      return (
        record?.detail as
          | { results?: { verified: boolean; leafCount: number; attributionHash?: string } }
          | undefined
      )?.results
    })
    // 120 rows / 16 = 8 steps x 3 epochs, a checkpoint every 8: 0, 8, 16, 24, then attribution
    expect(results).toMatchObject({ verified: true, leafCount: 5 })
    const files = await requester().jobResults!(jobId)
    expect(files?.files.map((f) => f.name)).toEqual([
      'model.onnx',
      'training-manifest.json',
      'attribution.json',
    ])
    const stream = await requester().openJobResult!(jobId, 'attribution.json')
    const chunks: Buffer[] = []
    for await (const chunk of stream!) chunks.push(Buffer.from(chunk as Uint8Array))
    const result = JSON.parse(Buffer.concat(chunks).toString('utf8')) as attribution.AttributionResult
    const [signal, noise, signal2] = result.weights.map((w) => w.weight) as [number, number, number]
    expect(signal + noise + signal2).toBe(10_000)
    expect(noise).toBeLessThan(signal)
    expect(noise).toBeLessThan(signal2)
    expect(result.scores[1]!).toBeLessThan(result.scores[0]!)
    expect(result.weightsRoot).toBe(attributionWeightsTree(result.weights).root)
    // the committed root's last leaf is this result
    const onChain = await getJob(client, { jobMarket, jobId: jobId as `0x${string}` })
    expect(onChain.leafCount).toBe(5)
    const manifest = JSON.parse(await readFile(fixture.manifestPath, 'utf8'))
    expect(result.weights.map((w) => w.address)).toEqual(
      manifest.contributors.map((c: { address: string }) => c.address),
    )

    const verified = await jobIn(node('verifier'), jobId, ['finalized'])
    const report = (verified.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(true)
    expect(report.leafCount).toBe(5)
    // five leaves at a 0.99 target: every one is checked, the attribution leaf included
    expect(report.checkedIndices).toContain(4)
  }, 300_000)

  it('a datanet on chain: three contributors stake, anyone records the finalized job attribution (no governance), the label-noise contributor is slashed, claims paid to the wei', async () => {
    const { chain, deployment, deployer } = net
    const { token } = deployment.addresses
    const datanetRegistry = deployment.addresses.datanetRegistry!
    const attributionPool = deployment.addresses.attributionPool!
    const wallets = CONTRIBUTORS.map((i) =>
      createWalletClient({
        account: privateKeyToAccount(chain.privateKeys[i]!),
        chain: chain.chain,
        transport: http(chain.rpcUrl),
      }),
    )
    const addresses = wallets.map((w) => w.account.address)
    for (const i of CONTRIBUTORS) await fundAndStake(chain, deployment, i, STAKE, 0n)
    const holders = [...addresses, deployer.account.address, BURN_SINK] as const
    const balances = () => Promise.all(holders.map((account) => getTokenBalance(client, { token, account })))
    const before = await balances()

    // the same rows as the TracIn job, attributed by KNN-Shapley: the noise is clearly harmful there
    const knnDir = join(dir, 'knn')
    await mkdir(knnDir, { recursive: true })
    const knn = await writeDatanetFixture(knnDir, {
      contributors: addresses,
      noisy: [1],
      method: 'knn-shapley-v1',
    })
    const datanet = await registerDatanetOnChain(deployer, wallets, deployment, knn.manifest)
    expect(datanet).toMatchObject({ burned: BURN, stake: STAKE, indices: [0n, 1n, 2n] })

    const submitted = await requester().submitJob({
      modelPath,
      inputsPath: knn.inputsPath,
      trainingSpecPath: knn.trainingSpecPath,
      datanetManifestPath: knn.manifestPath,
      kind: 'training',
      verification: 'replay',
    })
    // on a loaded machine a provider may skip the first offer (its artifact check still
    // running): follow the job through its automatic re-offers to the one that finalized
    const jobId = await waitFor(
      'the datanet job finalized (following re-offers)',
      async () => {
        let id = submitted.jobId
        for (let hops = 0; hops < 10; hops++) {
          const record = await node('requester').daemon.state.getJob(id)
          const next = (record?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
          if (next === undefined) return record?.state === 'finalized' ? id : undefined
          id = next
        }
        return undefined
      },
      240_000,
    )
    await waitFor('the checked results at the requester', async () => {
      const record = await node('requester').daemon.state.getJob(jobId)
      return (record?.detail as { results?: unknown } | undefined)?.results
    })
    const read = async (name: string) => {
      const chunks: Buffer[] = []
      for await (const chunk of (await requester().openJobResult!(jobId, name))!)
        chunks.push(Buffer.from(chunk as Uint8Array))
      return Buffer.concat(chunks)
    }
    const result = JSON.parse(
      (await read('attribution.json')).toString('utf8'),
    ) as attribution.AttributionResult
    expect(result.method).toBe('knn-shapley-v1')
    expect(result.scores[1]!).toBeLessThan(0)
    const modelHash = contentHashOf(await read('model.onnx'))
    const offer = ((await node('requester').daemon.state.getJob(jobId))!.detail as { offer: Hex }).offer
    await releaseTrainedModel(
      deployer,
      deployer,
      deployment,
      {
        modelHash,
        jobId: jobId as Hex,
        storagePointer: 'ipfs://datanet-knn-model',
        trainingSpecHash: contentHashOf(await readFile(knn.trainingSpecPath)),
        evaluationReportHash: result.validationHash,
      },
      // the review period passes on anvil's clock (seconds: the stakes stay locked)
      () => increaseTime(net.chain, E2E_MODEL_REVIEW_SECONDS),
    )
    // a contributor, holding no role, sets the pool's weights root from the committed leaf
    await recordFinalizedAttribution(wallets[0]!, deployment, {
      datanetId: datanet.datanetId,
      count: 3,
      modelHash,
      offer,
      result,
    })
    const pool = await getAttributionPool(client, { attributionPool, modelId: modelHash })
    expect(pool).toMatchObject({ weightsRoot: result.weightsRoot, attributionResult: result.resultHash })

    // contributor 2 challenges: only the noise contributor was ranked harmful
    const slashed = await slashHarmfulContributions(
      wallets[2]!,
      deployment,
      datanet.datanetId,
      datanet.indices,
    )
    const reward = (STAKE * BigInt(defaultDatanetParameters.challengerShareBps)) / 10_000n
    const pot = STAKE - reward
    expect(slashed.map((x) => [x.index, x.contributor, x.reward, x.toPool])).toEqual([
      [1n, addresses[1], reward, pot],
    ])

    const claim = (w: (typeof wallets)[number]) =>
      claimContributorRewards(w, {
        datanetRegistry,
        attributionPool,
        datanetId: datanet.datanetId,
        fromBlock: deployment.deployBlock,
      })
    const claims = []
    for (const w of wallets) claims.push(await claim(w))
    const weights = result.weights.map((w) => w.weight)
    expect(weights[1]).toBe(0)
    const share0 = (pot * BigInt(weights[0]!)) / 10_000n
    // the last claim of the round takes its remainder (the rounding dust)
    expect(claims.map((c) => c.paid)).toEqual([share0, 0n, pot - share0])
    expect(claims.map((c) => c.stake.state)).toEqual(['locked', 'gone', 'locked'])
    expect((await claim(wallets[0]!)).paid).toBe(0n)

    const after = await balances()
    const [c0, c1, c2, creator, sink] = after.map((b, i) => b - before[i]!)
    expect([c0, c1, c2, creator, sink]).toEqual([
      share0 - STAKE,
      -STAKE,
      reward + pot - share0 - STAKE,
      -BURN,
      BURN,
    ])
    const record = await getContributorRecord(client, { datanetRegistry, contributor: addresses[1]! })
    expect(record).toMatchObject({ attributions: 1, harmful: 1, slashed: 1, reputation: 0n })
  }, 300_000)

  it('a forged attribution (weights handed to the wrong contributors) is challenged on its leaf and slashed', async () => {
    // the honest provider is away, so the forger is the only bidder
    await node('honest').daemon.stop()
    nodes.push(
      ...(await startNodes(
        net.chain,
        net.deployment,
        dir,
        [
          {
            name: 'forger',
            accountIndex: FORGER,
            roles: ['provider'],
            faults: createCheatingFaultPlan({ fraction: 0, forgeAttribution: true }),
          },
        ],
        nodes,
      )),
    )
    const { jobId } = await submit()
    const awarded = await jobIn(node('requester'), jobId, ['awarded', 'committed', 'challenged', 'slashed'])
    expect(awarded.provider).toBe(node('forger').address)
    await jobIn(node('requester'), jobId, ['slashed'])
    const checked = await jobIn(node('verifier'), jobId, ['slashed'])
    const report = (checked.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(false)
    // only the attribution leaf is wrong: the checkpoints are honest
    expect(report.mismatches.map((m) => [m.index, m.reason])).toEqual([[4, 'different-result']])
    // the jury (the verifier that did not challenge) re-executed leaf 4 and voted guilty
    const conviction = await juryConviction(net.chain, net.deployment, jobId as Hex)
    expect(conviction.leafIndex).toBe(4)
    expect(conviction.jurors.map((j) => j.vote)).toEqual([1])
  }, 300_000)

  it('refuses attribution jobs whose datanet does not fit: typed errors, nothing recorded', async () => {
    const requesterNode = node('requester')
    const before = (await requesterNode.daemon.state.listJobs({ role: 'requester' })).length
    // an undefined field removes it (the submit takes its params as JSON-like input)
    const code = (params: Record<string, string | undefined>) =>
      requester()
        .submitJob({
          modelPath,
          inputsPath: fixture.inputsPath,
          trainingSpecPath: fixture.trainingSpecPath,
          datanetManifestPath: fixture.manifestPath,
          kind: 'training',
          verification: 'replay',
          ...params,
        } as Parameters<RequesterRole['submitJob']>[0])
        .then(
          () => 'submitted',
          (e: { code?: string }) => e.code,
        )
    const spec = JSON.parse(await readFile(fixture.trainingSpecPath, 'utf8'))
    const manifest = JSON.parse(await readFile(fixture.manifestPath, 'utf8'))
    const write = async (name: string, value: unknown) => {
      const path = join(dir, name)
      await writeFile(path, JSON.stringify(value))
      return path
    }
    // no manifest for a spec that names attribution
    expect(await code({ datanetManifestPath: undefined })).toBe('ROLE_INVALID_PARAMS')
    // a manifest other than the one the spec names
    expect(await code({ datanetManifestPath: await write('other.json', { ...manifest, rows: 119 }) })).toBe(
      'ROLE_INPUT_MISMATCH',
    )
    // a manifest of another dataset file (its hash filled in by the requester)
    const { manifest: _m, ...attribution } = spec.attribution
    const unpinned = await write('unpinned.json', { ...spec, attribution })
    expect(
      await code({
        trainingSpecPath: unpinned,
        datanetManifestPath: await write('elsewhere.json', {
          ...manifest,
          datasetId: `0x${'ab'.repeat(32)}`,
        }),
      }),
    ).toBe('ROLE_INPUT_MISMATCH')
    // validation tensors the dataset does not hold
    const noValidation = await write('no-validation.json', {
      ...spec,
      attribution: { ...spec.attribution, validation: { features: 'x_test', targets: 'y_test' } },
    })
    expect(await code({ trainingSpecPath: noValidation })).toBe('ROLE_INPUT_MISMATCH')
    // the spec parser: validation naming the training tensors
    const same = await write('same.json', {
      ...spec,
      attribution: { ...spec.attribution, validation: { features: 'x', targets: 'y' } },
    })
    expect(await code({ trainingSpecPath: same })).toBe('ROLE_INVALID_PARAMS')
    expect((await requesterNode.daemon.state.listJobs({ role: 'requester' })).length).toBe(before)
  }, 60_000)
})
