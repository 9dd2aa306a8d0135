/**
 * Submitting a job: the inputs are read and checked for the job's kind (inference, zk
 * inference, training), the artifacts go into the local store, and the offer is published.
 */
import { contentHashOf } from '@ocn/protocol'
import { ortVersion } from '../../executor/capabilities.js'
import { encodeSafetensors } from '../../executor/formats/safetensors.js'
import { cpuReplayProfile, type InferenceJobSpec } from '../../executor/spec.js'
import { trainingOfferCounts } from '../../executor/training/plan.js'
import { RoleError } from '../errors.js'
import type { SubmitJobParams, SubmitJobResult } from '../interface.js'
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
    return this.submitInference(params)
  }

  private async submitInference(params: SubmitJobParams): Promise<SubmitJobResult> {
    const { store, executor, options } = this.context
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
