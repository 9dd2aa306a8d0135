/**
 * The provider role: advertises its hardware, bids on offers it can run, and on an award
 * (seen on-chain) fetches the artifacts, runs the job, commits the Merkle root, serves
 * leaves, proofs and outputs, and finalizes once the challenge window has passed.
 *
 * Every step is recorded in the StateStore before the next one starts, and every step first
 * asks the chain where the job stands, so a node killed at any point resumes without acting
 * twice: the tick loop picks up jobs left in `awarded` or `executing` and re-runs them.
 */
import {
  commitResult,
  finalize,
  getJob,
  getStake,
  type ModelStatus,
  type ProtocolEvent,
  signBid,
} from '@ocn/contracts-client'
import {
  type Bid,
  type BidTerms,
  type CapabilityAd,
  createIdentityBinding,
  decodeJobOffer,
  encodeJobOffer,
  type IdentityBinding,
  type JobOffer,
  MAX_CACHED_MODELS_ADVERTISED,
  MAX_RESULT_LEAVES_PER_REQUEST,
  MerkleTree,
  type ResultLeaf,
  type ResultRequest,
  type ResultResponse,
} from '@ocn/protocol'
import { inferenceProofToJson } from '@ocn/prover'
import { bytesToHex, type Hex, hexToBytes, toHex } from 'viem'
import type { OfferSummary } from '../api/interface.js'
import type { RoleService } from '../api/services.js'
import { BoundedMap, BoundedSet } from '../core/collections.js'
import { ortVersion } from '../executor/capabilities.js'
import type { InferenceResult } from '../executor/executor.js'
import { decodeSafetensors, encodeSafetensors } from '../executor/formats/safetensors.js'
import { checkpointHash, outputsDataHash } from '../executor/hashing.js'
import { type JobSpec, parseJobSpec } from '../executor/spec.js'
import { type NamedTensors, sliceRows } from '../executor/tensor.js'
import { checkpointStepsFor } from '../executor/training/plan.js'
import { type ProviderJobDetail, providerDetail } from '../state/job-detail.js'
import type { JobRecord } from '../state/records.js'
import { attributionRequestFor, forgeAttributionResult, roleAttributor } from './attribution.js'
import { createRoleMetrics } from './metrics.js'
import { describeModelStatus, requireModelRegistry, unapprovedStatus } from './models.js'
import {
  checkOfferArtifacts,
  isTransientRejection,
  type PrebidOutcome,
  type PrebidReason,
  PrebidRejection,
} from './prebid.js'
import { createTicker, loadJobAssets, type RoleComponents, randomUint256, roleOptions } from './shared.js'
import {
  circuitForModel,
  defaultZkDir,
  fetchZkInputs,
  loadZkCircuits,
  proveZkJob,
  type ZkCircuitIndex,
} from './zk.js'

export interface ProviderRole extends RoleService {
  readonly role: 'provider'
  /** runs one reconciliation pass now (tests) */
  tick(): Promise<void>
}

/** The output artifact of a training job: what the requester and verifiers fetch. */
export interface TrainingManifest {
  kind: 'training'
  /** content hash of the trained ONNX model */
  model: Hex
  /** content hashes of the checkpoint states (safetensors), in checkpoint order */
  checkpoints: Hex[]
  checkpointSteps: number[]
  lossCurve: number[]
  /**
   * jobs that name attribution: content hash of the AttributionResult JSON, whose resultHash
   * is the leaf after the checkpoints
   */
  attribution?: Hex
}

/**
 * The longest a check before bidding may go on in the background after its bid decision
 * (provider.prebidTimeoutMs) has passed: long enough for a slow requester's artifacts to
 * land in the store, so a re-offer of the same job is judged at once.
 */
const PREBID_CHECK_LIMIT_MS = 60_000

const OPEN_STATES = ['bidding', 'awarded', 'executing', 'committed', 'challenged'] as const

/** Which micro-batches a cheating provider corrupts: `fraction` of them, spread evenly, at least one. */
export function cheatIndices(leafCount: number, fraction: number): number[] {
  if (fraction <= 0 || leafCount === 0) return []
  const count = Math.min(leafCount, Math.max(1, Math.round(fraction * leafCount)))
  const out = new Set<number>()
  for (let j = 0; j < count; j++) out.add(Math.floor((j * leafCount) / count))
  return [...out]
}

