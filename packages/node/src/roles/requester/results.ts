/**
 * Fetching a job's results from its provider once they are committed, and checking them
 * against what the chain holds: each micro-batch of the outputs against its leaf, a training
 * manifest's leaves and attribution result, or a zk proof's output commitment.
 */
import { type GetJobReturnType, getJob } from '@ocn/contracts-client'
import { decodeJobOffer, type JobOffer, MAX_RESULT_LEAVES_PER_REQUEST } from '@ocn/protocol'
import { inferenceProofFromJson } from '@ocn/prover'
import { type Hex, hexToBytes, toHex } from 'viem'
import { decodeSafetensors } from '../../executor/formats/safetensors.js'
import { outputsDataHash } from '../../executor/hashing.js'
import { outputAxesOfModel, sliceAxis } from '../../executor/input-axes.js'
import { parseGenerateJobSpec, parseJobSpec, trainingModelKind } from '../../executor/spec.js'
import type { NamedTensors } from '../../executor/tensor.js'
import { type RequesterJobDetail, type RequesterResults, requesterDetail } from '../../state/job-detail.js'
import { attributionResultProblem } from '../attribution.js'
import {
  generationMismatches,
  MAX_GENERATION_MANIFEST_BYTES,
  parseGenerationManifest,
} from '../generation.js'
import type { TrainingManifest } from '../provider/index.js'
import { parseSequenceManifest, sequenceMismatches } from '../sequence.js'
import { JobRuns, jobMarket, type RequesterContext } from './context.js'
import { type RequesterTokenStreams, streamMismatches } from './token-stream.js'

/** What the provider served for a job: its output file and the data hash of every leaf. */
interface ServedResult {
  outputHash: Hex
  dataHashes: Hex[]
}

export class RequesterResultFetcher {
  private readonly runs = new JobRuns()

  constructor(
    private readonly context: RequesterContext,
    private readonly streams?: RequesterTokenStreams,
  ) {}

  /** Fetches the job's results unless a fetch is already under way; a failure is retried later. */
  start(jobId: string): void {
    this.runs.start(
      jobId,
      () => this.fetch(jobId),
      (err) => this.context.log.warn({ jobId, err }, 'fetching results failed; will retry'),
    )
  }

  inProgress(): Promise<void>[] {
    return this.runs.inProgress()
  }

  /** Gets every leaf and the outputs from the provider and checks each micro-batch against its leaf. */
  private async fetch(jobId: string): Promise<void> {
    const { state, chain, network, directory } = this.context
    const job = await state.requireJob(jobId)
    const detail = requesterDetail(job)
    // the winner's peer from its bid, else from its capability ad
    const providerPeer =
      detail.providerPeerId ?? (job.provider === undefined ? undefined : directory.providerPeer(job.provider))
    if (detail.results !== undefined || providerPeer === undefined) return
    const onChain = await getJob(chain.client, { jobMarket: jobMarket(this.context), jobId: jobId as Hex })
    if (job.verification === 'zk') return this.fetchZk(jobId, providerPeer, onChain)
    const served = await this.fetchLeaves(jobId, providerPeer, onChain)
    if (served === undefined) return
    await network.artifacts.fetch(served.outputHash, [providerPeer])
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    if (offer.terms.kind === 1) return this.checkTraining(jobId, providerPeer, onChain, served, offer)
    const kind = specKindOf(offer)
    if (kind === 'sequence') return this.checkSequence(jobId, providerPeer, offer, onChain, served)
    if (kind === 'generate') return this.checkGeneration(jobId, offer, onChain, served)
    return this.checkInference(jobId, offer, onChain, served)
  }

  /**
   * The chain checked the proof at commit; the provider serves the proof JSON, whose output
   * vector must hash to the output commitment the job settled on.
   */
  private async fetchZk(jobId: string, providerPeer: string, onChain: GetJobReturnType): Promise<void> {
    const { network, store, log } = this.context
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
    await this.save(jobId, { outputHash: proofHash, leafCount: 0, verified, mismatchedLeaves: [], zk: true })
    log.info({ jobId, output: proof.output, verified }, 'zk result fetched')
  }

