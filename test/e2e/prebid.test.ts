/**
 * A provider checks an offer's artifacts before it bids (provider.prebidFetchMaxBytes). A
 * job the provider could not run once awarded (inputs that do not fit the model, a dataset
 * the network cannot train on, a datanet manifest of another dataset) gets no bid: nothing
 * is escrowed, nobody is slashed. Before the check, the honest provider bid on such a job,
 * was awarded, failed to execute and was slashed as a no-show. A valid job still runs end to
 * end, with the artifacts the check fetched.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeDatanetFixture } from '@ocn/cli'
import { approveToken, compactSalt, getJob } from '@ocn/contracts-client'
import {
  cpuReplayProfile,
  decodeSafetensors,
  encodeSafetensors,
  ortVersion,
  type RequesterRole,
} from '@ocn/node'
import {
  contentHashOf,
  createIdentityBinding,
  type JobOffer,
  type OfferTerms,
  offerTypedData,
} from '@ocn/protocol'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  fundAndStake,
  increaseTime,
  jobIn,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  tokenBalances,
  waitFor,
  writeFixture,
  writeTrainingFixture,
} from './helpers.js'

const REQUESTER = 1
const PROVIDER = 2
const TREASURY = 9

describe('checking the artifacts before bidding (in-process nodes, anvil, ORT)', () => {
  let dir: string
  let net: Awaited<ReturnType<typeof startChain>>
  let nodes: TestNode[]
  let fixture: { modelPath: string; inputsPath: string }
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  const client = () => net.deployer as unknown as Parameters<typeof getJob>[0]

  async function rejections(reason: string): Promise<number> {
    const metric = node('provider').daemon.registry.getSingleMetric('ocn_provider_prebid_rejections_total')
    if (metric === undefined) return 0
    const { values } = await metric.get()
    return values.find((v) => v.labels.reason === reason)?.value ?? 0
  }

  async function expectNoTrade(ids: string[]): Promise<void> {
    for (const id of ids) {
      // the provider never bid: it holds no record of the job, and the chain never saw it
      expect(await node('provider').daemon.state.getJob(id)).toBeUndefined()
      const onChain = await getJob(client(), {
        jobMarket: net.deployment.addresses.jobMarket,
        jobId: id as Hex,
      })
      expect(onChain.status).toBe('none')
    }
  }

  /**
   * Signs and gossips an offer from the requester's keys without its role: what a requester
   * that bypasses our client's checks publishes. The files go into its store, which serves them.
   */
  async function publishCrafted(job: {
    model: Uint8Array
    inputBytes: Uint8Array
    specBytes: Uint8Array
    kind: number
    sampleCount: number
    microBatchSize: number
    declaredModelBytes?: number
    salt?: bigint
  }): Promise<string> {
    const r = node('requester')
    const { chain, network, store } = r.components.parts as Required<typeof r.components.parts>
    for (const bytes of [job.model, job.inputBytes, job.specBytes]) await store.putBytes(bytes)
    // peers accept an offer only when the requester's allowance covers its maxPrice
    await chain.serialize(() =>
      approveToken(chain.client, {
        token: net.deployment.addresses.token,
        spender: net.deployment.addresses.jobMarket,
        amount: OPEN,
      }),
    )
    const now = BigInt(Math.floor(Date.now() / 1000))
    const terms: OfferTerms = {
      requester: r.address,
      modelHash: contentHashOf(job.model),
      inputHash: contentHashOf(job.inputBytes),
      specHash: contentHashOf(job.specBytes),
      kind: job.kind,
      verification: 0,
      maxPrice: OPEN,
      minCollateral: OPEN,
      sampleCount: job.sampleCount,
      microBatchSize: job.microBatchSize,
      biddingEnds: now + 3n,
      deadline: now + 300n,
      salt: job.salt ?? BigInt(Date.now()),
    }
    const offer: JobOffer = {
      version: 1,
      chainId: net.deployment.chainId,
      market: net.deployment.addresses.jobMarket,
      terms,
      requesterPeerId: network.peerId,
      requesterBinding: await createIdentityBinding(r.keys.account, r.keys.privateKey),
      signature: await r.keys.account.signTypedData(offerTypedData(chain.domain, terms)),
      modelBytes: job.declaredModelBytes ?? job.model.length,
      inputBytes: job.inputBytes.length,
      spec: job.specBytes,
    }
    return (await network.gossip.publishOffer(offer)).jobId
  }

  /**
   * A training offer's step count and checkpoint interval, as our requester fills them (the
   * chain derives the checkpoint count from them), so the provider refuses a crafted offer for
   * the fault under test and not for its counts.
   */
  function trainingCounts(
    spec: { batchSize: number; epochs: number; checkpointInterval: number; data?: { features: string } },
    inputBytes: Uint8Array,
  ): { sampleCount: number; microBatchSize: number } {
    const tensors = decodeSafetensors(inputBytes).tensors
    // the rows are those of the spec's features tensor (a crafted dataset may hold others)
    const features = spec.data === undefined ? Object.values(tensors)[0] : tensors[spec.data.features]
    const rows = features?.dims[0] ?? 0
    const steps = Math.ceil(rows / spec.batchSize) * spec.epochs
    return { sampleCount: steps, microBatchSize: Math.max(1, Math.min(spec.checkpointInterval, steps)) }
  }

  beforeAll(async () => {
    dir = await tempDir()
    net = await startChain({ challengeWindow: 20, treasuryIndex: TREASURY })
    await fundAndStake(net.chain, net.deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(net.chain, net.deployment, PROVIDER, 200n * OPEN, 100n * OPEN)
    fixture = await writeFixture(dir)
    nodes = await startNodes(net.chain, net.deployment, dir, [
      { name: 'provider', accountIndex: PROVIDER, roles: ['provider'] },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'] },
    ])
  }, 120_000)

  afterAll(async () => {
    for (const n of nodes ?? []) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    await removeDir(dir)
  })

  it('inputs that do not fit the model: our requester refuses them, a crafted offer of them gets no bid, twice; nothing is escrowed or slashed', async () => {
    // the model takes input [N, 8]; these are [64, 5] under the right name
    const badInputsPath = join(dir, 'bad-inputs.safetensors')
    const data = new Float32Array(64 * 5).fill(0.5)
    const inputBytes = encodeSafetensors({
      input: { dtype: 'float32', dims: [64, 5], data: new Uint8Array(data.buffer) },
    })
    await writeFile(badInputsPath, inputBytes)
    const refused = await requester()
      .submitJob({
        modelPath: fixture.modelPath,
        inputsPath: badInputsPath,
        kind: 'inference',
        verification: 'replay',
      })
      .then(
        () => 'submitted',
        (err: { code?: string }) => err.code,
      )
    expect(refused).toBe('ROLE_INPUT_MISMATCH')

    // a requester that bypasses those checks: the same files, offered twice under new ids
    const accounts = [node('requester').address, node('provider').address]
    const before = await tokenBalances(net.chain, net.deployment, accounts)
    const rejected = await rejections('inputs-mismatch')
    const model = new Uint8Array(await readFile(fixture.modelPath))
    const specBytes = new TextEncoder().encode(
      JSON.stringify({ kind: 'inference', profile: cpuReplayProfile(ortVersion(), 8) }),
    )
    const crafted = { model, inputBytes, specBytes, kind: 0, sampleCount: 64, microBatchSize: 8 }
    const ids = [await publishCrafted(crafted)]
    await waitFor('the provider refusing the offer', async () =>
      (await rejections('inputs-mismatch')) === rejected + 1 ? true : undefined,
    )
    ids.push(await publishCrafted(crafted))
    // the second offer of the same files is judged from memory, counted once more
    await waitFor('the provider refusing the second offer', async () =>
      (await rejections('inputs-mismatch')) === rejected + 2 ? true : undefined,
    )
    await expectNoTrade(ids)
    // the check fetched the files into the provider's store
    const store = node('provider').components.parts.store!
    expect(await store.has(contentHashOf(model))).toBe(true)
    expect(await store.has(contentHashOf(inputBytes))).toBe(true)
    expect(await tokenBalances(net.chain, net.deployment, accounts)).toEqual(before)
    expect(before[node('provider').address]!.locked).toBe(0n)
  }, 120_000)

  it('a training dataset the network cannot take: refused by our requester, no bid on a crafted offer', async () => {
    // x is [N, 3]; the spec's network takes 2 features
    const { inputsPath: widePath, trainingSpecPath } = await writeWideDataset(dir)
    const refused = await requester()
      .submitJob({
        modelPath: fixture.modelPath,
        inputsPath: widePath,
        trainingSpecPath,
        kind: 'training',
        verification: 'replay',
      })
      .then(
        () => 'submitted',
        (err: { code?: string }) => err.code,
      )
    expect(refused).toBe('ROLE_INPUT_MISMATCH')
    const rejected = await rejections('inputs-mismatch')
    const raw = JSON.parse(await readFile(trainingSpecPath, 'utf8')) as {
      batchSize: number
      epochs: number
      checkpointInterval: number
    }
    const spec = { ...raw, profile: cpuReplayProfile(ortVersion(), raw.batchSize, 'feeds') }
    const jobId = await publishCrafted({
      model: new Uint8Array(await readFile(fixture.modelPath)),
      inputBytes: new Uint8Array(await readFile(widePath)),
      specBytes: new TextEncoder().encode(JSON.stringify(spec)),
      kind: 1,
      ...trainingCounts(spec, new Uint8Array(await readFile(widePath))),
    })
    await waitFor('the provider refusing the offer', async () =>
      (await rejections('inputs-mismatch')) === rejected + 1 ? true : undefined,
    )
    await expectNoTrade([jobId])
  }, 120_000)

  it('a crafted attribution offer whose datanet manifest describes another dataset gets no bid', async () => {
    const { store } = node('requester').components.parts
    const datanet = await writeDatanetFixture(dir, {
      contributors: [6, 7, 8].map((i) => net.chain.accounts[i]!.address),
      noisy: [],
    })
    // the same rows plus one more tensor: another file than the manifest's datasetId
    const dataset = decodeSafetensors(new Uint8Array(await readFile(datanet.inputsPath))).tensors
    const inputBytes = encodeSafetensors({
      ...dataset,
      extra: { dtype: 'float32', dims: [1], data: new Uint8Array(4) },
    })
    const spec = { ...datanet.spec, profile: cpuReplayProfile(ortVersion(), 16, 'feeds') }
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    const model = new Uint8Array(await readFile(fixture.modelPath))
    await store!.putBytes(new Uint8Array(await readFile(datanet.manifestPath)))
    const rejected = await rejections('manifest-invalid')
    const jobId = await publishCrafted({
      model,
      inputBytes,
      specBytes,
      kind: 1,
      ...trainingCounts(
        datanet.spec as {
          batchSize: number
          epochs: number
          checkpointInterval: number
          data: { features: string }
        },
        inputBytes,
      ),
    })
    await waitFor('the provider refusing the offer', async () =>
      (await rejections('manifest-invalid')) === rejected + 1 ? true : undefined,
    )
    await expectNoTrade([jobId])
  }, 120_000)

  it('an offer that understates its model size gets no bid: the fetch stops at the declared size', async () => {
    // a model the provider does not hold yet (one it holds is not fetched, so its size is moot)
    await mkdir(join(dir, 'other'))
    const other = await writeFixture(join(dir, 'other'), 99)
    const model = new Uint8Array(await readFile(other.modelPath))
    const inputBytes = new Uint8Array(await readFile(other.inputsPath))
    const specBytes = new TextEncoder().encode(
      JSON.stringify({ kind: 'inference', profile: cpuReplayProfile(ortVersion(), 8) }),
    )
    const rejected = await rejections('artifact-size')
    const jobId = await publishCrafted({
      model,
      inputBytes,
      specBytes,
      kind: 0,
      sampleCount: 64,
      microBatchSize: 8,
      declaredModelBytes: 100,
    })
    await waitFor('the provider refusing the offer', async () =>
      (await rejections('artifact-size')) === rejected + 1 ? true : undefined,
    )
    await expectNoTrade([jobId])
  }, 120_000)

  it('an offer in the compact salt space gets no bid: awarded compactly, this provider would be a no-show', async () => {
    // the same valid files twice: once with a compact salt (only awardCompact can award it,
    // and the node commits with commitResult, which cannot find such a job), once without
    const model = new Uint8Array(await readFile(fixture.modelPath))
    const inputBytes = new Uint8Array(await readFile(fixture.inputsPath))
    const specBytes = new TextEncoder().encode(
      JSON.stringify({ kind: 'inference', profile: cpuReplayProfile(ortVersion(), 8) }),
    )
    const files = { model, inputBytes, specBytes, kind: 0, sampleCount: 64, microBatchSize: 8 }
    const compactId = await publishCrafted({ ...files, salt: compactSalt(BigInt(Date.now())) })
    const controlId = await publishCrafted({ ...files, salt: BigInt(Date.now()) + 1n })
    // the control is checked and bid on (its artifacts fetched first); the compact offer was
    // refused on its terms alone, before that
    await waitFor('the provider bidding on the control offer', async () =>
      (await node('provider').daemon.state.getJob(controlId)) !== undefined ? true : undefined,
    )
    await expectNoTrade([compactId])
  }, 120_000)

  it('a valid job still runs end to end', async () => {
    const rejectedBefore = await Promise.all(['inputs-mismatch', 'timeout'].map(rejections))
    const { jobId } = await requester().submitJob({
      modelPath: fixture.modelPath,
      inputsPath: fixture.inputsPath,
      kind: 'inference',
      verification: 'replay',
    })
    await jobIn(node('provider'), jobId, ['committed', 'finalized'])
    await increaseTime(net.chain, 30)
    await jobIn(node('provider'), jobId, ['finalized'])
    const done = await jobIn(node('requester'), jobId, ['finalized'])
    expect((done.detail as { results?: { verified: boolean } }).results?.verified).toBe(true)
    expect(await Promise.all(['inputs-mismatch', 'timeout'].map(rejections))).toEqual(rejectedBefore)
  }, 120_000)
})

/** The e2e training fixture (network takes 2 features) with a third feature column added to x. */
async function writeWideDataset(dir: string): Promise<{ inputsPath: string; trainingSpecPath: string }> {
  await mkdir(join(dir, 'wide'), { recursive: true })
  const { inputsPath: narrowPath, trainingSpecPath } = await writeTrainingFixture(join(dir, 'wide'))
  const { x, y } = decodeSafetensors(new Uint8Array(await readFile(narrowPath))).tensors
  const [n, features] = x!.dims as [number, number]
  const narrow = new Float32Array(x!.data.slice().buffer)
  const wide = Float32Array.from({ length: n * (features + 1) }, (_v, i) => {
    const [row, col] = [Math.floor(i / (features + 1)), i % (features + 1)]
    return col < features ? narrow[row * features + col]! : 0.5
  })
  const inputsPath = join(dir, 'wide', 'wide.safetensors')
  await writeFile(
    inputsPath,
    encodeSafetensors({
      x: { dtype: 'float32', dims: [n, features + 1], data: new Uint8Array(wide.buffer) },
      y: y!,
    }),
  )
  return { inputsPath, trainingSpecPath }
}
