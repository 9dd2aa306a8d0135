/**
 * The devnet's attribution phase: the data economy of issue 16 end to end.
 *
 * 1. Before the nodes start, a tiny datanet is generated: three contributors (fresh keys,
 *    funded by the deployer with gas and exactly one contribution stake), one of them supplying
 *    random labels. The datanet is created on chain (the deployer burns the creation amount)
 *    and each contributor stakes its rows in manifest order (datanet-chain.ts).
 * 2. Its training job (spec naming `knn-shapley-v1`, under which label noise scores clearly
 *    negative) runs in the workload like any other: the provider commits the attribution
 *    result as the leaf after the checkpoints, the verifier replays it.
 * 3. Afterwards the trained model is released in the ModelRegistry with its training job
 *    bound, and a contributor (no role, no governance) records the finalized job's committed
 *    attribution: the registry checks it against the job's result root and sets the weights
 *    root in the AttributionPool. The noise contributor, ranked harmful, is challenged by
 *    another contributor and its stake slashed (a share to the challenger, the rest into the
 *    model's pool). An inference job on the model then pays the JobMarket's attribution share
 *    into the pool; each contributor claims its share of the settled round with its Merkle
 *    proof (claimContributorRewards, what `ocn datanet claim` runs).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Job, OcnClientError, type SubmitJobInput } from '@ocn/client'
import {
  type ClaimContributorRewardsResult,
  claimContributorRewards,
  datanetRegistryAbi,
  getAttributionPool,
  getAttributionRound,
  getTokenBalance,
  jobMarketAbi,
  type ProtocolWalletClient,
  transferToken,
} from '@ocn/contracts-client'
import { ATTRIBUTION_RESULT_FILE, attributionResultProblem, writeTensorFile } from '@ocn/node'
import type { AttributionResult } from '@ocn/node/attribution'
import { contentHashOf } from '@ocn/protocol'
import { type Address, createWalletClient, type Hex, http, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { getContractEvents, readContract, sendTransaction, waitForTransactionReceipt } from 'viem/actions'
import { writeDatanetFixture } from './datanet.js'
import {
  type DatanetOnChain,
  DEVNET_MODEL_REVIEW_SECONDS,
  recordFinalizedAttribution,
  registerDatanetOnChain,
  releaseTrainedModel,
  type SlashedContribution,
  slashHarmfulContributions,
  untilChainTime,
} from './datanet-chain.js'
import { DevnetError } from './errors.js'
import { readFollowingReoffers } from './jobs.js'
import { devnetNodeApi, submissionOf } from './node-client.js'
import type { DevnetAfterContext, DevnetPhase, DevnetPhaseContext, DevnetPhaseReport } from './phase.js'
import { sleep } from './sleep.js'
import type { Workload, WorkloadJob } from './workload.js'

export const ATTRIBUTION_TRAINING_JOB = 'datanet-training'
/** Contributor 1 supplies random labels; 0 and 2 clean ones. */
const NOISY = [1]
const INFERENCE_SAMPLES = 16
/** Where the registry sends burned OPEN (DatanetRegistry.BURN_SINK): a holder for the books. */
const BURN_SINK: Address = '0x000000000000000000000000000000000000dEaD'

const phaseDir = (context: DevnetPhaseContext) => join(context.dir, 'attribution')
const planFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'datanet.json')

/** What prepare leaves on disk for the later steps (the phase keeps no state in memory). */
interface DatanetPlan {
  contributors: Address[]
  /** the contributors' throwaway devnet keys: they stake, record, challenge and claim */
  contributorKeys: Hex[]
  inputsPath: string
  manifestPath: string
  trainingSpecPath: string
  /** the on-chain datanet (bigints as decimal strings) */
  datanetId: string
  burned: string
  stake: string
  indices: string[]
}

function walletOf(context: DevnetPhaseContext, key: Hex): ProtocolWalletClient {
  return createWalletClient({
    account: privateKeyToAccount(key),
    chain: context.chain.chain,
    transport: http(context.chain.rpcUrl),
  })
}

