/**
 * What every role shares: the parts it runs on, the peer directory learned from gossip, and
 * the loading of a job's artifacts (spec, model, inputs) from whoever serves them.
 */

import { isCompactSalt, jobMarketAbi } from '@ocn/contracts-client'
import type { DatanetManifest } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Attributor } from '../attribution/attributor.js'
import type { OcnChainService } from '../chain/service.js'
import type { Logger } from '../core/logger.js'
import type { ProgressReport } from '../core/progress.js'
import type { Executor } from '../executor/executor.js'
import { decodeSafetensors } from '../executor/formats/safetensors.js'
import { type JobSpec, parseJobSpec } from '../executor/spec.js'
import type { NamedTensors } from '../executor/tensor.js'
import type { NodeKeys } from '../keys/keystore.js'
import type { MetricsFactory } from '../metrics/index.js'
import type { Network } from '../p2p/network.js'
import type { AwardedJob } from '../state/job-detail.js'
import type { StateStore } from '../state/store.js'
import { attributionLeafIndex, attributionRequestFor, parseJobDatanet } from './attribution.js'
import { RoleError } from './errors.js'
import { generationReplayFor } from './generation.js'
import { sequenceReplayFor } from './sequence.js'

/** The parts every role runs on, all of them running before any role is created. */
export interface RoleComponents {
  logger: Logger
  state: StateStore
  keys: NodeKeys
  chain: OcnChainService
  network: Network
  store: ArtifactStore
  executor: Executor
  directory: PeerDirectory
  /** the daemon's metrics */
  metrics: MetricsFactory
  /** Proof of Attribution computations */
  attributor: Attributor
  /** long work's progress (execution, replays, transfers, proofs) for the API's event stream */
  progress?: ProgressReport
}

/** Who is who on the network, as heard on gossip: providers by address, requesters by job. */
export interface PeerDirectory {
  providerPeer(address: string): string | undefined
  requesterPeer(jobId: string): string | undefined
  /** learned elsewhere (a bid, a stored record) */
  rememberProvider(address: string, peerId: string): void
  rememberRequester(jobId: string, peerId: string): void
  stop(): void
}

export function createPeerDirectory(network: Network): PeerDirectory {
  const providers = new Map<string, string>()
  const requesters = new Map<string, string>()
  const offUnsub = network.gossip.onOffer(({ jobId, offer }) =>
    requesters.set(jobId.toLowerCase(), offer.requesterPeerId),
  )
  const adUnsub = network.gossip.onCapabilityAd(({ ad }) =>
    providers.set(ad.provider.toLowerCase(), ad.providerPeerId),
  )
  return {
    providerPeer(address) {
      const known = providers.get(address.toLowerCase())
      if (known !== undefined) return known
      const ad = network.gossip
        .capabilityAds()
        .find((a) => a.provider.toLowerCase() === address.toLowerCase())
      return ad?.providerPeerId
    },
    requesterPeer: (jobId) => requesters.get(jobId.toLowerCase()),
    rememberProvider: (address, peerId) => providers.set(address.toLowerCase(), peerId),
    rememberRequester: (jobId, peerId) => requesters.set(jobId.toLowerCase(), peerId),
    stop() {
      offUnsub()
      adUnsub()
    },
  }
}

export function awardedJobFromEvent(args: Omit<AwardedJob, 'blockNumber'>, blockNumber: bigint): AwardedJob {
  return { ...args, blockNumber }
}

/** Reads a job's award from the chain logs (after a restart, or for a job first seen disputed). */
export async function findAwardedJob(chain: OcnChainService, jobId: Hex): Promise<AwardedJob | undefined> {
  const logs = await chain.client.getContractEvents({
    address: chain.deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    eventName: 'JobAwarded',
    args: { jobId },
    fromBlock: chain.deployment.deployBlock,
  })
  const log = logs[0]
  if (log === undefined || log.blockNumber === null) return undefined
  return awardedJobFromEvent(log.args as Omit<AwardedJob, 'blockNumber'>, log.blockNumber)
}