/**
 * Devnet cheating: flips the lowest bit of the first element of every row of the chosen
 * micro-batches, then rehashes them, so the outputs, the leaves and the root all agree with
 * each other and only a re-execution can tell.
 */
export function corruptMicroBatches(
  result: InferenceResult,
  microBatchSize: number,
  indices: readonly number[],
): { outputs: NamedTensors; dataHashes: Hex[] } {
  const outputs = result.outputs
  if (outputs === undefined) throw new Error('corruptMicroBatches needs the outputs')
  const dataHashes = [...result.dataHashes]
  for (const i of indices) {
    const start = i * microBatchSize
    const end = Math.min(result.samples, start + microBatchSize)
    const slice: NamedTensors = {}
    for (const [name, t] of Object.entries(outputs)) {
      const rowBytes = t.data.length / (t.dims[0] ?? 1)
      for (let r = start; r < end; r++) {
        const at = r * rowBytes
        t.data[at] = (t.data[at] ?? 0) ^ 1
      }
      slice[name] = sliceRows(t, start, end)
    }
    dataHashes[i] = outputsDataHash(slice)
  }
  return { outputs, dataHashes }
}

/**
 * Devnet cheating for training: flips the lowest bit of the first byte of the first tensor of
 * the chosen checkpoint states and rehashes them, so states and leaves agree and only a
 * segment replay tells.
 */
export function corruptCheckpoints(
  states: readonly Uint8Array[],
  hashes: readonly Hex[],
  indices: readonly number[],
): { states: Uint8Array[]; checkpointHashes: Hex[] } {
  const out = [...states]
  const checkpointHashes = [...hashes]
  for (const i of indices) {
    const state = out[i]
    if (state === undefined) continue
    const tensors = decodeSafetensors(state).tensors
    const name = Object.keys(tensors).sort()[0]
    const t = name === undefined ? undefined : tensors[name]
    if (t === undefined || t.data.length === 0) continue
    const data = t.data.slice()
    data[0] = (data[0] ?? 0) ^ 1
    const corrupted = { ...tensors, [name!]: { ...t, data } }
    out[i] = encodeSafetensors(corrupted)
    checkpointHashes[i] = checkpointHash(corrupted)
  }
  return { states: out, checkpointHashes }
}