/** Gas and exactly one contribution stake of OPEN for each contributor, from the deployer. */
async function fundContributors(
  context: DevnetPhaseContext,
  contributors: readonly Address[],
): Promise<void> {
  const { admin, deployment } = context
  const { contributionStake } = await readContract(admin, {
    address: deployment.addresses.datanetRegistry!,
    abi: datanetRegistryAbi,
    functionName: 'params',
  })
  for (const to of contributors) {
    const hash = await sendTransaction(admin, {
      to,
      value: parseEther('1'),
      account: admin.account,
      chain: admin.chain,
    })
    await waitForTransactionReceipt(admin, { hash })
    await transferToken(admin, { token: deployment.addresses.token, to, amount: contributionStake })
  }
}

async function prepare(context: DevnetPhaseContext): Promise<undefined> {
  await mkdir(phaseDir(context), { recursive: true })
  const contributorKeys = [0, 1, 2].map(() => generatePrivateKey())
  const wallets = contributorKeys.map((k) => walletOf(context, k))
  const contributors = wallets.map((w) => w.account.address)
  const fixture = await writeDatanetFixture(phaseDir(context), {
    contributors,
    noisy: NOISY,
    method: 'knn-shapley-v1',
  })
  await fundContributors(context, contributors)
  const datanet = await registerDatanetOnChain(context.admin, wallets, context.deployment, fixture.manifest)
  const plan: DatanetPlan = {
    contributors,
    contributorKeys,
    inputsPath: fixture.inputsPath,
    manifestPath: fixture.manifestPath,
    trainingSpecPath: fixture.trainingSpecPath,
    datanetId: datanet.datanetId.toString(),
    burned: datanet.burned.toString(),
    stake: datanet.stake.toString(),
    indices: datanet.indices.map(String),
  }
  await writeFile(planFile(context), `${JSON.stringify(plan, null, 2)}\n`)
  context.step(
    `attribution: datanet ${datanet.datanetId} created on chain (${datanet.burned} wei burned): ${fixture.manifest.rows} rows from ${contributors.length} staked contributors (one with label noise)`,
  )
  return undefined
}

function datanetOf(plan: DatanetPlan): DatanetOnChain {
  return {
    datanetId: BigInt(plan.datanetId),
    burned: BigInt(plan.burned),
    stake: BigInt(plan.stake),
    indices: plan.indices.map(BigInt),
  }
}

async function readPlan(context: DevnetPhaseContext): Promise<DatanetPlan> {
  return JSON.parse(await readFile(planFile(context), 'utf8')) as DatanetPlan
}

function trainingJob(plan: DatanetPlan, workload: Workload): WorkloadJob {
  return {
    name: ATTRIBUTION_TRAINING_JOB,
    kind: 'training',
    // the spec names an architecture: the model file is the workload's, unused by training
    modelPath: workload.modelPath,
    inputsPath: plan.inputsPath,
    trainingSpecPath: plan.trainingSpecPath,
    datanetManifestPath: plan.manifestPath,
  }
}

async function jobs(context: DevnetPhaseContext, workload: Workload): Promise<WorkloadJob[]> {
  return [trainingJob(await readPlan(context), workload)]
}

const TERMINAL = new Set(['finalized', 'slashed', 'expired', 'failed'])

/**
 * Submits a job through the requester's API and follows it to a terminal state. `paidLike`:
 * the job is paid like a workload job; it is reported to the devnet at once
 * (DevnetAfterContext.offered) so the summary's money checks count it.
 */
async function runJob(
  context: DevnetAfterContext,
  api: string,
  body: SubmitJobInput,
  timeoutMs: number,
  paidLike?: WorkloadJob,
): Promise<Job> {
  const { jobId } = await devnetNodeApi(api).call('write', (client) =>
    client.submit(body, context.signal === undefined ? {} : { signal: context.signal }),
  )
  if (paidLike !== undefined) context.offered(paidLike, jobId)
  return waitJob(context, api, jobId, (r) => TERMINAL.has(r.state), timeoutMs)
}