export interface JobAssets {
  spec: JobSpec
  specBytes: Uint8Array
  model: Uint8Array
  inputs: NamedTensors
  /** training jobs that name attribution: the datanet manifest, checked against the spec and dataset */
  datanet?: DatanetManifest
}

/** A fetch's byte counts as `transfer` progress of the job, labelled by what is fetched. */
export function transferProgress(
  progress: ProgressReport | undefined,
  jobId: string | undefined,
  label: string,
): { onProgress?: (received: number, size: number) => void } {
  if (progress === undefined) return {}
  return {
    onProgress: (received, size) =>
      progress({
        ...(jobId === undefined ? {} : { jobId }),
        stage: 'transfer',
        unit: 'bytes',
        label,
        done: received,
        total: size,
        ...(received >= size ? { finished: true } : {}),
      }),
  }
}

/** Gets the job's spec, model and inputs into the local store (from `peers`) and decodes them. */
export async function loadJobAssets(
  components: Pick<RoleComponents, 'store' | 'network' | 'progress'>,
  job: { modelHash: Hex; inputHash: Hex; specHash: Hex },
  peers: readonly string[],
  options: { signal?: AbortSignal; jobId?: string } = {},
): Promise<JobAssets> {
  const { store, network, progress } = components
  const get = async (hash: Hex, what: string): Promise<Uint8Array> => {
    const h = hash.toLowerCase() as Hex
    if (!(await store.has(h))) {
      if (peers.length === 0) {
        throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `no peer known to serve the ${what} ${h}`)
      }
      await network.artifacts.fetch(h, peers, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...transferProgress(progress, options.jobId, what),
      })
    }
    return store.getBytes(h)
  }
  const specBytes = await get(job.specHash, 'job spec')
  const spec = parseJobSpec(JSON.parse(new TextDecoder().decode(specBytes)))
  const model = await get(job.modelHash, 'model')
  const inputs = decodeSafetensors(await get(job.inputHash, 'inputs')).tensors
  if (spec.kind === 'training' && spec.attribution !== undefined) {
    const datanet = parseJobDatanet(
      await get(spec.attribution.manifest, 'datanet manifest'),
      spec,
      job.inputHash,
    )
    return { spec, specBytes, model, inputs, datanet }
  }
  return { spec, specBytes, model, inputs }
}

export function randomUint256(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
}

/**
 * A random salt for an offer this node awards with `award`: never one in the compact salt
 * space (one draw in 2^32 lands there), which only `awardCompact` accepts.
 */
export function randomOfferSalt(): bigint {
  for (;;) {
    const salt = randomUint256()
    if (!isCompactSalt(salt)) return salt
  }
}

/** Runs `tick` every `intervalMs`, never two at once; `stop` waits for the running one. */
export function createTicker(intervalMs: number, tick: () => Promise<void>, log: Logger) {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = true
  const loop = async () => {
    if (stopped) return
    running = tick().catch((err: unknown) => log.warn({ err }, 'role tick failed'))
    await running
    running = undefined
    if (!stopped) timer = setTimeout(loop, intervalMs)
  }
  return {
    start() {
      stopped = false
      timer = setTimeout(loop, 0)
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
    },
    /** runs a tick now unless one is running */
    async now() {
      if (running) return running
      running = tick().finally(() => {
        running = undefined
      })
      return running
    },
  }
}

/**
 * The replay side of a job for a verifier or a juror: micro-batches for inference; for
 * training, segment i replayed from the provider's checkpoint i-1 (fetched through the
 * training manifest, checked against the proven leaf i-1 by the executor).
 */
