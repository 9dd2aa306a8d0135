export * from './capabilities.js'
export * from './compare.js'
export * from './errors.js'
export * from './executor.js'
export * from './formats/index.js'
export { type DecoderLayout, decoderLayout } from './generate/layout.js'
export { generationLeaves, promptsOf, sequenceFault, tieToleranceOf } from './generate/run.js'
export * from './generate/sampling.js'
export { DEFAULT_TIE_TOLERANCE, type GenerateFields } from './generate/spec.js'
export * from './hashing.js'
export {
  concatAxis,
  type InputAxes,
  type InputAxis,
  outputAxes,
  outputAxesOfModel,
  resolveInputAxes,
  sliceAxis,
  validateInputAxes,
} from './input-axes.js'
export * from './metrics.js'
export * from './options.js'
export { chunkOf, sequenceLeafHash, sequenceStateHash } from './sequence.js'
export * from './spec.js'
export * from './tensor.js'
export {
  buildTrainingStepModel,
  paramNames,
  stateSuffixes,
  type TrainingGraphOptions,
} from './training/graph.js'
export { backboneModel, composeHeadModel, HEAD_FEATURES } from './training/head.js'
export {
  adapterNames,
  buildLoraStepModel,
  denseWeights,
  initialAdapters,
  LORA_FORMAT,
  type LoraTarget,
  loraParams,
  loraTargets,
  mergeLora,
} from './training/lora.js'
export {
  DataOrder,
  datasetOf,
  initialMlp,
  initialState,
  makePlan,
  type TrainingDataset,
  type TrainingPlan,
} from './training/plan.js'
export type { TrainingRunResult } from './training/run.js'
export type { WorkerIsolation } from './worker-handle.js'
export type { ModelSignature, ValueSignature } from './worker-protocol.js'
