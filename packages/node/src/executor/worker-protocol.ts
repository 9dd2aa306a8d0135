/** Messages between the executor pool (main thread) and its workers. */
import type { Hex } from 'viem'
import type { SerializedExecutorError } from './errors.js'
import type { CheckedPositions, CheckParams, Decoded, DecodeParams } from './generate/params.js'
import type { InferenceJobSpec, ReplayProfile, TrainingJobSpec } from './spec.js'
import type { NamedTensors, TensorDType } from './tensor.js'
import type { TrainingRunResult } from './training/run.js'

export interface ValueSignature {
  name: string
  /** ONNX Runtime's element type name, e.g. float32, int64 */
  type: string
  /** fixed sizes as numbers, symbolic (dynamic) axes as strings */
  shape: (number | string)[] | undefined
}

export interface ModelSignature {
  inputs: ValueSignature[]
  outputs: ValueSignature[]
}

/** A tensor whose bytes are `length` bytes at `offset` of the file at `path` (input-file.ts). */
export interface FileFeed {
  dtype: TensorDType
  dims: number[]
  path: string
  offset: number
  length: number
}

export interface ModelRef {
  modelHash: Hex
  /** sent only when the worker does not hold the model yet */
  model?: Uint8Array
  profile: ReplayProfile
}

export type WorkerRequest =
  | ({ type: 'load' } & ModelRef)
  | ({
      type: 'infer'
      feeds: NamedTensors
      /** inputs the worker reads from a file the pool wrote (process workers; input-file.ts) */
      fileFeeds?: Record<string, FileFeed>
      outputs: string[] | undefined
      maxTensorElements: number
    } & ModelRef)
  | {
      type: 'train'
      spec: TrainingJobSpec
      dataset: NamedTensors
      baseModel: Uint8Array | undefined
      keepCheckpoints: boolean
    }
  | {
      type: 'train-segment'
      spec: TrainingJobSpec
      dataset: NamedTensors
      baseModel: Uint8Array | undefined
      index: number
      startState: Uint8Array | undefined
      /** the committed hash of the start checkpoint; the worker refuses a state that does not match */
      expectedStartHash: Hex | undefined
    }
  | ({ type: 'generate'; params: DecodeParams } & ModelRef)
  | ({ type: 'generate-check'; params: CheckParams } & ModelRef)

export interface WorkerResults {
  load: ModelSignature
  infer: { outputs: NamedTensors; dataHash: Hex }
  train: TrainingRunResult
  'train-segment': { checkpointHash: Hex }
  generate: Decoded
  'generate-check': CheckedPositions
}

/**
 * A training checkpoint reached, or generated tokens from `position` on with the digests of
 * the logits that chose them (streamed while decoding).
 */
export type WorkerProgress =
  | { checkpoint: number; step: number; loss: number | undefined }
  | { position: number; tokens: number[]; digests: Hex[] }

export type WorkerReply =
  | { id: number; ok: true; result: unknown; loadedModels: Hex[] }
  | { id: number; ok: false; error: SerializedExecutorError; loadedModels: Hex[] }
  | { id: number; progress: WorkerProgress }

export interface WorkerData {
  sessionCacheSize: number
  /** Int32Array cell 0: set to 1 by the pool to stop a training run between steps */
  cancel: SharedArrayBuffer
}

export type { InferenceJobSpec, TensorDType }
