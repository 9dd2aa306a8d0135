/**
 * Running an awarded job: fetch its artifacts, execute the inference or the training (and the
 * attribution a training job names), store what the requester and verifiers will fetch, and
 * hand the leaves to commit.ts. Each result passes the fault plan's seam for its kind before
 * it is committed (an honest plan hands it back unchanged).
 */
import { getJob } from '@ocn/contracts-client'
import { decodeJobOffer, MerkleTree, type TokenRun } from '@ocn/protocol'
import { type Hex, hexToBytes } from 'viem'
import { awaitIntent, intentOutcome } from '../../chain/intents.js'
import { encodeSafetensors } from '../../executor/formats/safetensors.js'
import type {
  GenerateJobSpec,
  InferenceJobSpec,
  SequenceJobSpec,
  TrainingJobSpec,
} from '../../executor/spec.js'
import { packTokenBatches } from '../../p2p/token-stream.js'
import { providerDetail } from '../../state/job-detail.js'
import type { JobRecord } from '../../state/records.js'
import { attributionRequestFor } from '../attribution.js'
import { RoleError } from '../errors.js'
import { generationLeafCount, storeGenerationResult, tokenPusher, tokenStream } from '../generation.js'
import { storeSequenceResult } from '../sequence.js'
import { type JobAssets, loadJobAssets } from '../shared.js'
import {
  type ComputedResult,
  commitComputedResult,
  persistedResult,
  proveAndCommitZkJob,
  sendCommit,
} from './commit.js'
import type { ProviderContext } from './context.js'
import type { FaultContext, ProviderFaultPlan } from './faults.js'

/** How long a restarted provider waits for a commit it sent before the restart to be mined. */
const PENDING_COMMIT_WAIT_MS = 60_000
/** How often a generate job's streamed tokens are written to its record (each is a durable write). */
const TOKEN_PROGRESS_MS = 250

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

export interface JobRunnerDeps {
  faults: ProviderFaultPlan
  /** brings a job the chain no longer has awarded in line with it (reconcile.ts) */
  reconcile(job: JobRecord): Promise<void>
  /** after each commit: verifiers look the provider's peer up from its ads exactly then */
  committed(): void
}

/** The jobs this provider is executing, one run each. */
export class JobRunner {
  private readonly running = new Map<string, Promise<void>>()

  constructor(
    private readonly ctx: ProviderContext,
    private readonly deps: JobRunnerDeps,
  ) {}

  isRunning(jobId: string): boolean {
    return this.running.has(jobId)
  }

  /** Starts (or joins) the execution of an awarded job. */
  execute(jobId: string): void {
    if (this.running.has(jobId)) return
    const run = this.runJob(jobId as Hex)
      .catch((err: unknown) => this.ctx.log.error({ jobId, err }, 'job execution failed; will retry'))
      .finally(() => this.running.delete(jobId))
    this.running.set(jobId, run)
  }

  /** Resolves once every run has ended (shutdown). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running.values()])
  }

  private async runJob(jobId: Hex): Promise<void> {
    const { chain, state, store } = this.ctx.components
    let job = await state.requireJob(jobId)
    const onChain = await getJob(chain.client, { jobMarket: chain.deployment.addresses.jobMarket, jobId })
    if (onChain.status !== 'awarded') {
      await this.deps.reconcile(job)
      return
    }
    if (job.state === 'awarded') job = await state.transitionJob(jobId, 'executing')
    if (job.state !== 'executing') return
    if (await this.resumeCommit(job)) return
    const detail = providerDetail(job)
    const offer = decodeJobOffer(hexToBytes(detail.offer))
    if (offer.spec !== undefined) await store.putBytes(offer.spec)
    if (offer.terms.verification === 1) {
      await proveAndCommitZkJob(this.ctx, jobId, offer)
      return
    }
    const assets = await loadJobAssets(this.ctx.components, offer.terms, [detail.requesterPeerId], { jobId })
    const started = Date.now()
    const at: FaultContext = { jobId, log: this.ctx.log }
    const { spec } = assets
    const computed =
      spec.kind === 'training'
        ? await this.runTraining(at, { ...assets, spec }, started)
        : spec.kind === 'sequence'
          ? await this.runSequence({ ...assets, spec }, started)
          : spec.kind === 'generate'
            ? await this.runGeneration(at, { ...assets, spec }, started)
            : await this.runInference(at, { ...assets, spec }, started)
    // the record as it is now: a generate job wrote its streamed tokens to it while running
    await commitComputedResult(this.ctx, await state.requireJob(jobId), computed, this.deps.faults)
    this.deps.committed()
  }

  /**
   * A result computed before a restart (its leaves and output on the record and in the store)
   * is committed as it is, not computed again: a commit still pending is waited for, one that
   * never landed is sent again. False when there is no such result and the job must run.
   */
  private async resumeCommit(job: JobRecord): Promise<boolean> {
    const { chain, state, store } = this.ctx.components
    const result = persistedResult(job)
    if (job.verification === 'zk' || result === undefined || !(await store.has(result.outputHash)))
      return false
    const intent = job.intent
    if (intent !== undefined && (await intentOutcome(chain.client, intent)) === 'pending') {
      this.ctx.log.info(
        { jobId: job.id, txHash: intent.txHash },
        'waiting for the commit sent before a restart',
      )
      await awaitIntent(chain.client, intent, PENDING_COMMIT_WAIT_MS)
      await this.deps.reconcile(await state.requireJob(job.id))
      return true
    }
    await sendCommit(this.ctx, job, this.deps.faults, {
      note: 'result persisted before a restart, committed',
    })
    this.deps.committed()
    return true
  }

