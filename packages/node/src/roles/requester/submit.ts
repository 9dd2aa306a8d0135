/**
 * Submitting a job: the inputs are read and checked for the job's kind (inference, zk
 * inference, training), the artifacts go into the local store, and the offer is published.
 */
import { randomBytes } from 'node:crypto'
import { contentHashOf } from '@ocn/protocol'
import { bytesToHex } from 'viem'
import { ortVersion } from '../../executor/capabilities.js'
import { encodeSafetensors } from '../../executor/formats/safetensors.js'
import { decoderLayout } from '../../executor/generate/layout.js'
import { promptsOf } from '../../executor/generate/run.js'
import {
  cpuReplayProfile,
  type GenerateJobSpec,
  type InferenceJobSpec,
  parseGenerateJobSpec,
  type SequenceJobSpec,
} from '../../executor/spec.js'
import type { NamedTensors } from '../../executor/tensor.js'
import { trainingOfferCounts } from '../../executor/training/plan.js'
import { RoleError } from '../errors.js'
import { generationLeafCount } from '../generation.js'
import type { GenerateParams, SubmitJobParams, SubmitJobResult } from '../interface.js'
import { circuitForModel, loadZkCircuits, zkInputCommitment } from '../zk.js'
import type { RequesterContext } from './context.js'
import { checkAttributionJob, checkBalance, inputsFit, readInputs, readTrainingSpec } from './inputs.js'
import type { RequesterOffers } from './offer.js'

export class JobSubmitter {
  constructor(
    private readonly context: RequesterContext,
    private readonly offers: RequesterOffers,
  ) {}

  async submit(params: SubmitJobParams): Promise<SubmitJobResult> {
    if (params.verification === 'zk') return this.submitZk(params)
    if (params.kind === 'training') return this.submitTraining(params)
    if (params.state !== undefined) return this.submitSequence(params)
    if (params.generate !== undefined) return this.submitGeneration(params, params.generate)
    return this.submitInference(params)
  }

  private async submitInference(params: SubmitJobParams): Promise<SubmitJobResult> {
    const { executor, options } = this.context
    const { model, inputs } = await readInputs(params)
    if (
      params.microBatchSize !== undefined &&
      (!Number.isInteger(params.microBatchSize) || params.microBatchSize < 1)
    ) {
      throw new RoleError('ROLE_INVALID_PARAMS', 'microBatchSize must be a positive integer')
    }
    const specWith = (microBatchSize: number): InferenceJobSpec => ({
      kind: 'inference',
      profile: cpuReplayProfile(ortVersion(), microBatchSize),
      ...(params.inputAxes === undefined ? {} : { inputAxes: params.inputAxes }),
    })
    // the executor's own pre-run check (model loads, every input's name, dtype, shape and batch
    // axis fit): a job no provider could run fails here, not after an award. The first pass
    // counts the samples along the declared or inferred batch axes.
    const check = (spec: InferenceJobSpec) =>
      inputsFit(
        () => executor.checkInference({ spec, model, inputs }),
        params.modelPath,
        'the inputs do not match the model',
      )
    const { samples } = await check(specWith(params.microBatchSize ?? 1))
    const microBatchSize = params.microBatchSize ?? Math.max(1, Math.ceil(samples / options.targetLeafCount))
    const spec = specWith(microBatchSize)
    if (microBatchSize !== (params.microBatchSize ?? 1)) await check(spec)
    return this.publishReplayJob(params, model, inputs, spec, { sampleCount: samples, microBatchSize })
  }

  /**
   * A stateful sequence job: one leaf per chunk of each stream. The chain fixes the leaf count
   * from sampleCount / microBatchSize (JobMarket `_leafCountOf`), so the offer carries
   * chunks x streams samples in micro-batches of 1.
   */
  private async submitSequence(params: SubmitJobParams): Promise<SubmitJobResult> {
    const { model, inputs } = await readInputs(params)
    const spec: SequenceJobSpec = {
      kind: 'sequence',
      profile: cpuReplayProfile(ortVersion(), 1),
      state: params.state ?? [],
      ...(params.inputAxes === undefined ? {} : { inputAxes: params.inputAxes }),
    }
    const { leaves } = await inputsFit(
      () => this.context.executor.checkSequence({ spec, model, inputs }),
      params.modelPath,
      'the inputs do not fit the sequence job',
    )
    return this.publishReplayJob(params, model, inputs, spec, { sampleCount: leaves, microBatchSize: 1 })
  }