  /** Every committed leaf, asked for in requests of at most MAX_RESULT_LEAVES_PER_REQUEST. */
  private async fetchLeaves(
    jobId: string,
    providerPeer: string,
    onChain: GetJobReturnType,
  ): Promise<ServedResult | undefined> {
    const { network } = this.context
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
    return outputHash === undefined ? undefined : { outputHash, dataHashes }
  }

  /**
   * Training: the output is a manifest; the trained model is fetched, the checkpoints stay
   * with the provider.
   */
  private async checkTraining(
    jobId: string,
    providerPeer: string,
    onChain: GetJobReturnType,
    served: ServedResult,
    offer: JobOffer,
  ): Promise<void> {
    const { network, store, log } = this.context
    const manifest = JSON.parse(
      new TextDecoder().decode(await store.getBytes(served.outputHash)),
    ) as TrainingManifest
    await network.artifacts.fetch(manifest.model, [providerPeer])
    const mismatchedLeaves = await this.checkAttribution(jobId, providerPeer, manifest, onChain, served)
    const leaves = manifest.checkpoints.length + (manifest.attribution === undefined ? 0 : 1)
    await this.save(jobId, {
      outputHash: served.outputHash,
      modelHash: manifest.model,
      ...((await this.isLoraJob(offer)) ? { modelFile: 'adapters.safetensors' } : {}),
      leafCount: onChain.leafCount,
      verified: leaves === onChain.leafCount && mismatchedLeaves.length === 0,
      mismatchedLeaves,
      ...(manifest.attribution === undefined ? {} : { attributionHash: manifest.attribution }),
    })
    log.info({ jobId, model: manifest.model }, 'trained model fetched')
  }

  /** A LoRA job's result is its adapters file, not an ONNX model (the spec is in the store since submit). */
  private async isLoraJob(offer: JobOffer): Promise<boolean> {
    try {
      const bytes = await this.context.store.getBytes(offer.terms.specHash, { maxBytes: 1024 * 1024 })
      const spec = parseJobSpec(JSON.parse(new TextDecoder().decode(bytes)))
      return spec.kind === 'training' && trainingModelKind(spec.model) === 'lora'
    } catch {
      // only the result's file name depends on it: an unreadable spec keeps the default name
      return false
    }
  }

  /**
   * Attribution: the result JSON must be consistent and hash to the last committed leaf
   * (whether its scores are right is what verifiers replay). Returns the mismatched leaves.
   */
  private async checkAttribution(
    jobId: string,
    providerPeer: string,
    manifest: TrainingManifest,
    onChain: GetJobReturnType,
    served: ServedResult,
  ): Promise<number[]> {
    const { network, store, log } = this.context
    if (manifest.attribution === undefined) return []
    await network.artifacts.fetch(manifest.attribution, [providerPeer])
    const result = JSON.parse(new TextDecoder().decode(await store.getBytes(manifest.attribution)))
    const problem = attributionResultProblem(result)
    const last = onChain.leafCount - 1
    if (problem === undefined && result.resultHash === served.dataHashes[last]) return []
    log.warn({ jobId, problem }, 'the attribution result does not match its committed leaf')
    return [last]
  }

  /** Inference: each micro-batch of the outputs must hash to its committed leaf. */
  private async checkInference(
    jobId: string,
    offer: JobOffer,
    onChain: GetJobReturnType,
    served: ServedResult,
  ): Promise<void> {
    const { store, log } = this.context
    const outputs = decodeSafetensors(await store.getBytes(served.outputHash)).tensors
    const m = offer.terms.microBatchSize
    // each output is cut along its own batch axis, as the provider joined the micro-batches
    const axes = outputAxesOfModel(await store.getBytes(offer.terms.modelHash))
    const mismatchedLeaves: number[] = []
    for (let i = 0; i < onChain.leafCount; i++) {
      const slice: NamedTensors = {}
      for (const [name, t] of Object.entries(outputs)) {
        slice[name] = sliceAxis(t, axes[name] ?? 0, i * m, Math.min(offer.terms.sampleCount, (i + 1) * m))
      }
      if (outputsDataHash(slice) !== served.dataHashes[i]) mismatchedLeaves.push(i)
    }
    await this.save(jobId, {
      outputHash: served.outputHash,
      leafCount: onChain.leafCount,
      verified: mismatchedLeaves.length === 0,
      mismatchedLeaves,
    })
    log.info(
      { jobId, outputHash: served.outputHash, verified: mismatchedLeaves.length === 0 },
      'results fetched',
    )
  }