  private async runInference(
    at: FaultContext,
    assets: JobAssets & { spec: InferenceJobSpec },
    started: number,
  ): Promise<ComputedResult> {
    const { executor, store } = this.ctx.components
    const progress = this.ctx.components.progress
    const result = await executor.runInference(
      { spec: assets.spec, model: assets.model, inputs: assets.inputs },
      {
        keepOutputs: true,
        onMicroBatch: (done, total) =>
          progress?.({
            jobId: at.jobId,
            stage: 'execution',
            unit: 'micro-batches',
            done,
            total,
            ...(done === total ? { finished: true } : {}),
          }),
      },
    )
    if (result.outputs === undefined) {
      throw new RoleError('ROLE_INPUT_MISMATCH', 'the executor kept no outputs of the inference job')
    }
    const { outputs, dataHashes, tampered } = this.deps.faults.tamperInference(at, {
      outputs: result.outputs,
      dataHashes: result.dataHashes,
      samples: result.samples,
      microBatchSize: assets.spec.profile.microBatchSize,
    })
    const put = await store.putBytes(
      encodeSafetensors(outputs, {
        root: MerkleTree.fromDataHashes(dataHashes).root,
        modelHash: result.modelHash,
      }),
    )
    return { leaves: dataHashes, outputHash: put.hash, tampered, started }
  }

  /** A sequence job: one leaf per chunk; the incoming states are stored for verifiers (roles/sequence.ts). */
  private async runSequence(
    assets: JobAssets & { spec: SequenceJobSpec },
    started: number,
  ): Promise<ComputedResult> {
    const { executor, store } = this.ctx.components
    const result = await executor.runSequence({
      spec: assets.spec,
      model: assets.model,
      inputs: assets.inputs,
    })
    const outputHash = await storeSequenceResult(store, result)
    return { leaves: result.dataHashes, outputHash, tampered: [], started }
  }

  /**
   * A generate job: one leaf per generated position. Tokens are written to the job record as
   * they are picked (detail.generated, throttled), so the API's event stream carries them, and
   * pushed to the requester's peer (`/ocn/tokens/1.0.0`): the commit waits until the requester
   * took all of them (tokenPusher's close, bounded by its flush timeout), so a job shorter
   * than the push interval streams its tokens before its results exist too.
   */
  private async runGeneration(
    at: FaultContext,
    assets: JobAssets & { spec: GenerateJobSpec },
    started: number,
  ): Promise<ComputedResult> {
    const { executor, store, state } = this.ctx.components
    const prompts = generationLeafCount(assets.spec, assets.inputs) / assets.spec.maxNewTokens
    const stream = tokenStream(prompts, TOKEN_PROGRESS_MS, async (generated) => {
      const job = await state.requireJob(at.jobId)
      await state.updateJob(at.jobId, { detail: { ...providerDetail(job), generated } })
    })
    const push = tokenPusher((runs) => this.pushTokens(at.jobId, runs))
    const progress = this.ctx.components.progress
    const total = prompts * assets.spec.maxNewTokens
    let tokens = 0
    const result = await executor
      .runGeneration(
        { spec: assets.spec, model: assets.model, inputs: assets.inputs },
        {
          onToken: (event) => {
            stream.onToken(event)
            push.onToken(event)
            progress?.({ jobId: at.jobId, stage: 'execution', unit: 'tokens', done: ++tokens, total })
          },
        },
      )
      .finally(() => push.close())
    progress?.({ jobId: at.jobId, stage: 'execution', unit: 'tokens', done: tokens, total, finished: true })
    await stream.flush()
    const computed = {
      sequences: result.sequences,
      dataHashes: result.dataHashes,
      maxNewTokens: assets.spec.maxNewTokens,
    }
    const { sequences, dataHashes, tampered } = this.deps.faults.tamperGeneration?.(at, computed) ?? {
      ...computed,
      tampered: [],
    }
    const outputHash = await storeGenerationResult(store, sequences)
    return { leaves: dataHashes, outputHash, tampered, started }
  }

