/**
 * The devnet's attribution phase: Proof of Attribution paid out end to end.
 *
 * 1. Before the nodes start, a tiny datanet is generated: three contributors (fresh keys, so
 *    their balances start at zero), one of them supplying random labels.
 * 2. Its training job (spec naming `tracin-cp-v1`) runs in the workload like any other: the
 *    provider commits the attribution result as the leaf after the checkpoints, the verifier
 *    replays it.
 * 3. Afterwards the deployer, who holds the pool's ATTRIBUTION role until governance takes
 *    it, sets the committed weights root for the trained model (its content hash is the
 *    pool's model id); an inference job on that model then pays the JobMarket's attribution
 *    share of its price into the AttributionPool; the round is settled and every contributor
 *    is paid with its Merkle proof (the claims are sent by the deployer; they pay the
 *    contributor, who needs no gas).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  claimAttribution,
  getAttributionPool,
  getAttributionRound,
  getTokenBalance,
  jobMarketAbi,
  type ProtocolWalletClient,
  setAttributionWeights,
  settleAttributionRound,
} from '@ocn/contracts-client'
import type { JobRecord, SubmitJobRequest } from '@ocn/node'
import {
  type ApiJson,
  ATTRIBUTION_RESULT_FILE,
  apiGet,
  apiPost,
  apiRoutes,
  attributionResultProblem,
  writeTensorFile,
} from '@ocn/node'
import { type AttributionResult, attributionClaim } from '@ocn/node/attribution'
import { contentHashOf } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { getContractEvents } from 'viem/actions'
import { writeDatanetFixture } from './datanet.js'
import { DevnetError } from './errors.js'
import { readFollowingReoffers } from './jobs.js'
import type { DevnetAfterContext, DevnetPhase, DevnetPhaseContext, DevnetPhaseReport } from './phase.js'
import { sleep } from './sleep.js'
import type { Workload, WorkloadJob } from './workload.js'

export const ATTRIBUTION_TRAINING_JOB = 'datanet-training'
/** Contributor 1 supplies random labels; 0 and 2 clean ones. */
const NOISY = [1]
const INFERENCE_SAMPLES = 16

const phaseDir = (context: DevnetPhaseContext) => join(context.dir, 'attribution')
const planFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'datanet.json')

/** What prepare leaves on disk for the later steps (the phase keeps no state in memory). */
interface DatanetPlan {
  contributors: Address[]
  inputsPath: string
  manifestPath: string
  trainingSpecPath: string
}

async function prepare(context: DevnetPhaseContext): Promise<undefined> {
  await mkdir(phaseDir(context), { recursive: true })
  // payout addresses only: nobody signs for them (claims are sent on their behalf)
  const contributors = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()).address)
  const fixture = await writeDatanetFixture(phaseDir(context), { contributors, noisy: NOISY })
  const plan: DatanetPlan = {
    contributors,
    inputsPath: fixture.inputsPath,
    manifestPath: fixture.manifestPath,
    trainingSpecPath: fixture.trainingSpecPath,
  }
  await writeFile(planFile(context), `${JSON.stringify(plan, null, 2)}\n`)
  context.step(
    `attribution: a datanet of ${fixture.manifest.rows} rows from ${contributors.length} contributors (one with label noise)`,
  )
  return undefined
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

/** Submits a job through the requester's API and follows it to a terminal state. */
async function runJob(
  context: DevnetAfterContext,
  api: string,
  body: ApiJson<SubmitJobRequest>,
  timeoutMs: number,
): Promise<ApiJson<JobRecord>> {
  const { jobId } = await apiPost(api, apiRoutes.submitJob, {}, body, {
    ...(context.signal === undefined ? {} : { signal: context.signal }),
  })
  return waitJob(context, api, jobId, (r) => TERMINAL.has(r.state), timeoutMs)
}