async function waitJob(
  context: DevnetAfterContext,
  api: string,
  jobId: string,
  done: (record: Job) => boolean,
  timeoutMs: number,
): Promise<Job> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (context.signal?.aborted) throw new DevnetError('DEVNET_ABORTED', 'the devnet was stopped')
    const followed = await readFollowingReoffers(api, jobId).catch(() => undefined)
    const record = followed?.record
    if (followed !== undefined && !followed.awaitingReoffer && done(followed.record)) return followed.record
    if (Date.now() > until) {
      throw new DevnetError('DEVNET_PHASE_FAILED', `job ${jobId} did not get there in time`, {
        details: `last state ${record?.state ?? 'unknown'}`,
      })
    }
    await sleep(250)
  }
}

/**
 * One result file of a job from the requester's API, checked against the content hash (its
 * SHA-256) the requester announced for it.
 */
async function resultFile(api: string, jobId: string, name: string): Promise<Uint8Array> {
  try {
    return (await devnetNodeApi(api).client.download(jobId, name, { timeoutMs: 30_000 })).bytes
  } catch (cause) {
    throw new DevnetError('DEVNET_PHASE_FAILED', `the requester did not serve ${name} of job ${jobId}`, {
      cause,
      details: cause instanceof OcnClientError ? cause.message : String(cause),
    })
  }
}

/** What the steps after the workload share: the plan, the requester's API and the pool. */
interface AttributionRun {
  context: DevnetAfterContext
  plan: DatanetPlan
  /** The requester's local API. */
  api: string
  attributionPool: Address
  /** The deployer: it releases the model (the ModelRegistry's curator until governance). */
  client: ProtocolWalletClient
  /** The contributors' wallets, in manifest order. */
  wallets: ProtocolWalletClient[]
}

async function planRun(context: DevnetAfterContext): Promise<AttributionRun> {
  const plan = await readPlan(context)
  const requester = context.nodes.find((n) => n.roles.includes('requester'))
  if (requester === undefined) throw new DevnetError('DEVNET_PHASE_FAILED', 'no requester node')
  const attributionPool = (context.deployment.addresses as { attributionPool?: Address }).attributionPool
  if (attributionPool === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the deployment has no AttributionPool')
  }
  const wallets = plan.contributorKeys.map((k) => walletOf(context, k))
  return { context, plan, api: requester.api, attributionPool, client: context.admin, wallets }
}

type JobSummary = DevnetAfterContext['jobs'][number]

/** The workload's datanet training job, run once more alone when it did not finalize. */
async function finalizedTraining(run: AttributionRun): Promise<JobSummary> {
  const { context } = run
  let training = context.jobs.find((j) => j.name === ATTRIBUTION_TRAINING_JOB)
  if (training?.status !== 'finalized') {
    // it lost its slot to the cheater (all honest providers busy): run it once more alone
    context.step(
      `attribution: ${ATTRIBUTION_TRAINING_JOB} ended ${training?.status ?? 'unsubmitted'}; running it again`,
    )
    const job = { ...trainingJob(run.plan, context.workload), name: `${ATTRIBUTION_TRAINING_JOB}-again` }
    // paid by the requester like any job, beside the refunded one it replaces
    const record = await runJob(context, run.api, submissionOf(job), 120_000, job)
    training = { name: job.name, id: record.id, status: record.state, provider: null }
  }
  if (training.status !== 'finalized') {
    throw new DevnetError('DEVNET_PHASE_FAILED', `the datanet training job ended ${training.status}`)
  }
  return training
}

/** The trained model and its committed attribution, as the requester checked and serves them. */
interface TrainedModel {
  training: JobSummary
  /** The requester's check of the committed results. */
  results: { verified: boolean; leafCount: number }
  result: AttributionResult
  /** The model's content hash: the pool's model id. */
  modelId: Hex
  modelPath: string
  /** The training job's signed offer (wire bytes): its hash is the job id. */
  offer: Hex
}