export async function replayFor(
  components: Pick<RoleComponents, 'store' | 'network' | 'executor' | 'attributor'>,
  assets: JobAssets,
  provider: {
    peer: string | undefined
    outputHash: Hex | undefined
    leaf: (index: number) => Hex | undefined
    /** the committed result root: a generate job's shipped sequences must rebuild it */
    root: Hex
    /** the leaves the caller will check, when it knows them (a generate job's passes stop there) */
    sampled?: readonly number[]
  },
): Promise<ReplayExecutor> {
  const { executor, store, network } = components
  if (assets.spec.kind === 'generate')
    return generationReplayFor(components, { ...assets, spec: assets.spec }, provider, provider.root)
  if (assets.spec.kind === 'sequence')
    return sequenceReplayFor(components, { ...assets, spec: assets.spec }, provider)
  if (assets.spec.kind === 'inference') {
    return executor.inferenceReplay({ spec: assets.spec, model: assets.model, inputs: assets.inputs })
  }
  const spec = assets.spec
  let manifest: { checkpoints: Hex[] } | undefined
  const peers = provider.peer === undefined ? [] : [provider.peer]
  const fetchBytes = async (hash: Hex) => {
    if (!(await store.has(hash))) await network.artifacts.fetch(hash, peers)
    return store.getBytes(hash)
  }
  const source = {
    async loadCheckpoint(index: number) {
      if (manifest === undefined) {
        if (provider.outputHash === undefined)
          throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', 'no training manifest')
        manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(provider.outputHash))) as {
          checkpoints: Hex[]
        }
      }
      const hash = manifest.checkpoints[index]
      if (hash === undefined)
        throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `no checkpoint ${index} in the manifest`)
      return fetchBytes(hash)
    },
    async expectedHash(index: number) {
      const leaf = provider.leaf(index)
      if (leaf === undefined) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `leaf ${index} not served`)
      return leaf
    },
  }
  const segments = executor.trainingReplay(
    { spec, dataset: assets.inputs, ...('baseModel' in spec.model ? { model: assets.model } : {}) },
    source,
  )
  const attributionIndex = attributionLeafIndex(spec, assets.inputs)
  if (attributionIndex === undefined) return segments
  const datanet = assets.datanet
  if (datanet === undefined) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', 'no datanet manifest loaded')
  return {
    ...segments,
    async runTrainingSegment(index, o = {}) {
      if (index !== attributionIndex) return segments.runTrainingSegment(index, o)
      // the attribution leaf: recompute it from every checkpoint the provider committed,
      // each checked against its proven leaf (a mismatch fails the replay)
      const checkpoints: Uint8Array[] = []
      const checkpointHashes: Hex[] = []
      for (let i = 0; i < attributionIndex; i++) {
        checkpointHashes.push(await source.expectedHash(i))
        checkpoints.push(await source.loadCheckpoint(i))
      }
      const request = attributionRequestFor({
        spec,
        manifest: datanet,
        inputs: assets.inputs,
        model: assets.model,
        checkpoints,
        checkpointHashes,
      })
      const recomputed = await components.attributor.compute(
        request,
        o.signal === undefined ? {} : { signal: o.signal },
      )
      return recomputed.resultHash
    },
  }
}

/**
 * The leaves to ask a provider for: the sampled ones, plus each training segment's starting
 * checkpoint, plus every checkpoint when the attribution leaf (at `attributionIndex`) is
 * sampled, since its replay reads them all.
 */
export function leavesNeeded(
  kind: JobSpec['kind'],
  indices: readonly number[],
  attributionIndex?: number,
): number[] {
  const need = new Set(indices)
  // a training segment and a sequence chunk are replayed from the state the leaf before committed
  if (kind === 'training' || kind === 'sequence') for (const i of indices) if (i > 0) need.add(i - 1)
  if (kind === 'training' && attributionIndex !== undefined && indices.includes(attributionIndex)) {
    for (let i = 0; i < attributionIndex; i++) need.add(i)
  }
  return [...need].sort((a, b) => a - b)
}

/** The attribution leaf's index for a job's assets (undefined: none). */
export function attributionIndexOf(assets: JobAssets): number | undefined {
  return assets.spec.kind === 'training' ? attributionLeafIndex(assets.spec, assets.inputs) : undefined
}
export type { AwardedJob } from '../state/job-detail.js'
