/**
 * The requester role: puts a job's artifacts in the local store, publishes the signed offer,
 * collects bids for the bidding window, awards the best one (price weighed by the provider's
 * on-chain record) with escrow, fetches and checks the results once they are committed, and
 * takes the refund when the provider never commits (expire) or is caught cheating.
 *
 * Offers, bids (whole, as they arrived) and every transition are in the StateStore, so a
 * requester killed between bid collection and award awards on restart.
 */
import { readFile } from 'node:fs/promises'
import {
  approveToken,
  award,
  expire,
  getJob,
  getProviderRecord,
  getTokenBalance,
  type ProtocolEvent,
} from '@ocn/contracts-client'
import {
  type Bid,
  bidDigest,
  contentHashOf,
  createIdentityBinding,
  decodeBid,
  decodeJobOffer,
  encodeBid,
  encodeJobOffer,
  type JobOffer,
  jobIdOf,
  MAX_RESULT_LEAVES_PER_REQUEST,
  type OfferTerms,
  offerTypedData,
} from '@ocn/protocol'
import { inferenceProofFromJson } from '@ocn/prover'
import { bytesToHex, type Hex, hexToBytes, toHex } from 'viem'
import type { JobResultFile, OfferSummary } from '../api/interface.js'
import { ortVersion } from '../executor/capabilities.js'
import { executorVerdict } from '../executor/errors.js'
import { readTensorFiles } from '../executor/formats/index.js'
import { decodeSafetensors, encodeSafetensors } from '../executor/formats/safetensors.js'
import { outputsDataHash } from '../executor/hashing.js'
import {
  cpuReplayProfile,
  type InferenceJobSpec,
  parseJobSpec,
  type TrainingJobSpec,
} from '../executor/spec.js'
import { type NamedTensors, sliceRows } from '../executor/tensor.js'
import type { BidDecision } from '../p2p/bid-protocol.js'
import { type RequesterJobDetail, requesterDetail } from '../state/job-detail.js'
import type { BidRecord, JobRecord } from '../state/records.js'
import {
  ATTRIBUTION_RESULT_FILE,
  attributionResultProblem,
  checkAttributionDataset,
  parseJobDatanet,
} from './attribution.js'
import { RoleError } from './errors.js'
import type { RequesterRole, SubmitJobParams, SubmitJobResult } from './interface.js'
import { createRoleMetrics } from './metrics.js'
import { describeModelStatus, requireModelRegistry, unapprovedStatus } from './models.js'
import type { TrainingManifest } from './provider/index.js'
import { createTicker, type RoleComponents, randomUint256, roleOptions } from './shared.js'
import { circuitForModel, defaultZkDir, loadZkCircuits, zkInputCommitment } from './zk.js'

/** The note on a job that failed without a bid and is offered again automatically. */
export const NO_BID_REOFFER_NOTE = 'no usable bid; re-offered'

type StoredBid = BidRecord & { wire?: Hex }

export interface RequesterRoleHandle extends RequesterRole {
  tick(): Promise<void>
}

/** How a bid ranks: its price, raised for slashes and no-shows, lowered a little for a track record. */
export function effectivePrice(
  price: bigint,
  record: { completed: number; slashed: number; noShows: number },
): bigint {
  const penalty = 1n + 2n * BigInt(record.slashed) + BigInt(record.noShows)
  const bonus = 20n + BigInt(Math.min(record.completed, 10))
  return (price * penalty * 20n) / bonus
}