export function createProviderRole(components: RoleComponents): ProviderRole {
  const { config, state, chain, network, store, executor, keys } = components
  const options = roleOptions(components)
  const metrics = createRoleMetrics(components.metrics)
  const log = components.logger.child({ role: 'provider' })
  const me = keys.account.address.toLowerCase()
  const running = new Map<string, Promise<void>>()
  const seenOffers = new Map<string, OfferSummary>()
  let binding: IdentityBinding | undefined
  let adTimer: NodeJS.Timeout | undefined
  const unsubscribers: Array<() => void> = []
  // the checks before bidding, by the job's content (a re-offer of the same files shares
  // one), and the offers refused after one: neither is fetched or checked again
  const prebidChecks = new BoundedMap<string, Promise<PrebidOutcome | PrebidRejection>>(256)
  const refusedOffers = new BoundedSet<string>(1024)
  const prebidAbort = new AbortController()
  // zk-mode offers are bid on only for models whose circuit sits in <data-dir>/zk
  let zkCircuits: ZkCircuitIndex = loadZkCircuits([])

  const detailOf = providerDetail

  async function openJobs(): Promise<JobRecord[]> {
    const jobs = await state.listJobs({ role: 'provider' })
    return jobs.filter((j) => (OPEN_STATES as readonly string[]).includes(j.state))
  }

  async function busySlots(): Promise<number> {
    return (await openJobs()).filter((j) => j.state === 'awarded' || j.state === 'executing').length
  }

  async function publishAd(): Promise<void> {
    if (binding === undefined) return
    const caps = await executor.capabilities()
    const now = Math.floor(Date.now() / 1000)
    const gpu = caps.gpus[0]
    const cached = (await openJobs())
      .map((j) => j.modelHash)
      .filter((h): h is string => h !== undefined)
      .slice(0, MAX_CACHED_MODELS_ADVERTISED) as Hex[]
    const ad: CapabilityAd = {
      version: 1,
      providerPeerId: network.peerId,
      provider: keys.account.address,
      providerBinding: binding,
      device:
        gpu !== undefined && config.provider.devices.some((d) => d.startsWith('cuda'))
          ? { kind: 'gpu', name: gpu.name.slice(0, 128), memoryBytes: gpu.memoryBytes }
          : { kind: 'cpu', name: caps.cpuModel.slice(0, 128), memoryBytes: caps.memoryBytes },
      executionProviders: caps.executionProviders.slice(0, 8),
      cores: Math.min(caps.cores, 65_535),
      modelsCached: [...new Set(cached)],
      pricePerUnit: config.provider.priceFloorPerSample,
      freeSlots: Math.max(0, config.provider.maxConcurrentJobs - (await busySlots())),
      issuedAt: now,
      expiresAt: now + options.capabilityAdTtlSeconds,
    }
    await network.gossip.publishCapabilityAd(ad).catch((err: unknown) => {
      // no subscribed peer yet is normal right after start
      log.debug({ err }, 'capability ad not published')
    })
  }

  function specOf(offer: JobOffer): JobSpec | undefined {
    if (offer.spec === undefined) return undefined
    try {
      return parseJobSpec(JSON.parse(new TextDecoder().decode(offer.spec)))
    } catch {
      return undefined
    }
  }

  /** Why this provider will not bid, or undefined when it will. */
  async function bidTerms(offer: JobOffer, jobId: Hex): Promise<BidTerms | string> {
    const t = offer.terms
    const spec = specOf(offer)
    if (spec === undefined) return 'no usable inline job spec'
    if (t.verification === 1) {
      if (spec.kind !== 'inference' || spec.zkInput === undefined) return 'zk offer without an inputs file'
      const circuit = await circuitForModel(
        zkCircuits,
        chain.client,
        chain.deployment.addresses.zkVerifierRegistry,
        t.modelHash,
      )
      if (typeof circuit === 'string') return circuit
    } else if (t.verification !== 0) return 'unknown verification mode'
    if ((spec.kind === 'training' ? 1 : 0) !== t.kind) return 'spec and offer disagree on the job kind'
    if (spec.profile.ortVersion !== ortVersion()) return `needs onnxruntime ${spec.profile.ortVersion}`
    if (!config.provider.devices.some((d) => d.split(':')[0] === spec.profile.executionProvider))
      return `device ${spec.profile.executionProvider} not offered`
    if (spec.profile.microBatchSize !== t.microBatchSize) return 'spec and offer disagree on micro-batch size'
    // a verifier replaying the attribution leaf asks for every checkpoint in one result request
    if (
      spec.kind === 'training' &&
      spec.attribution !== undefined &&
      checkpointStepsFor(spec, t.sampleCount).length + 1 > MAX_RESULT_LEAVES_PER_REQUEST
    )
      return 'attribution job with more checkpoints than one result request carries'
    // inference is priced per sample, training per optimizer step
    const units =
      spec.kind === 'training'
        ? BigInt(spec.epochs * Math.ceil(t.sampleCount / spec.batchSize))
        : BigInt(t.sampleCount)
    const price = config.provider.priceFloorPerSample * units
    if (price > t.maxPrice) return 'max price below our floor'
    const multiple = BigInt(Math.round(config.provider.collateral.priceMultiple * 1000))
    const byPrice = (price * multiple) / 1000n
    const collateral = byPrice > t.minCollateral ? byPrice : t.minCollateral
    if ((await busySlots()) >= config.provider.maxConcurrentJobs) return 'no free slot'
    const stake = await getStake(chain.client, {
      stakeManager: chain.deployment.addresses.stakeManager,
      account: keys.account.address,
    })
    if (collateral > stake.free) return 'not enough free stake for the collateral'
    const maxLocked = BigInt(Math.floor(config.provider.collateral.maxLockedFraction * 1e6))
    if ((stake.locked + collateral) * 1_000_000n > stake.staked * maxLocked) return 'locked-stake cap reached'
    return {
      jobId,
      provider: keys.account.address,
      price,
      collateral,
      // the requester awards after the bidding window; the bid stays good until the deadline
      expiry: t.deadline,
      nonce: randomUint256(),
      etaSeconds: Math.max(1, Math.ceil(t.sampleCount / 1000)),
    }
  }

  /** provider.models.onlyApproved: is the offer's model Approved in the registry? Says why not. */
  async function modelApproved(modelHash: Hex, jobId: Hex): Promise<boolean> {
    let status: ModelStatus | undefined
    try {
      status = await unapprovedStatus(chain, modelHash)
    } catch (err) {
      // an unreadable registry is no approval: bidding blind would defeat the option
      metrics.unapprovedModelOffers.inc({ status: 'unreadable' })
      log.warn({ jobId, modelHash, err }, 'not bidding: the model registry could not be read')
      return false
    }
    if (status === undefined) return true
    metrics.unapprovedModelOffers.inc({ status })
    log.info(
      { jobId, modelHash, status, reason: `model ${describeModelStatus(status)}, not approved` },
      'not bidding: provider.models.onlyApproved and the model is not approved',
    )
    return false
  }

  /**
   * Checks the offer's artifacts before bidding (roles/prebid.ts). Resolves to the reason
   * not to bid, or undefined to go on. The bid waits for the check at most
   * provider.prebidTimeoutMs; a check still running then means no bid. Bidding blind instead
   * would hand the decision to the requester, who serves the artifacts and so decides how
   * long the check takes: a crafted job served slowly would get bids again. The check goes
   * on in the background (up to PREBID_CHECK_LIMIT_MS), its files land in the store and its
   * verdict is kept by the job's content, so when the requester re-offers the same job after
   * a round without bids (requester.noBidReoffers) the verdict is there at once.
   */
  async function prebidRefusal(offer: JobOffer, jobId: Hex): Promise<PrebidReason | undefined> {
    const maxBytes = config.provider.prebidFetchMaxBytes
    if (maxBytes === 0) return undefined
    const t = offer.terms
    const key = `${t.specHash}/${t.modelHash}/${t.inputHash}/${t.sampleCount}`.toLowerCase()
    let check = prebidChecks.get(key)
    if (check === undefined) {
      const signal = AbortSignal.any([prebidAbort.signal, AbortSignal.timeout(PREBID_CHECK_LIMIT_MS)])
      check = checkOfferArtifacts(components, offer, { maxBytes, signal }).catch((err: unknown) => {
        if (err instanceof PrebidRejection) return err
        // no verdict (our deadline, a crashed worker, shutdown): a later offer checks again
        prebidChecks.delete(key)
        log.warn({ jobId, err }, 'the check before bidding did not finish')
        return new PrebidRejection('timeout', 'the check before bidding did not finish', { cause: err })
      })
      prebidChecks.set(key, check)
      const settled = check
      void settled.then((verdict) => {
        // a requester that could not serve now may serve a re-offer
        if (verdict instanceof PrebidRejection && isTransientRejection(verdict.reason)) {
          if (prebidChecks.get(key) === settled) prebidChecks.delete(key)
        }
      })
    }
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), config.provider.prebidTimeoutMs)
    })
    const verdict = await Promise.race([check, late]).finally(() => clearTimeout(timer))
    if (verdict === 'late') {
      log.info(
        { jobId, timeoutMs: config.provider.prebidTimeoutMs },
        'not bidding: the check of the artifacts did not finish in time (it goes on for a re-offer)',
      )
      return 'timeout'
    }
    if (verdict instanceof PrebidRejection) {
      log.info(
        { jobId, reason: verdict.reason, err: verdict },
        `not bidding: ${verdict.shortMessage}${verdict.details === undefined ? '' : ` (${verdict.details})`}`,
      )
      return verdict.reason
    }
    if (!verdict.checked) log.debug({ jobId, why: verdict.why }, 'artifacts not checked before bidding')
    return undefined
  }

  async function onOffer(offer: JobOffer, jobId: Hex): Promise<void> {
    if (offer.terms.requester.toLowerCase() === me) return
    seenOffers.set(jobId, {
      jobId,
      requester: offer.terms.requester,
      kind: offer.terms.kind === 1 ? 'training' : 'inference',
      verification: offer.terms.verification === 1 ? 'zk' : 'replay',
      maxPrice: offer.terms.maxPrice,
      minStake: offer.terms.minCollateral,
      biddingEndsAt: Number(offer.terms.biddingEnds) * 1000,
      receivedAt: Date.now(),
    })
    if (seenOffers.size > 1000) seenOffers.delete(seenOffers.keys().next().value as string)
    if (binding === undefined || refusedOffers.has(jobId) || (await state.getJob(jobId)) !== undefined) return
    if (config.provider.models.onlyApproved && !(await modelApproved(offer.terms.modelHash, jobId))) return
    // the cheap checks first: no artifact is fetched for an offer we would not bid on anyway
    const first = await bidTerms(offer, jobId)
    if (typeof first === 'string') {
      log.debug({ jobId, reason: first }, 'not bidding')
      return
    }
    const refusal = await prebidRefusal(offer, jobId)
    if (refusal !== undefined) {
      refusedOffers.add(jobId)
      metrics.prebidRejections.inc({ reason: refusal })
      return
    }
    // again: slots and free stake may have changed while the artifacts were checked
    const terms = await bidTerms(offer, jobId)
    if (typeof terms === 'string') {
      log.debug({ jobId, reason: terms }, 'not bidding')
      return
    }
    const signature = await signBid(chain.client, { domain: chain.domain, bid: terms })
    const bid: Bid = {
      version: 1,
      terms,
      signature,
      providerPeerId: network.peerId,
      providerBinding: binding,
    }
    const detail: ProviderJobDetail = {
      role: 'provider',
      offer: bytesToHex(encodeJobOffer(offer)),
      requesterPeerId: offer.requesterPeerId,
    }
    await state.createJob(
      {
        id: jobId,
        role: 'provider',
        state: 'bidding',
        kind: offer.terms.kind === 1 ? 'training' : 'inference',
        verification: offer.terms.verification === 1 ? 'zk' : 'replay',
        modelHash: offer.terms.modelHash,
        inputHash: offer.terms.inputHash,
        requester: offer.terms.requester,
        provider: keys.account.address,
        maxPrice: offer.terms.maxPrice,
        price: terms.price,
        collateral: terms.collateral,
        detail: detail,
      },
      {
        bids: [
          {
            jobId,
            bidId: terms.nonce.toString(16),
            provider: keys.account.address,
            peerId: network.peerId,
            price: terms.price,
            collateral: terms.collateral,
            signature,
            status: 'sent',
            receivedAt: Date.now(),
          },
        ],
      },
    )
    const receipt = await network.bids.sendBid(offer.requesterPeerId, bid).catch((err: unknown) => {
      log.warn({ jobId, err }, 'bid not delivered')
      return undefined
    })
    if (receipt?.accepted !== true) {
      await state.transitionJob(jobId, 'failed', {
        note: `bid refused: ${receipt?.reason ?? 'not delivered'}`,
      })
      return
    }
    metrics.bidsSent.inc()
    log.info({ jobId, price: terms.price.toString() }, 'bid sent')
  }

  async function onEvents(events: ProtocolEvent[]): Promise<void> {
    for (const event of events) {
      if (event.eventName !== 'JobAwarded') continue
      const { jobId, provider } = event.args
      const job = await state.getJob(jobId)
      if (job === undefined || job.role !== 'provider') continue
      if (provider.toLowerCase() !== me) {
        if (job.state === 'bidding')
          await state.transitionJob(jobId, 'failed', { note: 'awarded to another provider' })
        continue
      }
      if (job.state === 'bidding') {
        await state.transitionJob(jobId, 'awarded', {
          patch: { price: event.args.price, collateral: event.args.collateral },
          txHash: event.transactionHash,
        })
        log.info({ jobId }, 'job awarded to us')
      }
      execute(jobId)
    }
  }

  /** Starts (or joins) the execution of an awarded job. */
  function execute(jobId: string): void {
    if (running.has(jobId)) return
    const run = runJob(jobId as Hex)
      .catch((err: unknown) => log.error({ jobId, err }, 'job execution failed; will retry'))
      .finally(() => running.delete(jobId))
    running.set(jobId, run)
  }

  async function runJob(jobId: Hex): Promise<void> {
    let job = await state.requireJob(jobId)
    const onChain = await getJob(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobId })
    if (onChain.status !== 'awarded') {
      await reconcile(job)
      return
    }
    if (job.state === 'awarded') job = await state.transitionJob(jobId, 'executing')
    if (job.state !== 'executing') return
    const detail = detailOf(job)
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    if (offer.spec !== undefined) await store.putBytes(offer.spec)
    if (offer.terms.verification === 1) {
      await runZkJob(jobId, offer)
      return
    }
    const assets = await loadJobAssets(components, offer.terms, [detail.requesterPeerId])
    const started = Date.now()
    if (assets.spec.kind === 'training') {
      const trained = await executor.runTraining(
        {
          spec: assets.spec,
          dataset: assets.inputs,
          ...('baseModel' in assets.spec.model ? { model: assets.model } : {}),
        },
        { keepCheckpoints: true },
      )
      let states = trained.checkpoints
      let checkpointHashes = trained.checkpointHashes
      // devnet cheating: checkpoint 0 is the seed's state, the later ones are what a cheat fakes
      const cheated = cheatIndices(states.length - 1, config.provider.cheat.fraction).map((i) => i + 1)
      if (cheated.length > 0) {
        ;({ states, checkpointHashes } = corruptCheckpoints(states, checkpointHashes, cheated))
        log.warn({ jobId, cheated }, 'cheat mode: corrupted training checkpoints before committing')
      }
      // verifiers replay segment i from checkpoint i-1: every checkpoint state is served
      const checkpoints: Hex[] = []
      for (const state of states) checkpoints.push((await store.putBytes(state)).hash)
      const model = await store.putBytes(trained.model)
      const leaves = [...checkpointHashes]
      let attribution: Hex | undefined
      if (assets.spec.attribution !== undefined && assets.datanet !== undefined) {
        // over the checkpoints as committed, so the result and the leaves agree
        let result = await roleAttributor(components.attributor).compute(
          attributionRequestFor({
            spec: assets.spec,
            manifest: assets.datanet,
            inputs: assets.inputs,
            model: assets.model,
            checkpoints: states,
            checkpointHashes,
          }),
        )
        if (options.forgeAttribution) {
          result = forgeAttributionResult(result)
          log.warn({ jobId }, 'cheat mode: committing a forged attribution result')
        }
        attribution = (await store.putBytes(new TextEncoder().encode(JSON.stringify(result)))).hash
        leaves.push(result.resultHash)
        log.info({ jobId, weights: result.weights.map((w) => w.weight) }, 'attribution computed')
      }
      const manifest: TrainingManifest = {
        kind: 'training',
        model: model.hash,
        checkpoints,
        checkpointSteps: trained.checkpointSteps,
        lossCurve: trained.lossCurve,
        ...(attribution === undefined ? {} : { attribution }),
      }
      const put = await store.putBytes(new TextEncoder().encode(JSON.stringify(manifest)))
      await commit(jobId, detail, leaves, put.hash, cheated, started)
      return
    }
    const result = await executor.runInference(
      { spec: assets.spec, model: assets.model, inputs: assets.inputs },
      { keepOutputs: true },
    )
    let outputs = result.outputs!
    let dataHashes = result.dataHashes
    const cheated = cheatIndices(result.microBatches, config.provider.cheat.fraction)
    if (cheated.length > 0) {
      ;({ outputs, dataHashes } = corruptMicroBatches(result, assets.spec.profile.microBatchSize, cheated))
      log.warn({ jobId, cheated }, 'cheat mode: corrupted micro-batches before committing')
    }
    const put = await store.putBytes(
      encodeSafetensors(outputs, {
        root: MerkleTree.fromDataHashes(dataHashes).root,
        modelHash: result.modelHash,
      }),
    )
    await commit(jobId, detail, dataHashes, put.hash, cheated, started)
  }

  /** A zk-mode job: prove in the prover's child process; commitZkResult settles it at once. */
  async function runZkJob(jobId: Hex, offer: JobOffer): Promise<void> {
    const spec = specOf(offer)
    const circuit = await circuitForModel(
      zkCircuits,
      chain.client,
      chain.deployment.addresses.zkVerifierRegistry,
      offer.terms.modelHash,
    )
    if (typeof circuit === 'string') throw new Error(`cannot prove job ${jobId}: ${circuit}`)
    const zkInput = spec?.kind === 'inference' ? spec.zkInput : undefined
    const inputs = await fetchZkInputs(components, zkInput, [offer.requesterPeerId])
    const started = Date.now()
    const { proof, txHash } = await proveZkJob({
      client: chain.client,
      jobMarket: chain.deployment.addresses.jobMarket,
      jobId,
      artifacts: circuit,
      inputs,
      send: (write) => chain.serialize(write),
    })
    metrics.executionSeconds.observe((Date.now() - started) / 1000)
    const root = toHex(BigInt(proof.commitments.outputCommitment), { size: 32 })
    // the proof JSON (with the output vector) is what the requester fetches as the result
    const put = await store.putBytes(new TextEncoder().encode(JSON.stringify(inferenceProofToJson(proof))))
    const job = await state.requireJob(jobId)
    await state.transitionJob(jobId, 'committed', {
      txHash,
      patch: {
        resultRoot: root,
        detail: { ...detailOf(job), outputHash: put.hash },
      },
      note: `proved in ${Date.now() - started} ms`,
    })
    metrics.resultsCommitted.inc({ kind: 'inference' })
    // the proof settled it in the same transaction
    await state.transitionJob(jobId, 'finalized', { note: 'zk proof checked on-chain' })
    log.info({ jobId, output: proof.output }, 'zk result proved and settled')
  }

  async function commit(
    jobId: Hex,
    detail: ProviderJobDetail,
    dataHashes: Hex[],
    outputHash: Hex,
    cheated: number[],
    started: number,
  ): Promise<void> {
    const tree = MerkleTree.fromDataHashes(dataHashes)
    await state.updateJob(jobId, {
      resultRoot: tree.root,
      detail: {
        ...detail,
        dataHashes,
        outputHash,
        ...(cheated.length > 0 ? { cheatedIndices: cheated } : {}),
      },
    })
    metrics.executionSeconds.observe((Date.now() - started) / 1000)
    const { hash } = await chain.serialize(() =>
      commitResult(chain.client, {
        jobMarket: chain.deployment.addresses.jobMarket,
        jobId,
        resultRoot: tree.root,
        leafCount: dataHashes.length,
      }),
    )
    await state.transitionJob(jobId, 'committed', {
      txHash: hash,
      note: `executed in ${Date.now() - started} ms`,
    })
    metrics.resultsCommitted.inc({
      kind: decodeJobOffer(hexToBytes(detail.offer)).terms.kind === 1 ? 'training' : 'inference',
    })
    log.info({ jobId, root: tree.root, leaves: dataHashes.length }, 'result committed')
    // verifiers look this provider's peer up from its ads exactly now; a fresh ad means one
    // that joined after the last periodic ad still finds it within the challenge window
    void publishAd().catch((err: unknown) => log.debug({ err }, 'ad after commit failed'))
  }

  /** Brings a local record in line with the job's on-chain status. */
  async function reconcile(job: JobRecord): Promise<void> {
    const jobId = job.id as Hex
    const onChain = await getJob(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobId })
    switch (onChain.status) {
      case 'awarded':
        // the award event may have been missed while the node was down
        if (job.state === 'bidding' && onChain.provider.toLowerCase() === me) {
          await state.transitionJob(jobId, 'awarded', { note: 'award found on-chain after restart' })
          execute(jobId)
        } else if (job.state === 'bidding') {
          await state.transitionJob(jobId, 'failed', { note: 'awarded to another provider' })
        } else if (job.state === 'awarded' || job.state === 'executing') execute(jobId)
        return
      case 'committed': {
        if (job.state === 'executing' && onChain.resultRoot === job.resultRoot) {
          await state.transitionJob(jobId, 'committed', { note: 'commit found on-chain after restart' })
          return
        }
        if (job.state !== 'committed') return
        if ((await chain.chainTime()) < BigInt(onChain.challengeEnds)) return
        const { hash } = await chain.serialize(() =>
          finalize(chain.client, {
            jobMarket: chain.deployment.addresses.jobMarket,
            jobId,
          }),
        )
        await state.transitionJob(jobId, 'finalized', { txHash: hash })
        log.info({ jobId }, 'job finalized; payment collected')
        return
      }
      case 'challenged':
        if (job.state === 'committed') await state.transitionJob(jobId, 'challenged')
        return
      case 'finalized':
        // a zk job settles at commit: a restart after commitZkResult finds it finalized while executing
        if (job.state === 'executing' && job.verification === 'zk') {
          await state.transitionJob(jobId, 'committed', {
            patch: { resultRoot: onChain.resultRoot },
            note: 'zk commit found on-chain after restart',
          })
          await state.transitionJob(jobId, 'finalized')
          return
        }
        if (job.state === 'committed' || job.state === 'challenged')
          await state.transitionJob(jobId, 'finalized')
        return
      case 'providerSlashed':
        if (job.state === 'committed' || job.state === 'challenged') {
          await state.transitionJob(jobId, 'slashed', { note: 'challenge upheld' })
        }
        return
      case 'expired':
        if (job.state === 'awarded' || job.state === 'executing') await state.transitionJob(jobId, 'expired')
        return
      case 'none':
        // never awarded: give up once the offer's deadline is behind us
        if (job.state === 'bidding') {
          const offer = decodeJobOffer(hexToBytes(detailOf(job).offer))
          if ((await chain.chainTime()) > offer.terms.deadline) {
            await state.transitionJob(jobId, 'failed', { note: 'not awarded' })
          }
        }
        return
    }
  }

  async function tick(): Promise<void> {
    for (const job of await openJobs()) {
      if (running.has(job.id)) continue
      // a challenge resolved in our favour puts the job back to committed on-chain
      await reconcile(job).catch((err: unknown) => log.warn({ jobId: job.id, err }, 'reconcile failed'))
    }
  }

  async function serveResult(request: ResultRequest): Promise<ResultResponse> {
    const base = { version: 1 as const, jobId: request.jobId }
    const job = await state.getJob(request.jobId)
    if (job === undefined || job.role !== 'provider') return { ...base, status: 'not-found' }
    const detail = detailOf(job)
    if (job.verification === 'zk') {
      // no leaves: the chain checked the proof; the output file is the proof JSON
      if (job.resultRoot === undefined || detail.outputHash === undefined)
        return { ...base, status: 'not-ready' }
      if (request.indices.length > 0) return { ...base, status: 'bad-request' }
      return {
        ...base,
        status: 'ok',
        result: {
          resultRoot: job.resultRoot as Hex,
          leafCount: 0,
          outputHash: detail.outputHash,
          leaves: [],
        },
      }
    }
    if (
      !['committed', 'challenged', 'finalized', 'slashed'].includes(job.state) ||
      detail.dataHashes === undefined
    ) {
      return { ...base, status: 'not-ready' }
    }
    const dataHashes = detail.dataHashes
    if (request.indices.some((i) => i >= dataHashes.length)) return { ...base, status: 'bad-request' }
    const tree = MerkleTree.fromDataHashes(dataHashes)
    const leaves: ResultLeaf[] = request.indices.map((index) => ({
      index,
      dataHash: dataHashes[index]!,
      proof: tree.proof(index),
    }))
    return {
      ...base,
      status: 'ok',
      result: { resultRoot: tree.root, leafCount: dataHashes.length, outputHash: detail.outputHash!, leaves },
    }
  }

  const ticker = createTicker(options.tickIntervalMs, tick, log)

  return {
    role: 'provider',
    async start() {
      if (config.provider.models.onlyApproved) requireModelRegistry(chain, 'provider.models.onlyApproved')
      binding = await createIdentityBinding(keys.account, keys.privateKey)
      zkCircuits = loadZkCircuits([defaultZkDir(config.dataDir)], (dir, err) =>
        log.warn({ dir, err }, 'zk circuit skipped'),
      )
      network.results.setResultHandler((request) => serveResult(request))
      unsubscribers.push(
        network.gossip.onOffer(({ offer, jobId }) => {
          onOffer(offer, jobId).catch((err: unknown) => log.warn({ jobId, err }, 'offer handling failed'))
        }),
        chain.onEvents(onEvents),
      )
      await publishAd()
      adTimer = setInterval(
        () => void publishAd().catch((err: unknown) => log.debug({ err }, 'ad failed')),
        (options.capabilityAdTtlSeconds * 1000) / 2,
      )
      // gossip meshes form a moment after connecting: announce again soon
      setTimeout(() => void publishAd().catch(() => {}), 2_000).unref()
      ticker.start()
    },
    async stop() {
      prebidAbort.abort()
      if (adTimer) clearInterval(adTimer)
      for (const off of unsubscribers.splice(0)) off()
      network.results.setResultHandler(undefined)
      await ticker.stop()
      await Promise.allSettled([...running.values()])
    },
    async offers() {
      return [...seenOffers.values()]
    },
    tick: () => ticker.now(),
  }
}