  /** One push of streamed tokens to the job's requester; a failure is logged, never fatal. */
  private async pushTokens(jobId: string, runs: TokenRun[]): Promise<void> {
    const { state, network } = this.ctx.components
    const peer = providerDetail(await state.requireJob(jobId)).requesterPeerId
    try {
      for (const batch of packTokenBatches(jobId as Hex, runs)) await network.tokens.sendTokens(peer, batch)
    } catch (err) {
      this.ctx.log.debug({ jobId, err }, 'pushing generated tokens to the requester failed')
      throw err
    }
  }

  private async runTraining(
    at: FaultContext,
    assets: JobAssets & { spec: TrainingJobSpec },
    started: number,
  ): Promise<ComputedResult> {
    const { executor, store } = this.ctx.components
    const trained = await executor.runTraining(
      {
        spec: assets.spec,
        dataset: assets.inputs,
        ...('baseModel' in assets.spec.model ? { model: assets.model } : {}),
      },
      {
        keepCheckpoints: true,
        onProgress: ({ step }) =>
          this.ctx.components.progress?.({ jobId: at.jobId, stage: 'execution', unit: 'steps', done: step }),
      },
    )
    this.ctx.components.progress?.({
      jobId: at.jobId,
      stage: 'execution',
      unit: 'steps',
      done: trained.checkpointSteps.at(-1) ?? 0,
      finished: true,
    })
    const { states, checkpointHashes, tampered } = this.deps.faults.tamperTraining(at, {
      states: trained.checkpoints,
      checkpointHashes: trained.checkpointHashes,
    })
    // verifiers replay segment i from checkpoint i-1: every checkpoint state is served
    const checkpoints: Hex[] = []
    for (const state of states) checkpoints.push((await store.putBytes(state)).hash)
    const model = await store.putBytes(trained.model)
    const leaves = [...checkpointHashes]
    const attribution = await this.runAttribution(at, assets, states, checkpointHashes)
    if (attribution !== undefined) leaves.push(attribution.resultHash)
    const manifest: TrainingManifest = {
      kind: 'training',
      model: model.hash,
      checkpoints,
      checkpointSteps: trained.checkpointSteps,
      lossCurve: trained.lossCurve,
      ...(attribution === undefined ? {} : { attribution: attribution.file }),
    }
    const put = await store.putBytes(new TextEncoder().encode(JSON.stringify(manifest)))
    return { leaves, outputHash: put.hash, tampered, started }
  }

  /**
   * The attribution a training job names, over the checkpoints as committed (so the result
   * and the leaves agree): its stored file and its leaf. Undefined when the job names none.
   */
  private async runAttribution(
    at: FaultContext,
    assets: JobAssets & { spec: TrainingJobSpec },
    states: Uint8Array[],
    checkpointHashes: Hex[],
  ): Promise<{ file: Hex; resultHash: Hex } | undefined> {
    if (assets.spec.attribution === undefined || assets.datanet === undefined) return undefined
    const computed = await this.ctx.components.attributor.compute(
      attributionRequestFor({
        spec: assets.spec,
        manifest: assets.datanet,
        inputs: assets.inputs,
        model: assets.model,
        checkpoints: states,
        checkpointHashes,
      }),
    )
    const result = this.deps.faults.tamperAttribution(at, computed)
    const file = (await this.ctx.components.store.putBytes(new TextEncoder().encode(JSON.stringify(result))))
      .hash
    this.ctx.log.info(
      { jobId: at.jobId, weights: result.weights.map((w) => w.weight) },
      'attribution computed',
    )
    return { file, resultHash: result.resultHash }
  }
}