export function createRequesterRole(components: RoleComponents): RequesterRoleHandle {
  const { config, state, chain, network, store, executor, keys, directory } = components
  const options = roleOptions(components)
  const metrics = createRoleMetrics(components.metrics)
  const log = components.logger.child({ role: 'requester' })
  const awarding = new Map<string, Promise<void>>()
  const fetching = new Map<string, Promise<void>>()
  const timers = new Set<NodeJS.Timeout>()
  const unsubscribers: Array<() => void> = []

  const detailOf = requesterDetail
  const market = () => chain.deployment.addresses.jobMarket

  async function readInputs(params: SubmitJobParams) {
    let model: Uint8Array
    try {
      model = new Uint8Array(await readFile(params.modelPath))
    } catch (cause) {
      throw new RoleError('ROLE_FILE_UNREADABLE', `cannot read the model file ${params.modelPath}`, { cause })
    }
    let inputs: NamedTensors
    try {
      inputs = await readTensorFiles([params.inputsPath])
    } catch (cause) {
      throw new RoleError('ROLE_FILE_UNREADABLE', `cannot read the inputs file ${params.inputsPath}`, {
        cause,
        details: (cause as Error).message,
      })
    }
    return { model, inputs }
  }

  async function publish(
    base: Omit<OfferTerms, 'requester' | 'biddingEnds' | 'deadline' | 'salt'>,
    spec: Uint8Array,
    sizes: { modelBytes: number; inputBytes: number },
    extra: { attempts?: number; reofferOf?: string },
  ): Promise<SubmitJobResult> {
    // every submission and re-offer passes here, so none publishes a model the policy refuses
    if (config.requester.models.onlyApproved) await requireApprovedModel(base.modelHash)
    const now =
      (await chain.chainTime()) > BigInt(Math.floor(Date.now() / 1000))
        ? await chain.chainTime()
        : BigInt(Math.floor(Date.now() / 1000))
    const windowSeconds = BigInt(Math.ceil(config.requester.biddingWindowMs / 1000))
    const biddingEnds = now + windowSeconds
    const terms: OfferTerms = {
      ...base,
      requester: keys.account.address,
      biddingEnds,
      deadline: biddingEnds + BigInt(options.executionWindowSeconds),
      salt: randomUint256(),
    }
    const jobId = jobIdOf(terms)
    const signature = await keys.account.signTypedData(offerTypedData(chain.domain, terms))
    const offer: JobOffer = {
      version: 1,
      chainId: chain.deployment.chainId,
      market: market(),
      terms,
      requesterPeerId: network.peerId,
      requesterBinding: await createIdentityBinding(keys.account, keys.privateKey),
      signature,
      modelBytes: sizes.modelBytes,
      inputBytes: sizes.inputBytes,
      spec,
    }
    const detail: RequesterJobDetail = {
      role: 'requester',
      offer: bytesToHex(encodeJobOffer(offer)),
      biddingClosesAt: Date.now() + config.requester.biddingWindowMs,
      ...(extra.reofferOf === undefined ? {} : { reofferOf: extra.reofferOf }),
    }
    await state.createJob({
      id: jobId,
      role: 'requester',
      state: 'offered',
      kind: terms.kind === 1 ? 'training' : 'inference',
      verification: terms.verification === 1 ? 'zk' : 'replay',
      modelHash: terms.modelHash,
      inputHash: terms.inputHash,
      requester: keys.account.address,
      maxPrice: terms.maxPrice,
      ...(extra.attempts === undefined ? {} : { attempts: extra.attempts }),
      detail: detail,
    })
    await state.transitionJob(jobId, 'bidding')
    await network.gossip.publishOffer(offer)
    log.info({ jobId, samples: terms.sampleCount, maxPrice: terms.maxPrice.toString() }, 'offer published')
    const timer = setTimeout(() => {
      timers.delete(timer)
      startAward(jobId)
    }, config.requester.biddingWindowMs)
    timers.add(timer)
    return { jobId }
  }

  /** requester.models.onlyApproved: refuses a model the registry does not list as Approved. */
  async function requireApprovedModel(modelHash: Hex): Promise<void> {
    // a fresh read: submitting is rare and a stale "approved" would publish a revoked model
    const status = await unapprovedStatus(chain, modelHash, { maxAgeMs: 0 })
    if (status === undefined) return
    metrics.unapprovedModelJobs.inc({ stage: 'submit', status })
    throw new RoleError(
      'ROLE_MODEL_NOT_APPROVED',
      `model ${modelHash} is ${describeModelStatus(status)} in the model registry, not approved`,
      {
        details:
          'requester.models.onlyApproved accepts approved models only: have the model curator approve it (docs/governance.md, "Model registry"), or turn the option off',
      },
    )
  }

  async function submitJob(params: SubmitJobParams): Promise<SubmitJobResult> {
    if (params.verification === 'zk') return submitZk(params)
    if (params.kind === 'training') return submitTraining(params)
    const { model, inputs } = await readInputs(params)
    const names = Object.keys(inputs)
    const samples = inputs[names[0]!]?.dims[0]
    if (samples === undefined || samples < 1) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'the inputs hold no samples')
    }
    if (
      params.microBatchSize !== undefined &&
      (!Number.isInteger(params.microBatchSize) || params.microBatchSize < 1)
    ) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'microBatchSize must be a positive integer')
    }
    const microBatchSize = params.microBatchSize ?? Math.max(1, Math.ceil(samples / options.targetLeafCount))
    const spec: InferenceJobSpec = {
      kind: 'inference',
      profile: cpuReplayProfile(ortVersion(), microBatchSize),
    }
    // the executor's own pre-run check (model loads, every input's name, dtype and shape fit):
    // a job no provider could run fails here, not after an award
    await inputsFit(
      () => executor.checkInference({ spec, model, inputs }),
      params.modelPath,
      'the inputs do not match the model',
    )
    const maxPrice = params.maxPrice ?? config.requester.maxPrice
    await checkBalance(maxPrice)
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    const inputBytes = encodeSafetensors(inputs)
    const [m, i, s] = [
      await store.putBytes(model),
      await store.putBytes(inputBytes),
      await store.putBytes(specBytes),
    ]
    return publish(
      {
        modelHash: m.hash,
        inputHash: i.hash,
        specHash: s.hash,
        kind: 0,
        verification: 0,
        maxPrice,
        minCollateral: maxPrice,
        sampleCount: samples,
        microBatchSize,
      },
      specBytes,
      { modelBytes: model.length, inputBytes: inputBytes.length },
      {},
    )
  }

  /**
   * A zk-mode inference of one sample: the offer's inputHash is the Poseidon commitment of the
   * quantized input (computed from this node's circuit for the model, in <data-dir>/zk), which
   * the award binds; the spec names the inputs file so the provider can fetch it.
   */
  async function submitZk(params: SubmitJobParams): Promise<SubmitJobResult> {
    if (params.kind === 'training') {
      throw new RoleError('ROLE_NOT_SUPPORTED', 'zk verification covers inference only')
    }
    const { model, inputs } = await readInputs(params)
    const modelHash = contentHashOf(model)
    const circuits = loadZkCircuits([defaultZkDir(config.dataDir)], (dir, err) =>
      log.warn({ dir, err }, 'zk circuit skipped'),
    )
    const circuit = await circuitForModel(
      circuits,
      chain.client,
      chain.deployment.addresses.zkVerifierRegistry,
      modelHash,
    )
    if (typeof circuit === 'string') {
      throw new RoleError('ROLE_NOT_SUPPORTED', `cannot submit a zk job for this model: ${circuit}`, {
        details:
          'build its circuit with `ocn zk build` into <data-dir>/zk and register it with `ocn zk register`',
      })
    }
    const inputCommitment = zkInputCommitment(circuit, inputs)
    const maxPrice = params.maxPrice ?? config.requester.maxPrice
    await checkBalance(maxPrice)
    const inputBytes = encodeSafetensors(inputs)
    const [m, i] = [await store.putBytes(model), await store.putBytes(inputBytes)]
    const spec: InferenceJobSpec = {
      kind: 'inference',
      profile: cpuReplayProfile(ortVersion(), 1),
      zkInput: i.hash,
    }
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    const s = await store.putBytes(specBytes)
    return publish(
      {
        modelHash: m.hash,
        inputHash: inputCommitment,
        specHash: s.hash,
        kind: 0,
        verification: 1,
        maxPrice,
        minCollateral: maxPrice,
        sampleCount: 1,
        microBatchSize: 1,
      },
      specBytes,
      { modelBytes: model.length, inputBytes: inputBytes.length },
      {},
    )
  }

  /** Runs one of the executor's pre-run checks; what it refuses becomes ROLE_INPUT_MISMATCH. */
  async function inputsFit(
    check: () => Promise<unknown>,
    modelPath: string,
    mismatch: string,
  ): Promise<void> {
    try {
      await check()
    } catch (cause) {
      // a verdict on the job; anything else (a timeout, a crashed worker) is this node's trouble
      const verdict = executorVerdict(cause)
      if (verdict === undefined) throw cause
      throw new RoleError(
        'ROLE_INPUT_MISMATCH',
        verdict === 'model-invalid' ? `the model ${modelPath} cannot be loaded` : mismatch,
        { cause, details: (cause as Error).message },
      )
    }
  }

  /** A training job: the spec file names the architecture or base model, optimizer, epochs, seed. */
  async function submitTraining(params: SubmitJobParams): Promise<SubmitJobResult> {
    if (params.trainingSpecPath === undefined) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'a training job needs a training spec file', {
        details: 'pass --training <spec.json> (see docs/execution.md, "The training spec")',
      })
    }
    let raw: Record<string, unknown>
    try {
      raw = JSON.parse(await readFile(params.trainingSpecPath, 'utf8')) as Record<string, unknown>
    } catch (cause) {
      throw new RoleError(
        'ROLE_FILE_UNREADABLE',
        `cannot read the training spec ${params.trainingSpecPath}`,
        {
          cause,
          details: (cause as Error).message,
        },
      )
    }
    // the replay profile is this host's CPU profile unless the spec pins one
    if (raw.profile === undefined && typeof raw.batchSize === 'number') {
      raw.profile = cpuReplayProfile(ortVersion(), raw.batchSize, 'feeds')
    }
    // a spec that names attribution may leave the manifest's hash to --datanet
    const datanetBytes = await readDatanet(params, raw)
    let spec: TrainingJobSpec
    try {
      const parsed = parseJobSpec(raw)
      if (parsed.kind !== 'training') throw new Error('spec.kind must be "training"')
      spec = parsed
    } catch (cause) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'the training spec is not valid', {
        cause,
        details: (cause as Error).message,
      })
    }
    const { model, inputs } = await readInputs(params)
    const features = inputs[spec.data?.features ?? 'x']
    const targets = inputs[spec.data?.targets ?? 'y']
    if (features === undefined || targets === undefined) {
      throw new RoleError('ROLE_INPUT_MISMATCH', 'the dataset lacks the features or targets tensor', {
        details: `expected tensors ${spec.data?.features ?? 'x'} and ${spec.data?.targets ?? 'y'}; found ${Object.keys(inputs).join(', ')}`,
      })
    }
    await inputsFit(
      () =>
        executor.checkTraining({ spec, dataset: inputs, ...('baseModel' in spec.model ? { model } : {}) }),
      params.modelPath,
      'the dataset does not fit the network of the training spec',
    )
    const inputBytes = encodeSafetensors(inputs)
    if (spec.attribution !== undefined) checkAttributionJob(spec, inputs, inputBytes, datanetBytes)
    else if (datanetBytes !== undefined) {
      throw new RoleError(
        'ROLE_INVALID_PARAMS',
        'a datanet manifest was given but the spec names no attribution',
        {
          details: 'add "attribution": { "method": "tracin-cp-v1", "validation": { ... } } to the spec',
        },
      )
    }
    const maxPrice = params.maxPrice ?? config.requester.maxPrice
    await checkBalance(maxPrice)
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    if (datanetBytes !== undefined) await store.putBytes(datanetBytes)
    const m = await store.putBytes(model)
    const i = await store.putBytes(inputBytes)
    const s = await store.putBytes(specBytes)
    return publish(
      {
        modelHash: m.hash,
        inputHash: i.hash,
        specHash: s.hash,
        kind: 1,
        verification: 0,
        maxPrice,
        minCollateral: maxPrice,
        sampleCount: features.dims[0] ?? 0,
        microBatchSize: spec.batchSize,
      },
      specBytes,
      { modelBytes: model.length, inputBytes: inputBytes.length },
      {},
    )
  }

  /** Reads --datanet and fills the spec's attribution.manifest with its hash when left out. */
  async function readDatanet(
    params: SubmitJobParams,
    raw: Record<string, unknown>,
  ): Promise<Uint8Array | undefined> {
    if (params.datanetManifestPath === undefined) return undefined
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await readFile(params.datanetManifestPath))
    } catch (cause) {
      throw new RoleError(
        'ROLE_FILE_UNREADABLE',
        `cannot read the datanet manifest ${params.datanetManifestPath}`,
        { cause, details: (cause as Error).message },
      )
    }
    const attribution = raw.attribution
    if (typeof attribution === 'object' && attribution !== null && !Array.isArray(attribution)) {
      const a = attribution as Record<string, unknown>
      a.manifest ??= contentHashOf(bytes)
    }
    return bytes
  }

  /**
   * An attribution job is checked whole before it is offered: the manifest file is the one the
   * spec names, describes this dataset file, covers its training rows, the validation tensors
   * exist, and every leaf fits one result request (a verifier asks for all checkpoints at once
   * when it replays the attribution leaf).
   */
  function checkAttributionJob(
    spec: TrainingJobSpec,
    inputs: NamedTensors,
    inputBytes: Uint8Array,
    datanetBytes: Uint8Array | undefined,
  ): void {
    if (datanetBytes === undefined) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'the spec names attribution: pass its datanet manifest', {
        details: 'pass --datanet <manifest.json> (see docs/attribution.md)',
      })
    }
    checkAttributionDataset(spec, inputs, parseJobDatanet(datanetBytes, spec, contentHashOf(inputBytes)))
  }

  async function checkBalance(maxPrice: bigint): Promise<void> {
    const balance = await getTokenBalance(chain.client, {
      token: chain.deployment.addresses.token,
      account: keys.account.address,
    })
    if (balance < maxPrice) {
      throw new RoleError('ROLE_INSUFFICIENT_BALANCE', 'not enough OPEN to escrow the max price', {
        details: `balance ${balance}, max price ${maxPrice} (base units)`,
      })
    }
  }

  async function reoffer(jobId: string): Promise<SubmitJobResult> {
    const job = await state.getJob(jobId)
    if (job === undefined || job.role !== 'requester') {
      throw new RoleError('ROLE_UNKNOWN_JOB', `no job ${jobId} was submitted by this node`)
    }
    if (!['expired', 'failed', 'slashed'].includes(job.state)) {
      throw new RoleError(
        'ROLE_JOB_STATE',
        `job ${jobId} is ${job.state}; only expired, failed or slashed jobs are re-offered`,
      )
    }
    const old = decodeJobOffer(hexToBytes(detailOf(job).offer))
    const { requester: _r, biddingEnds: _b, deadline: _d, salt: _s, ...base } = old.terms
    return publish(base, old.spec ?? new Uint8Array(), old, { attempts: job.attempts + 1, reofferOf: jobId })
  }

  /** The automatic re-offer after a bidding round without a usable bid; the old record points to the new job. */
  function scheduleReoffer(jobId: string, delayMs: number): void {
    const timer = setTimeout(() => {
      timers.delete(timer)
      reoffer(jobId)
        .then(async ({ jobId: next }) => {
          const old = await state.requireJob(jobId)
          await state.updateJob(jobId, {
            detail: { ...detailOf(old), reofferedAs: next },
          })
          log.info({ jobId, reofferedAs: next }, 'no bids: job offered again')
        })
        .catch((err: unknown) => log.error({ jobId, err }, 'automatic re-offer failed'))
    }, delayMs)
    timers.add(timer)
  }

  async function onBid(bid: Bid): Promise<BidDecision> {
    const job = await state.getJob(bid.terms.jobId)
    if (job === undefined || job.role !== 'requester') return { accepted: false, reason: 'unknown-job' }
    if (job.state !== 'bidding' || Date.now() > detailOf(job).biddingClosesAt) {
      return { accepted: false, reason: 'bidding-closed' }
    }
    const offer = decodeJobOffer(hexToBytes(detailOf(job).offer))
    if (bid.terms.price > offer.terms.maxPrice) return { accepted: false, reason: 'price-too-high' }
    if (bid.terms.collateral < offer.terms.minCollateral)
      return { accepted: false, reason: 'collateral-too-low' }
    if (bid.terms.expiry <= offer.terms.biddingEnds) return { accepted: false, reason: 'expired' }
    const record: StoredBid = {
      jobId: job.id,
      bidId: bidDigest(chain.domain, bid.terms),
      provider: bid.terms.provider,
      peerId: bid.providerPeerId,
      price: bid.terms.price,
      collateral: bid.terms.collateral,
      etaMs: bid.terms.etaSeconds * 1000,
      signature: bid.signature,
      status: 'received',
      receivedAt: Date.now(),
      wire: bytesToHex(encodeBid(bid)),
    }
    await state.putBid(record)
    metrics.bidsReceived.inc()
    directory.rememberProvider(bid.terms.provider, bid.providerPeerId)
    return { accepted: true }
  }

  function startAward(jobId: string): void {
    if (awarding.has(jobId)) return
    const run = awardJob(jobId)
      .catch((err: unknown) => log.error({ jobId, err }, 'award failed'))
      .finally(() => awarding.delete(jobId))
    awarding.set(jobId, run)
  }

  async function awardJob(jobId: string): Promise<void> {
    const job = await state.requireJob(jobId)
    // 'offered': stopped between recording the offer and publishing it; no bid can have come
    if (job.state !== 'bidding' && job.state !== 'offered') return
    const detail = detailOf(job)
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    const onChain = await getJob(chain.client, { jobMarket: market(), jobId: jobId as Hex })
    if (onChain.status !== 'none') {
      // awarded before a crash: record what the chain says, with the winner's peer from its bid
      const winner = (await state.listBids(jobId)).find(
        (b) => b.provider.toLowerCase() === onChain.provider.toLowerCase(),
      )
      await state.transitionJob(jobId, 'awarded', {
        patch: {
          provider: onChain.provider,
          price: onChain.price,
          collateral: onChain.collateral,
          ...(winner?.peerId === undefined ? {} : { detail: { ...detail, providerPeerId: winner.peerId } }),
        },
        note: 'award found on-chain after restart',
      })
      return
    }
    const bids = ((await state.listBids(jobId)) as StoredBid[]).filter(
      (b) => b.status === 'received' && b.wire,
    )
    const now = await chain.chainTime()
    const ranked = (
      await Promise.all(
        bids.map(async (record) => {
          const bid = decodeBid(hexToBytes(record.wire!))
          const rep = await getProviderRecord(chain.client, {
            jobMarket: market(),
            provider: bid.terms.provider,
          })
          return { record, bid, score: effectivePrice(bid.terms.price, rep) }
        }),
      )
    )
      .filter(({ bid }) => bid.terms.expiry > now)
      .sort((a, b) =>
        a.score < b.score ? -1 : a.score > b.score ? 1 : a.record.receivedAt - b.record.receivedAt,
      )
    if (ranked.length === 0 || now >= offer.terms.deadline) {
      // Every provider may just be busy: offer it again a few times (a new offer, a new id)
      // before giving up, so one crowded moment does not fail the requester's work.
      const again = job.attempts <= config.requester.noBidReoffers
      const delay = config.requester.noBidReofferDelayMs
      await state.transitionJob(jobId, 'failed', {
        note: again ? `${NO_BID_REOFFER_NOTE} in ${delay} ms` : 'no usable bid',
      })
      if (again) scheduleReoffer(jobId, delay)
      else log.warn({ jobId, attempts: job.attempts }, 'no bids: job failed (re-offer it)')
      return
    }
    if (config.requester.models.onlyApproved) {
      // revoked (or deprecated) while the bids came in: escrow nothing for it. A failed read
      // throws, and the next tick tries again until the deadline fails the job.
      const status = await unapprovedStatus(chain, offer.terms.modelHash, { maxAgeMs: 0 })
      if (status !== undefined) {
        metrics.unapprovedModelJobs.inc({ stage: 'award', status })
        await state.transitionJob(jobId, 'failed', {
          note: `not awarded: model ${offer.terms.modelHash} is ${describeModelStatus(status)} in the model registry`,
          bids: bids.map((b) => ({ ...b, status: 'rejected' })),
        })
        log.warn(
          { jobId, modelHash: offer.terms.modelHash, status },
          'model no longer approved: job not awarded',
        )
        return
      }
    }
    for (const { record, bid } of ranked) {
      try {
        // approve and award back to back: another award in between would reset the allowance
        const { hash } = await chain.serialize(async () => {
          await approveToken(chain.client, {
            token: chain.deployment.addresses.token,
            spender: market(),
            amount: bid.terms.price,
          })
          return award(chain.client, {
            jobMarket: market(),
            offer: offer.terms,
            bid: bid.terms,
            signature: bid.signature,
          })
        })
        await state.transitionJob(jobId, 'awarded', {
          txHash: hash,
          patch: {
            provider: bid.terms.provider,
            price: bid.terms.price,
            collateral: bid.terms.collateral,
            detail: { ...detail, providerPeerId: bid.providerPeerId },
          },
          bids: bids.map((b) => ({ ...b, status: b.bidId === record.bidId ? 'accepted' : 'rejected' })),
        })
        directory.rememberProvider(bid.terms.provider, bid.providerPeerId)
        metrics.jobsAwarded.inc()
        log.info({ jobId, provider: bid.terms.provider, price: bid.terms.price.toString() }, 'job awarded')
        return
      } catch (err) {
        // e.g. the provider's stake is no longer free: try the next bid
        log.warn({ jobId, provider: bid.terms.provider, err }, 'award to this bid failed; trying the next')
      }
    }
    await state.transitionJob(jobId, 'failed', { note: 'every award attempt failed' })
  }

  function startFetch(jobId: string): void {
    if (fetching.has(jobId)) return
    const run = fetchResults(jobId)
      .catch((err: unknown) => log.warn({ jobId, err }, 'fetching results failed; will retry'))
      .finally(() => fetching.delete(jobId))
    fetching.set(jobId, run)
  }

  /** Gets every leaf and the outputs from the provider and checks each micro-batch against its leaf. */
  async function fetchResults(jobId: string): Promise<void> {
    const job = await state.requireJob(jobId)
    const detail = detailOf(job)
    // the winner's peer from its bid, else from its capability ad
    const providerPeer =
      detail.providerPeerId ?? (job.provider === undefined ? undefined : directory.providerPeer(job.provider))
    if (detail.results !== undefined || providerPeer === undefined) return
    const onChain = await getJob(chain.client, { jobMarket: market(), jobId: jobId as Hex })
    if (job.verification === 'zk') {
      // the chain checked the proof at commit; the provider serves the proof JSON, whose output
      // vector must hash to the output commitment the job settled on
      if (onChain.status !== 'finalized') return
      const response = await network.results.requestResult(providerPeer, {
        version: 1,
        jobId: jobId as Hex,
        indices: [],
      })
      if (response.status !== 'ok' || response.result === undefined)
        throw new Error(`provider answered ${response.status}`)
      const proofHash = response.result.outputHash
      await network.artifacts.fetch(proofHash, [providerPeer])
      const proof = inferenceProofFromJson(
        JSON.parse(new TextDecoder().decode(await store.getBytes(proofHash))),
      )
      const settled = toHex(BigInt(proof.commitments.outputCommitment), { size: 32 })
      const verified = settled.toLowerCase() === onChain.resultRoot.toLowerCase()
      const fresh = await state.requireJob(jobId)
      await state.updateJob(jobId, {
        detail: {
          ...detailOf(fresh),
          results: { outputHash: proofHash, leafCount: 0, verified, mismatchedLeaves: [], zk: true },
        },
      })
      log.info({ jobId, output: proof.output, verified }, 'zk result fetched')
      return
    }
    const dataHashes: Hex[] = []
    let outputHash: Hex | undefined
    for (let start = 0; start < onChain.leafCount; start += MAX_RESULT_LEAVES_PER_REQUEST) {
      const indices = Array.from(
        { length: Math.min(MAX_RESULT_LEAVES_PER_REQUEST, onChain.leafCount - start) },
        (_v, k) => start + k,
      )
      const response = await network.results.requestResult(providerPeer, {
        version: 1,
        jobId: jobId as Hex,
        indices,
      })
      if (response.status !== 'ok' || response.result === undefined)
        throw new Error(`provider answered ${response.status}`)
      if (response.result.resultRoot.toLowerCase() !== onChain.resultRoot.toLowerCase()) {
        throw new Error('provider serves another root than the committed one')
      }
      outputHash = response.result.outputHash
      for (const leaf of response.result.leaves) dataHashes[leaf.index] = leaf.dataHash
    }
    if (outputHash === undefined) return
    await network.artifacts.fetch(outputHash, [providerPeer])
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    if (offer.terms.kind === 1) {
      // training: the output is a manifest; the trained model is fetched, the checkpoints stay with the provider
      const manifest = JSON.parse(
        new TextDecoder().decode(await store.getBytes(outputHash)),
      ) as TrainingManifest
      await network.artifacts.fetch(manifest.model, [providerPeer])
      // attribution: the result JSON must be consistent and hash to the last committed leaf
      // (whether its scores are right is what verifiers replay)
      let attributionOk = true
      const mismatchedLeaves: number[] = []
      if (manifest.attribution !== undefined) {
        await network.artifacts.fetch(manifest.attribution, [providerPeer])
        const result = JSON.parse(new TextDecoder().decode(await store.getBytes(manifest.attribution)))
        const problem = attributionResultProblem(result)
        const last = onChain.leafCount - 1
        if (problem !== undefined || result.resultHash !== dataHashes[last]) {
          attributionOk = false
          mismatchedLeaves.push(last)
          log.warn({ jobId, problem }, 'the attribution result does not match its committed leaf')
        }
      }
      const leaves = manifest.checkpoints.length + (manifest.attribution === undefined ? 0 : 1)
      const fresh = await state.requireJob(jobId)
      await state.updateJob(jobId, {
        detail: {
          ...detailOf(fresh),
          results: {
            outputHash,
            modelHash: manifest.model,
            leafCount: onChain.leafCount,
            verified: leaves === onChain.leafCount && attributionOk,
            mismatchedLeaves,
            ...(manifest.attribution === undefined ? {} : { attributionHash: manifest.attribution }),
          },
        },
      })
      log.info({ jobId, model: manifest.model }, 'trained model fetched')
      return
    }
    const outputs = decodeSafetensors(await store.getBytes(outputHash)).tensors
    const m = offer.terms.microBatchSize
    const mismatchedLeaves: number[] = []
    for (let i = 0; i < onChain.leafCount; i++) {
      const slice: NamedTensors = {}
      for (const [name, t] of Object.entries(outputs)) {
        slice[name] = sliceRows(t, i * m, Math.min(offer.terms.sampleCount, (i + 1) * m))
      }
      if (outputsDataHash(slice) !== dataHashes[i]) mismatchedLeaves.push(i)
    }
    const fresh = await state.requireJob(jobId)
    await state.updateJob(jobId, {
      detail: {
        ...detailOf(fresh),
        results: {
          outputHash,
          leafCount: onChain.leafCount,
          verified: mismatchedLeaves.length === 0,
          mismatchedLeaves,
        },
      },
    })
    log.info({ jobId, outputHash, verified: mismatchedLeaves.length === 0 }, 'results fetched')
  }

  async function onEvents(events: ProtocolEvent[]): Promise<void> {
    for (const event of events) {
      if (!('jobId' in event.args)) continue
      const jobId = event.args.jobId as string
      const job = await state.getJob(jobId)
      if (job === undefined || job.role !== 'requester') continue
      await applyStatus(job)
    }
  }

  /** Brings a record in line with the chain, and starts what the new state calls for. */
  async function applyStatus(job: JobRecord): Promise<void> {
    const jobId = job.id
    if (job.state === 'bidding' || job.state === 'offered') {
      if (Date.now() >= detailOf(job).biddingClosesAt) startAward(jobId)
      return
    }
    const onChain = await getJob(chain.client, { jobMarket: market(), jobId: jobId as Hex })
    const go = async (to: JobRecord['state'], extra: Parameters<typeof state.transitionJob>[2] = {}) => {
      job = await state.transitionJob(jobId, to, extra)
    }
    if (onChain.status === 'committed' && job.state === 'awarded') {
      await go('committed', { patch: { resultRoot: onChain.resultRoot } })
    } else if (onChain.status === 'challenged' && (job.state === 'awarded' || job.state === 'committed')) {
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('challenged')
    } else if (onChain.status === 'finalized' && job.state !== 'finalized') {
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('finalized')
    } else if (onChain.status === 'providerSlashed' && job.state !== 'slashed') {
      if (job.state === 'awarded') await go('committed', { patch: { resultRoot: onChain.resultRoot } })
      await go('slashed', { note: 'provider caught cheating; price refunded' })
    } else if (onChain.status === 'expired' && job.state === 'awarded') {
      await go('expired', { note: 'provider never committed; price refunded' })
    } else if (onChain.status === 'awarded' && job.state === 'awarded') {
      if ((await chain.chainTime()) > BigInt(onChain.deadline)) {
        const { hash } = await chain.serialize(() =>
          expire(chain.client, { jobMarket: market(), jobId: jobId as Hex }),
        )
        await go('expired', { txHash: hash, note: 'provider never committed; price refunded' })
        log.warn({ jobId, provider: onChain.provider }, 'job expired: refunded, provider slashed')
      }
    }
    if (['committed', 'challenged', 'finalized'].includes(job.state) && detailOf(job).results === undefined) {
      startFetch(jobId)
    }
  }

  async function tick(): Promise<void> {
    const jobs = await state.listJobs({ role: 'requester' })
    for (const job of jobs) {
      if (['expired', 'failed', 'slashed'].includes(job.state)) continue
      if (job.state === 'finalized' && detailOf(job).results !== undefined) continue
      await applyStatus(job).catch((err: unknown) => log.warn({ jobId: job.id, err }, 'reconcile failed'))
    }
  }

  const ticker = createTicker(options.tickIntervalMs, tick, log)

  return {
    role: 'requester',
    submitJob,
    reoffer,
    async start() {
      if (config.requester.models.onlyApproved) requireModelRegistry(chain, 'requester.models.onlyApproved')
      network.bids.setBidHandler((bid) => onBid(bid))
      unsubscribers.push(chain.onEvents(onEvents))
      ticker.start()
    },
    async stop() {
      for (const t of timers) clearTimeout(t)
      timers.clear()
      for (const off of unsubscribers.splice(0)) off()
      network.bids.setBidHandler(undefined)
      await ticker.stop()
      await Promise.allSettled([...awarding.values(), ...fetching.values()])
    },
    async offers(): Promise<OfferSummary[]> {
      const jobs = await state.listJobs({ role: 'requester', state: 'bidding' })
      return jobs.map((job) => {
        const offer = decodeJobOffer(hexToBytes(detailOf(job).offer))
        return {
          jobId: job.id,
          requester: offer.terms.requester,
          kind: job.kind,
          verification: job.verification,
          maxPrice: offer.terms.maxPrice,
          minStake: offer.terms.minCollateral,
          biddingEndsAt: Number(offer.terms.biddingEnds) * 1000,
          receivedAt: job.createdAt,
        }
      })
    },
    async jobResults(id) {
      const job = await state.getJob(id)
      if (job === undefined || job.role !== 'requester') return undefined
      const files: JobResultFile[] = []
      for (const file of resultFiles(job)) {
        const bytes = await store.size(file.hash as Hex)
        if (bytes !== undefined) files.push({ ...file, bytes })
      }
      return {
        jobId: job.id,
        state: job.state,
        ...(job.resultRoot === undefined ? {} : { resultRoot: job.resultRoot }),
        files,
      }
    },
    async openJobResult(id, name, callOptions) {
      const job = await state.getJob(id)
      if (job === undefined || job.role !== 'requester') return undefined
      const file = resultFiles(job).find((f) => f.name === name)
      if (file === undefined || !(await store.has(file.hash as Hex))) return undefined
      return store.get(file.hash as Hex, callOptions?.signal ? { signal: callOptions.signal } : {})
    },
    tick: () => ticker.now(),
  }
}

/** The files a job's results consist of, once fetched: outputs, or the trained model and its manifest. */
function resultFiles(job: JobRecord): Array<{ name: string; hash: string }> {
  const results = job.detail?.role === 'requester' ? job.detail.results : undefined
  if (results === undefined) return []
  if (results.zk === true) return [{ name: 'zk-proof.json', hash: results.outputHash }]
  if (results.modelHash !== undefined) {
    return [
      { name: 'model.onnx', hash: results.modelHash },
      { name: 'training-manifest.json', hash: results.outputHash },
      ...(results.attributionHash === undefined
        ? []
        : [{ name: ATTRIBUTION_RESULT_FILE, hash: results.attributionHash }]),
    ]
  }
  return [{ name: 'outputs.safetensors', hash: results.outputHash }]
}
