/**
 * What a training job trains, by the kind of its spec.model: the step graph, its trainable
 * parameters at step 0, the data the graph is fed and how a final state becomes the job's
 * result. Pure (no ONNX Runtime): the worker builds programs here after computing a head's
 * features, and the main thread checks jobs with checkTrainingPlan.
 *
 * - architecture / baseModel: every weight and bias of an MLP (graph.ts); result: the MLP
 * - head: a generated MLP over the backbone's features (head.ts); result: backbone + head
 * - lora: adapters on a frozen base MLP (lora.ts); result: the adapters file
 */
import { buildMlpModel, decodeOnnxModel, encodeOnnxModel, type Mlp, type OnnxModel } from '@ocn/prover/onnx'
import { ExecutorError } from '../errors.js'
import { type LoraSpec, type TrainingHeadSpec, type TrainingJobSpec, trainingModelKind } from '../spec.js'
import type { NamedTensors } from '../tensor.js'
import { buildTrainingStepModel, paramNames, paramShape, type StepParam } from './graph.js'
import { type Backbone, backboneModel, composeHeadModel } from './head.js'
import { buildLoraStepModel, encodeAdapters, initialAdapters, loraParams, loraTargets } from './lora.js'
import {
  checkpointStepsFor,
  checkTargets,
  datasetOf,
  generatedLayers,
  initialMlp,
  makePlan,
  mlpParams,
  type TrainingDataset,
  type TrainingPlan,
} from './plan.js'

export interface TrainingProgram {
  plan: TrainingPlan
  /** the rows the step graph is fed (a head's: the backbone's features) */
  data: TrainingDataset
  graph: OnnxModel
  /** trainable parameters in feed order */
  params: StepParam[]
  initialParams: NamedTensors
  /** the job's result from the final state */
  exportResult(state: NamedTensors): Uint8Array
}

/** How a program's step graph is built. */
export interface ProgramOptions {
  /**
   * also output `grad.<param>` for every trainable parameter: attribution (TracIn) reads the
   * per-chunk gradients of exactly the graph training ran, whatever the model form
   */
  emitGradients?: boolean
}

const floats = (state: NamedTensors, name: string) => new Float32Array(state[name]!.data.slice().buffer)

function withWeights(mlp: Mlp, state: NamedTensors): Mlp {
  return {
    ...mlp,
    layers: mlp.layers.map((l, i) => ({
      ...l,
      weight: floats(state, `layer${i}.weight`),
      bias: floats(state, `layer${i}.bias`),
    })),
  }
}

function mlpStepParams(mlp: Mlp): StepParam[] {
  return paramNames(mlp.layers.length).map((name) => ({ name, dims: paramShape(mlp.layers, name) }))
}

function mlpStepGraph(spec: TrainingJobSpec, mlp: Mlp, options: ProgramOptions): OnnxModel {
  return buildTrainingStepModel({
    layers: mlp.layers,
    loss: spec.loss,
    optimizer: spec.optimizer,
    emitGradients: options.emitGradients === true,
  })
}

export function baseModelOf(spec: TrainingJobSpec, baseModel: Uint8Array | undefined): OnnxModel {
  if (!baseModel) throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a fine-tuning job needs its base model')
  try {
    return decodeOnnxModel(baseModel)
  } catch (cause) {
    throw new ExecutorError(
      'EXECUTOR_MODEL_INVALID',
      `the base model of this ${trainingModelKind(spec.model)} job does not decode`,
      {
        details: cause instanceof Error ? cause.message : String(cause),
        cause,
      },
    )
  }
}

/** Architecture jobs and whole-MLP fine-tuning. */
export function mlpProgram(
  spec: TrainingJobSpec,
  data: TrainingDataset,
  baseModel?: Uint8Array,
  options: ProgramOptions = {},
): TrainingProgram {
  const mlp = initialMlp(spec, baseModel)
  const plan = makePlan(spec, mlp, data)
  return {
    plan,
    data,
    graph: mlpStepGraph(spec, mlp, options),
    params: mlpStepParams(mlp),
    initialParams: mlpParams(mlp),
    exportResult(state) {
      const { input, output, softmaxOutput } = plan.exportNames
      return encodeOnnxModel(
        buildMlpModel(
          { ...withWeights(mlp, state), softmaxOutput },
          { inputName: input, outputName: output },
        ),
      )
    },
  }
}

/** The generated head of a job whose backbone gives `featureCount` features. */
export function headMlp(spec: TrainingJobSpec, head: TrainingHeadSpec, featureCount: number): Mlp {
  return {
    layers: generatedLayers(spec.seed, [featureCount, ...head.hiddenLayers, head.outputs], head.activation),
    softmaxOutput: false,
  }
}

/** A head over features the worker computed from `backbone` (dataset order, see head.ts). */
export function headProgram(
  spec: TrainingJobSpec,
  head: TrainingHeadSpec,
  backbone: Backbone,
  data: TrainingDataset,
  options: ProgramOptions = {},
): TrainingProgram {
  const mlp = headMlp(spec, head, data.features.dims[1] ?? 0)
  const plan = makePlan(spec, { ...mlp, input: backbone.input, output: 'output' }, data)
  return {
    plan,
    data,
    graph: mlpStepGraph(spec, mlp, options),
    params: mlpStepParams(mlp),
    initialParams: mlpParams(mlp),
    exportResult: (state) => encodeOnnxModel(composeHeadModel(backbone, withWeights(mlp, state))),
  }
}

export function loraProgram(
  spec: TrainingJobSpec,
  lora: LoraSpec,
  data: TrainingDataset,
  baseModel: Uint8Array | undefined,
  options: ProgramOptions = {},
): TrainingProgram {
  const model = baseModelOf(spec, baseModel)
  const mlp = initialMlp(spec, baseModel)
  const targets = loraTargets(lora, model, mlp)
  const plan = makePlan(spec, mlp, data)
  return {
    plan,
    data,
    graph: buildLoraStepModel({
      mlp,
      targets,
      lora,
      loss: spec.loss,
      optimizer: spec.optimizer,
      emitGradients: options.emitGradients === true,
    }),
    params: loraParams(targets, lora.rank),
    initialParams: initialAdapters(spec.seed, targets, lora.rank),
    exportResult: (state) => encodeAdapters(state, targets, lora),
  }
}

/**
 * The main thread's check of a job before it is handed to a worker: everything that needs
 * no ONNX Runtime (a head's feature width is known only after the backbone ran).
 */
export function checkTrainingPlan(
  spec: TrainingJobSpec,
  dataset: NamedTensors,
  baseModel: Uint8Array | undefined,
): { rows: number; checkpoints: number } {
  const data = datasetOf(spec, dataset)
  const model = spec.model
  if ('head' in model) {
    backboneModel(baseModelOf(spec, baseModel), model.head)
    const rows = data.features.dims[0] ?? 0
    if (data.features.dims.length === 0 || rows === 0) {
      throw new ExecutorError('EXECUTOR_INPUT_MISMATCH', 'training data: the dataset is empty')
    }
    checkTargets(spec, rows, model.head.outputs, data.targets)
    return { rows, checkpoints: checkpointStepsFor(spec, rows).length }
  }
  const plan =
    'lora' in model
      ? loraProgram(spec, model.lora, data, baseModel).plan
      : makePlan(spec, initialMlp(spec, baseModel), data)
  return { rows: plan.rows, checkpoints: plan.checkpointSteps.length }
}