  /** A sequence job: the manifest's leaves, their state chain and the outputs file against the committed leaves. */
  private async checkSequence(
    jobId: string,
    providerPeer: string,
    offer: JobOffer,
    onChain: GetJobReturnType,
    served: ServedResult,
  ): Promise<void> {
    const { network, store, log } = this.context
    const manifest = parseSequenceManifest(await store.getBytes(served.outputHash))
    await network.artifacts.fetch(manifest.outputs, [providerPeer])
    const outputs = decodeSafetensors(await store.getBytes(manifest.outputs)).tensors
    const axes = outputAxesOfModel(await store.getBytes(offer.terms.modelHash))
    const mismatchedLeaves = sequenceMismatches(manifest, served.dataHashes, outputs, axes)
    await this.save(jobId, {
      outputHash: manifest.outputs,
      leafCount: onChain.leafCount,
      verified: mismatchedLeaves.length === 0 && served.dataHashes.length === onChain.leafCount,
      mismatchedLeaves,
    })
    log.info(
      { jobId, outputHash: manifest.outputs, verified: mismatchedLeaves.length === 0 },
      'sequence results fetched',
    )
  }

  /**
   * A generate job: the sequences must give every committed leaf; the tokens are kept on the
   * job record (what `ocn job submit` prints and `ocn job results` shows).
   */
  private async checkGeneration(
    jobId: string,
    offer: JobOffer,
    onChain: GetJobReturnType,
    served: ServedResult,
  ): Promise<void> {
    const { store, log } = this.context
    // the spec is in the store since submit (the offer carries it inline too)
    const specBytes = await store.getBytes(offer.terms.specHash, { maxBytes: 1024 * 1024 })
    const spec = parseGenerateJobSpec(JSON.parse(new TextDecoder().decode(specBytes)))
    const manifest = parseGenerationManifest(
      await store.getBytes(served.outputHash, { maxBytes: MAX_GENERATION_MANIFEST_BYTES }),
    )
    const mismatchedLeaves = generationMismatches(manifest, spec.maxNewTokens, served.dataHashes)
    const verified = mismatchedLeaves.length === 0 && served.dataHashes.length === onChain.leafCount
    const tokens = manifest.sequences.map((s) => s.tokens)
    // the streamed preview ends here; the committed tokens are the authority over it
    const streamed =
      (await this.streams?.finish(jobId)) ??
      requesterDetail(await this.context.state.requireJob(jobId)).streamed
    const differ = streamed === undefined ? undefined : streamMismatches(streamed, tokens)
    // the streamed tokens are saved with the results, so the record has them whatever the
    // throttled writes of the stream managed before
    await this.save(
      jobId,
      {
        outputHash: served.outputHash,
        leafCount: onChain.leafCount,
        verified,
        mismatchedLeaves,
        tokens,
        ...(differ === undefined ? {} : { streamMismatches: differ }),
      },
      streamed === undefined ? {} : { streamed },
    )
    if (differ !== undefined && differ.length > 0)
      log.warn({ jobId, prompts: differ }, 'streamed tokens differ from the committed ones')
    log.info({ jobId, prompts: manifest.sequences.length, verified }, 'generated tokens fetched')
  }

  /** Records the results on the job as it is now (it may have moved on during the fetch). */
  private async save(
    jobId: string,
    results: RequesterResults,
    also: Pick<RequesterJobDetail, 'streamed'> = {},
  ): Promise<void> {
    const { state } = this.context
    const fresh = await state.requireJob(jobId)
    await state.updateJob(jobId, { detail: { ...requesterDetail(fresh), ...also, results } })
  }
}

/**
 * The spec kind of an inference-kind offer: a sequence job's leaves are chunks and a generate
 * job's are generated positions, not micro-batches.
 */
function specKindOf(offer: JobOffer): unknown {
  if (offer.spec === undefined) return undefined
  try {
    return (JSON.parse(new TextDecoder().decode(offer.spec)) as { kind?: unknown }).kind
  } catch {
    return undefined
  }
}