async function trainedModel(run: AttributionRun): Promise<TrainedModel> {
  const { context, api } = run
  const training = await finalizedTraining(run)
  // the requester fetches results right after the commit; wait until it has checked them
  const record = await waitJob(
    context,
    api,
    training.id,
    (r) => (r.detail as { results?: unknown } | undefined)?.results !== undefined,
    30_000,
  )
  const results = (record.detail as { results: { verified: boolean; leafCount: number } }).results
  const resultBytes = await resultFile(api, training.id, ATTRIBUTION_RESULT_FILE)
  const result = JSON.parse(new TextDecoder().decode(resultBytes)) as AttributionResult
  const problem = attributionResultProblem(result)
  if (problem !== undefined) {
    throw new DevnetError(
      'DEVNET_PHASE_FAILED',
      `the committed attribution result is inconsistent: ${problem}`,
    )
  }
  const model = await resultFile(api, training.id, 'model.onnx')
  const modelId = contentHashOf(model)
  const modelPath = join(phaseDir(context), 'trained-model.onnx')
  await writeFile(modelPath, model)
  context.step(
    `attribution: weights ${result.weights.map((w) => w.weight).join(' / ')} bp for model ${modelId.slice(0, 10)}`,
  )
  const offer = (record.detail as { offer: Hex }).offer
  return { training, results, result, modelId, modelPath, offer }
}

/** An inference job on the trained model, and the attribution share it sent to the pool. */
interface PaidInference {
  inference: Job
  price: bigint
  fee: bigint
  share: bigint
}

async function inferOnTrainedModel(run: AttributionRun, trained: TrainedModel): Promise<PaidInference> {
  const { context } = run
  const { deployment } = context
  const inputsPath = join(phaseDir(context), 'inference.safetensors')
  const features = new Float32Array(INFERENCE_SAMPLES * 2)
  for (let i = 0; i < features.length; i++) features[i] = Math.sin(i * 1.7) * 2
  // the exported model of an architecture job takes `features` (see executor/training/plan.ts)
  await writeTensorFile(inputsPath, {
    features: { dtype: 'float32', dims: [INFERENCE_SAMPLES, 2], data: new Uint8Array(features.buffer) },
  })
  context.step('attribution: an inference job on the trained model')
  const inference = await runJob(
    context,
    run.api,
    {
      modelPath: trained.modelPath,
      inputsPath,
      kind: 'inference',
      verification: 'replay',
      microBatchSize: 8,
    },
    90_000,
  )
  if (inference.state !== 'finalized') {
    throw new DevnetError(
      'DEVNET_PHASE_FAILED',
      `the inference job on the trained model ended ${inference.state}`,
    )
  }
  const finalized = await getContractEvents(run.client, {
    address: deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    eventName: 'JobFinalized',
    args: { jobId: inference.id as Hex },
    fromBlock: deployment.deployBlock,
  })
  const paid = finalized[0]?.args
  const price = BigInt(inference.price as string)
  // what the JobMarket kept back from the provider beyond the protocol fee
  const share = paid === undefined ? 0n : price - (paid.payout ?? 0n) - (paid.fee ?? 0n)
  return { inference, price, fee: paid?.fee ?? 0n, share }
}

/** The settled round and what each contributor's claim paid. */
interface ClaimedRound {
  round: bigint
  roundInfo: Awaited<ReturnType<typeof getAttributionRound>>
  payouts: bigint[]
  /** What each contributor's claim did (stakes stay locked for the governed period). */
  results: ClaimContributorRewardsResult[]
  /** What a second claim by contributor 0 paid. */
  again: bigint
  claimed: Awaited<ReturnType<typeof getAttributionRound>>
}