  /**
   * A generate job: one leaf per generated position, maxNewTokens per prompt whatever the
   * sequence's length, so the offer carries prompts x maxNewTokens samples in micro-batches
   * of 1 (JobMarket `_leafCountOf`). The model must be a decoder in the export layout.
   */
  private async submitGeneration(params: SubmitJobParams, g: GenerateParams): Promise<SubmitJobResult> {
    const { executor } = this.context
    const { model, inputs } = await readInputs(params)
    const profile = cpuReplayProfile(ortVersion(), 1)
    const spec = await inputsFit(
      async () => {
        const parsed = parseGenerateJobSpec({
          kind: 'generate',
          profile,
          maxNewTokens: g.maxNewTokens,
          stopTokens: g.stopTokens ?? [],
          sampling: g.sampling ?? { temperature: 0 },
          seed: g.seed ?? bytesToHex(randomBytes(16)),
          ...(g.tieTolerance === undefined ? {} : { tieTolerance: g.tieTolerance }),
        })
        const layout = decoderLayout(await executor.inspectModel(model, profile))
        promptsOf(inputs, layout.vocab)
        return parsed
      },
      params.modelPath,
      'the inputs do not fit the generate job',
    )
    const leaves = generationLeafCount(spec, inputs)
    return this.publishReplayJob(params, model, inputs, spec, { sampleCount: leaves, microBatchSize: 1 })
  }

  /** Stores a replay-verified inference, sequence or generate job's artifacts and publishes its offer. */
  private async publishReplayJob(
    params: SubmitJobParams,
    model: Uint8Array,
    inputs: NamedTensors,
    spec: InferenceJobSpec | SequenceJobSpec | GenerateJobSpec,
    counts: { sampleCount: number; microBatchSize: number },
  ): Promise<SubmitJobResult> {
    const { store, options } = this.context
    const maxPrice = params.maxPrice ?? options.maxPrice
    await checkBalance(this.context, maxPrice)
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    const inputBytes = encodeSafetensors(inputs)
    const [m, i, s] = [
      await store.putBytes(model),
      await store.putBytes(inputBytes),
      await store.putBytes(specBytes),
    ]
    return this.offers.publish(
      {
        modelHash: m.hash,
        inputHash: i.hash,
        specHash: s.hash,
        kind: 0,
        verification: 0,
        maxPrice,
        minCollateral: maxPrice,
        ...counts,
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
  private async submitZk(params: SubmitJobParams): Promise<SubmitJobResult> {
    const { options, chain, store, log } = this.context
    if (params.kind === 'training') {
      throw new RoleError('ROLE_NOT_SUPPORTED', 'zk verification covers inference only')
    }
    const { model, inputs } = await readInputs(params)
    const modelHash = contentHashOf(model)
    const circuits = loadZkCircuits([options.zkDir], (dir, err) =>
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
    const maxPrice = params.maxPrice ?? options.maxPrice
    await checkBalance(this.context, maxPrice)
    const inputBytes = encodeSafetensors(inputs)
    const [m, i] = [await store.putBytes(model), await store.putBytes(inputBytes)]
    const spec: InferenceJobSpec = {
      kind: 'inference',
      profile: cpuReplayProfile(ortVersion(), 1),
      zkInput: i.hash,
    }
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    const s = await store.putBytes(specBytes)
    return this.offers.publish(
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

  /** A training job: the spec file names the architecture or base model, optimizer, epochs, seed. */
  private async submitTraining(params: SubmitJobParams): Promise<SubmitJobResult> {
    const { options, store, executor } = this.context
    const { spec, datanetBytes } = await readTrainingSpec(params)
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
    checkAttributionJob(spec, inputs, inputBytes, datanetBytes)
    const maxPrice = params.maxPrice ?? options.maxPrice
    await checkBalance(this.context, maxPrice)
    const specBytes = new TextEncoder().encode(JSON.stringify(spec))
    if (datanetBytes !== undefined) await store.putBytes(datanetBytes)
    const m = await store.putBytes(model)
    const i = await store.putBytes(inputBytes)
    const s = await store.putBytes(specBytes)
    return this.offers.publish(
      {
        modelHash: m.hash,
        inputHash: i.hash,
        specHash: s.hash,
        kind: 1,
        verification: 0,
        maxPrice,
        minCollateral: maxPrice,
        // steps and checkpoint interval: the chain derives the checkpoint count from them
        ...trainingOfferCounts(spec, features.dims[0] ?? 0),
      },
      specBytes,
      { modelBytes: model.length, inputBytes: inputBytes.length },
      {},
    )
  }
}