async function waitJob(
  context: DevnetAfterContext,
  api: string,
  jobId: string,
  done: (record: ApiJson<JobRecord>) => boolean,
  timeoutMs: number,
): Promise<ApiJson<JobRecord>> {
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

/** One result file of a job from the requester's API, checked against its content hash. */
async function resultFile(api: string, jobId: string, name: string): Promise<Uint8Array> {
  const listing = await apiGet(api, apiRoutes.jobResults, { id: jobId })
  const entry = listing.files.find((f) => f.name === name)
  if (entry === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', `job ${jobId} has no ${name}`, {
      details: `its files: ${listing.files.map((f) => f.name).join(', ') || 'none'}`,
    })
  }
  const url = new URL(apiRoutes.jobResultFile.path({ id: jobId, name }), api)
  // fetch refuses a URL with credentials: the devnet's token (its user part) goes in a header
  const headers: Record<string, string> =
    url.username === '' ? {} : { authorization: `Bearer ${decodeURIComponent(url.username)}` }
  url.username = ''
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) })
  if (!response.ok) {
    throw new DevnetError('DEVNET_PHASE_FAILED', `the requester did not serve ${name}`, {
      details: `HTTP ${response.status}`,
    })
  }
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (entry.hash !== undefined && contentHashOf(bytes) !== entry.hash.toLowerCase()) {
    throw new DevnetError('DEVNET_PHASE_FAILED', `${name} does not match its content hash`)
  }
  return bytes
}

/** What the steps after the workload share: the plan, the requester's API and the pool. */
interface AttributionRun {
  context: DevnetAfterContext
  plan: DatanetPlan
  /** The requester's local API. */
  api: string
  attributionPool: Address
  /** The deployer: it holds the pool's ATTRIBUTION role until governance takes it. */
  client: ProtocolWalletClient
}

async function planRun(context: DevnetAfterContext): Promise<AttributionRun> {
  const plan = await readPlan(context)
  const requester = context.nodes.find((n) => n.roles.includes('requester'))
  if (requester === undefined) throw new DevnetError('DEVNET_PHASE_FAILED', 'no requester node')
  const attributionPool = (context.deployment.addresses as { attributionPool?: Address }).attributionPool
  if (attributionPool === undefined) {
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the deployment has no AttributionPool')
  }
  return { context, plan, api: requester.api, attributionPool, client: context.admin }
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
    const job = trainingJob(run.plan, context.workload)
    const record = await runJob(
      context,
      run.api,
      {
        modelPath: job.modelPath,
        inputsPath: job.inputsPath,
        kind: 'training',
        verification: 'replay',
        ...(job.trainingSpecPath === undefined ? {} : { trainingSpecPath: job.trainingSpecPath }),
        ...(job.datanetManifestPath === undefined ? {} : { datanetManifestPath: job.datanetManifestPath }),
      },
      120_000,
    )
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
  return { training, results, result, modelId, modelPath }
}

/** An inference job on the trained model, and the attribution share it sent to the pool. */
interface PaidInference {
  inference: ApiJson<JobRecord>
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
  settleTx: Hex
  round: bigint
  roundInfo: Awaited<ReturnType<typeof getAttributionRound>>
  payouts: bigint[]
  /** What a second claim of the same leaf came to. */
  again: string
  claimed: Awaited<ReturnType<typeof getAttributionRound>>
}

/** Settles the round and pays every contributor with its proof (sent by the deployer). */
async function settleAndClaim(run: AttributionRun, trained: TrainedModel): Promise<ClaimedRound> {
  const { client, attributionPool, plan } = run
  const { modelId, result } = trained
  const token = run.context.deployment.addresses.token
  const settleTx = await settleAttributionRound(client, { attributionPool, modelId })
  const settled = await getAttributionPool(client, { attributionPool, modelId })
  const round = settled.rounds - 1n
  const roundInfo = await getAttributionRound(client, { attributionPool, modelId, round })
  const payouts: bigint[] = []
  for (const [i, account] of plan.contributors.entries()) {
    const before = await getTokenBalance(client, { token, account })
    const claim = attributionClaim(result, i)
    await claimAttribution(client, { attributionPool, modelId, round, ...claim })
    const after = await getTokenBalance(client, { token, account })
    payouts.push(after - before)
  }
  // a second claim of the same leaf is refused
  const again = await claimAttribution(client, {
    attributionPool,
    modelId,
    round,
    ...attributionClaim(result, 0),
  })
    .then(() => 'paid twice')
    .catch((err: unknown) => (err as { code?: string; shortMessage?: string }).shortMessage ?? 'refused')
  const claimed = await getAttributionRound(client, { attributionPool, modelId, round, indices: [0, 1, 2] })
  return { settleTx: settleTx.hash, round, roundInfo, payouts, again, claimed }
}