/** Each contributor claims for itself: the first claim settles the pool's pending OPEN into a round. */
async function claimAll(run: AttributionRun, trained: TrainedModel): Promise<ClaimedRound> {
  const { client, attributionPool, plan, context } = run
  const { modelId } = trained
  const token = context.deployment.addresses.token
  const claim = (wallet: ProtocolWalletClient) =>
    claimContributorRewards(wallet, {
      datanetRegistry: context.deployment.addresses.datanetRegistry!,
      attributionPool,
      datanetId: BigInt(plan.datanetId),
      fromBlock: context.deployment.deployBlock,
    })
  const payouts: bigint[] = []
  const results: ClaimContributorRewardsResult[] = []
  for (const [i, wallet] of run.wallets.entries()) {
    const account = plan.contributors[i]!
    const before = await getTokenBalance(client, { token, account })
    results.push(await claim(wallet))
    payouts.push((await getTokenBalance(client, { token, account })) - before)
  }
  // a second claim finds its leaves claimed: it pays nothing
  const again = (await claim(run.wallets[0]!)).paid
  const round = (await getAttributionPool(client, { attributionPool, modelId })).rounds - 1n
  const roundInfo = await getAttributionRound(client, { attributionPool, modelId, round })
  const claimed = await getAttributionRound(client, { attributionPool, modelId, round, indices: [0, 1, 2] })
  return { round, roundInfo, payouts, results, again, claimed }
}

type PoolState = Awaited<ReturnType<typeof getAttributionPool>>

function attributionChecks(
  trained: TrainedModel,
  pools: { committed: PoolState; paid: PoolState },
  inference: PaidInference,
  slashed: readonly SlashedContribution[],
  claims: ClaimedRound,
  plan: DatanetPlan,
): Record<string, boolean> {
  const { result, results } = trained
  const { share } = inference
  const { payouts, roundInfo, claimed } = claims
  const signal = [0, 1, 2].filter((i) => !NOISY.includes(i))
  const total = payouts.reduce((a, b) => a + b, 0n)
  const toPool = slashed.reduce((a, x) => a + x.toPool, 0n)
  const noisy = NOISY.map((i) => plan.contributors[i]!.toLowerCase())
  return {
    trainedWithAttribution: results.verified && results.leafCount === result.checkpointHashes.length + 1,
    weightsCommitted:
      pools.committed.weightsRoot === result.weightsRoot &&
      pools.committed.attributionResult === result.resultHash,
    noiseSlashed:
      slashed.length === NOISY.length && slashed.every((x) => noisy.includes(x.contributor.toLowerCase())),
    // pending grew by the slashed stake's pool part (slashed after the root was set) and the share
    feeShareRouted: share > 0n && pools.paid.pending - pools.committed.pending === share + toPool,
    signalEarnsMoreThanNoise: NOISY.every((n) => signal.every((s) => payouts[n]! < payouts[s]!)),
    // the round holds the slashed stake's pool part and the inference's share, all claimed
    claimsSumToRound: roundInfo.amount === share + toPool && total === roundInfo.amount,
    roundFullyClaimed: claimed.claimedWeight === 10_000n && claimed.claimed.every(Boolean),
    noDoubleClaim: claims.again === 0n,
  }
}

/** The release, the permissionless record of the weights root, and the slash of the noise. */
interface Recorded {
  recordTx: Hex
  committed: PoolState
  slashed: SlashedContribution[]
}

async function recordAndSlash(run: AttributionRun, trained: TrainedModel): Promise<Recorded> {
  const { context, client, attributionPool, plan, wallets } = run
  const { result, modelId, training } = trained
  const datanet = datanetOf(plan)
  // the model is released with its training job bound (the deployer curates until governance),
  // once the devnet's short review period has passed on the chain
  const untilReviewEnds = (endsAt: bigint) =>
    untilChainTime(client, endsAt, (DEVNET_MODEL_REVIEW_SECONDS + 15) * 1000, context.signal)
  await releaseTrainedModel(
    client,
    client,
    context.deployment,
    {
      modelHash: modelId,
      jobId: training.id as Hex,
      storagePointer: `file://${trained.modelPath}`,
      trainingSpecHash: contentHashOf(await readFile(plan.trainingSpecPath)),
      evaluationReportHash: result.validationHash,
    },
    untilReviewEnds,
  )
  // contributor 0, holding no role, sets the weights root from the job's committed leaf
  const recordTx = await recordFinalizedAttribution(wallets[0]!, context.deployment, {
    datanetId: datanet.datanetId,
    count: plan.contributors.length,
    modelHash: modelId,
    offer: trained.offer,
    result,
  })
  const committed = await getAttributionPool(client, { attributionPool, modelId })
  // the last contributor challenges what the attribution ranked harmful
  const slashed = await slashHarmfulContributions(
    wallets[wallets.length - 1]!,
    context.deployment,
    datanet.datanetId,
    datanet.indices,
  )
  context.step(
    `attribution: weights root set by a contributor (${recordTx.slice(0, 10)}); ${slashed.length} harmful contribution(s) slashed`,
  )
  return { recordTx, committed, slashed }
}

async function afterWorkload(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const run = await planRun(context)
  const { client, attributionPool, plan } = run
  // 1. the trained model and its committed attribution
  const trained = await trainedModel(run)
  const { result, modelId, training } = trained
  // 2. released, weights root recorded without governance, the harmful stake slashed
  const { recordTx, committed, slashed } = await recordAndSlash(run, trained)
  // 3. an inference job on the trained model: its attribution share flows into the pool
  const paidInference = await inferOnTrainedModel(run, trained)
  const paid = await getAttributionPool(client, { attributionPool, modelId })
  // 4. every contributor claims its share of the settled round with its proof
  const claims = await claimAll(run, trained)

  const { inference, share } = paidInference
  const { payouts, round } = claims
  const contributors = plan.contributors.map((address, i) => ({
    address,
    noisy: NOISY.includes(i),
    score: result.scores[i],
    weight: result.weights[i]!.weight,
    payout: payouts[i]!,
    stake: claims.results[i]!.stake.state,
  }))
  const slashedToPool = slashed.reduce((a, x) => a + x.toPool, 0n)
  return {
    report: {
      trainingJob: training.id,
      method: result.method,
      datanetId: plan.datanetId,
      burned: BigInt(plan.burned),
      contributionStake: BigInt(plan.stake),
      modelId,
      resultHash: result.resultHash,
      weightsRoot: result.weightsRoot,
      recordAttributionTx: recordTx,
      slashed: slashed.map((x) => ({ ...x, index: Number(x.index) })),
      slashedToPool,
      inferenceJob: inference.id,
      // what moved for the inference job, for balance accounting: the requester paid `price`,
      // its provider got price - fee - share, the pool `share`
      inferenceProvider: context.nodes.find(
        (n) => n.address.toLowerCase() === inference.provider?.toLowerCase(),
      )?.name,
      inferencePrice: paidInference.price,
      inferenceFee: paidInference.fee,
      attributionShare: share,
      round,
      roundAmount: claims.roundInfo.amount,
      contributors,
      secondClaim: claims.again,
    },
    checks: attributionChecks(trained, { committed, paid }, paidInference, slashed, claims, plan),
    lines: [
      `datanet ${plan.datanetId} (${plan.burned} wei burned), training ${training.id.slice(0, 10)} by ${result.method}: weights ${contributors.map((c) => `${c.weight}${c.noisy ? ' (noise)' : ''}`).join(' / ')} bp`,
      `weights root recorded by a contributor; noise stake slashed (${slashedToPool} wei to the pool)`,
      `inference ${inference.id.slice(0, 10)} on the trained model sent ${share} wei to the pool; round ${round} paid ${payouts.join(' / ')} wei`,
    ],
    tokenHolders: [attributionPool, BURN_SINK, ...plan.contributors],
  }
}

export const attributionPhase: DevnetPhase = { name: 'attribution', prepare, jobs, afterWorkload }