type PoolState = Awaited<ReturnType<typeof getAttributionPool>>

function attributionChecks(
  trained: TrainedModel,
  pools: { committed: PoolState; paid: PoolState },
  inference: PaidInference,
  claims: ClaimedRound,
): Record<string, boolean> {
  const { result, results } = trained
  const { share } = inference
  const { payouts, roundInfo, claimed } = claims
  const signal = [0, 1, 2].filter((i) => !NOISY.includes(i))
  const total = payouts.reduce((a, b) => a + b, 0n)
  return {
    trainedWithAttribution: results.verified && results.leafCount === result.checkpointHashes.length + 1,
    weightsCommitted:
      pools.committed.weightsRoot === result.weightsRoot &&
      pools.committed.attributionResult === result.resultHash,
    feeShareRouted: share > 0n && pools.paid.pending - pools.committed.pending === share,
    signalEarnsMoreThanNoise: NOISY.every((n) => signal.every((s) => payouts[n]! < payouts[s]!)),
    claimsSumToRound: roundInfo.amount === share && total === roundInfo.amount,
    roundFullyClaimed: claimed.claimedWeight === 10_000n && claimed.claimed.every(Boolean),
    noDoubleClaim: claims.again !== 'paid twice',
  }
}

async function afterWorkload(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const run = await planRun(context)
  const { client, attributionPool, plan } = run
  // 1. the trained model and its committed attribution
  const trained = await trainedModel(run)
  const { result, modelId, training } = trained
  // 2. the attribution role commits the weights root for the trained model
  const setTx = await setAttributionWeights(client, {
    attributionPool,
    modelId,
    weightsRoot: result.weightsRoot,
    resultHash: result.resultHash,
  })
  const committed = await getAttributionPool(client, { attributionPool, modelId })
  // 3. an inference job on the trained model: its attribution share flows into the pool
  const paidInference = await inferOnTrainedModel(run, trained)
  const paid = await getAttributionPool(client, { attributionPool, modelId })
  // 4. settle the round and pay every contributor with its proof
  const claims = await settleAndClaim(run, trained)

  const { inference, share } = paidInference
  const { payouts, round } = claims
  const contributors = plan.contributors.map((address, i) => ({
    address,
    noisy: NOISY.includes(i),
    score: result.scores[i],
    weight: result.weights[i]!.weight,
    payout: payouts[i]!,
  }))
  return {
    report: {
      trainingJob: training.id,
      modelId,
      resultHash: result.resultHash,
      weightsRoot: result.weightsRoot,
      setWeightsTx: setTx.hash,
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
      settleTx: claims.settleTx,
      contributors,
      secondClaim: claims.again,
    },
    checks: attributionChecks(trained, { committed, paid }, paidInference, claims),
    lines: [
      `datanet training ${training.id.slice(0, 10)}: weights ${contributors.map((c) => `${c.weight}${c.noisy ? ' (noise)' : ''}`).join(' / ')} bp`,
      `inference ${inference.id.slice(0, 10)} on the trained model sent ${share} wei to the pool; round ${round} paid ${payouts.join(' / ')} wei`,
    ],
    tokenHolders: [attributionPool, ...plan.contributors],
  }
}

export const attributionPhase: DevnetPhase = { name: 'attribution', prepare, jobs, afterWorkload }
