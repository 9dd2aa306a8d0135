/**
 * The influence computation itself (methods `tracin-cp-v1` and `knn-shapley-v1`, see
 * method.ts) for every model form a training job can take: the job's TrainingProgram
 * (executor/training/program.ts) says which parameters are trained (an MLP's weights, a head's,
 * LoRA adapters) and which rows its step graph is fed (a head's: the frozen backbone's
 * features), so attribution differentiates exactly what training did. Loads onnxruntime-node
 * and blocks while gradients run: only the attribution process imports it.
 */
import {
  contributorRows,
  type DatanetManifest,
  datanetManifestHash,
  parseDatanetManifest,
} from '@ocn/protocol'
import { encodeOnnxModel } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import type { Hex } from 'viem'
import { decodeSafetensors } from '../executor/formats/safetensors.js'
import { checkpointHash, hashTensors } from '../executor/hashing.js'
import { createSession } from '../executor/session-options.js'
import type { TrainingJobSpec } from '../executor/spec.js'
import { gatherRows, type NamedTensors } from '../executor/tensor.js'
import { ADAM_STEP_FEED, FEATURES_FEED, stateSuffixes, TARGETS_FEED } from '../executor/training/graph.js'
import { datasetOf, stepOf, type TrainingDataset, type TrainingPlan } from '../executor/training/plan.js'
import type { TrainingProgram } from '../executor/training/program.js'
import { toOrtTensor, trainingProgram } from '../executor/training/run.js'
import { AttributionError } from './errors.js'
import { knnShapleyScores } from './knn-shapley.js'
import { type AttributionMethodSpec, CHUNK_ROWS, parseAttributionMethod } from './method.js'
import { type AttributionResult, buildAttributionResult } from './result.js'

export const VALIDATION_HASH_DOMAIN = 'ocn/attribution/validation/v1'

export interface AttributionRequest {
  /** the training job's spec (model form, loss, optimizer, replay profile, checkpoint interval) */
  spec: TrainingJobSpec
  /** the attribution method the job names */
  method: AttributionMethodSpec
  /** lineage manifest of the training dataset (validated again here) */
  manifest: DatanetManifest
  /** the training dataset: tensors named as the spec's `data` says */
  dataset: NamedTensors
  /** held-out validation set, same tensor names and layout */
  validation: NamedTensors
  /** every checkpoint of the training run, as the safetensors files the provider published */
  checkpoints: Uint8Array[]
  /** when given, checkpoint i must hash to checkpointHashes[i] (the committed leaves) */
  checkpointHashes?: Hex[]
  /** the base model of a fine-tuning job (whole-MLP, head or LoRA) */
  baseModel?: Uint8Array
}

function bad(what: string, details?: string): AttributionError {
  return new AttributionError(
    'ATTRIBUTION_INPUT_INVALID',
    `attribution: ${what}`,
    details === undefined ? {} : { details },
  )
}

/** Runs the whole computation and returns the committed result. */
export async function computeAttributionResult(req: AttributionRequest): Promise<AttributionResult> {
  const method = parseAttributionMethod(req.method)
  const manifest = parseDatanetManifest(req.manifest)
  const planned = await planAttribution(req, manifest)
  const contributorRowSets = manifest.contributors.map(contributorRows)
  const { checkpointHashes, scores } =
    method.method === 'knn-shapley-v1'
      ? knnShapleyRun(req, planned, contributorRowSets)
      : await tracinRun(req, planned, contributorRowSets)
  return buildAttributionResult({
    method: method.method,
    manifest,
    manifestHash: datanetManifestHash(manifest),
    // the validation rows as the request gives them (a head's backbone features derive from them)
    validationHash: hashTensors(VALIDATION_HASH_DOMAIN, {
      features: planned.validationInput.features,
      targets: planned.validationInput.targets,
    }),
    checkpointHashes,
    scores,
  })
}

type PlannedAttribution = Awaited<ReturnType<typeof planAttribution>>
interface MethodRun {
  checkpointHashes: Hex[]
  scores: number[]
}

/**
 * `knn-shapley-v1`: every checkpoint checked against its commitment, then the closed form
 * over the rows the step graph is fed (a head's: the backbone's features, its embedding).
 */
function knnShapleyRun(
  req: AttributionRequest,
  { program, names, validation }: PlannedAttribution,
  contributorRowSets: Uint32Array[],
): MethodRun {
  const checkpointHashes = req.checkpoints.map((_b, c) => loadCheckpoint(req, c, names, program.plan).hash)
  return { checkpointHashes, scores: knnShapleyScores(program.data, validation, contributorRowSets) }
}

/** `tracin-cp-v1`: gradients of the training-step graph at each checkpoint (see method.ts). */
async function tracinRun(
  req: AttributionRequest,
  { spec, program, names, validation }: PlannedAttribution,
  contributorRowSets: Uint32Array[],
): Promise<MethodRun> {
  const plan = program.plan
  const refused = (details: string, cause: unknown) =>
    new AttributionError('ATTRIBUTION_RUN_FAILED', 'ONNX Runtime refused the gradient graph', {
      details,
      cause,
    })
  const session = await createSession(encodeOnnxModel(program.graph), spec.profile, refused)
  try {
    const gradients: GradientGraph = { session, spec, ...names }
    const validationRows = Uint32Array.from({ length: validation.features.dims[0]! }, (_, i) => i)
    const scores = contributorRowSets.map(() => 0)
    const checkpointHashes: Hex[] = []
    for (let c = 0; c < req.checkpoints.length; c++) {
      const { state, hash } = loadCheckpoint(req, c, names, plan)
      checkpointHashes.push(hash)
      // the final checkpoint starts no segment: it only pins which run this was
      if (c === req.checkpoints.length - 1) break
      const eta = spec.optimizer.learningRate * (plan.checkpointSteps[c + 1]! - plan.checkpointSteps[c]!)
      const gVal = await gradientSum(gradients, state, validation, validationRows)
      for (let i = 0; i < gVal.length; i++) gVal[i]! /= validationRows.length
      for (let k = 0; k < contributorRowSets.length; k++) {
        const g = await gradientSum(gradients, state, program.data, contributorRowSets[k]!)
        scores[k]! += eta * dot(gVal, g)
      }
    }
    return { checkpointHashes, scores }
  } finally {
    await session.release()
  }
}

/**
 * The training run's program (its step graph with `grad.*` outputs), the validation rows as
 * that graph takes them, and the manifest and checkpoint count checked against the plan.
 */
async function planAttribution(req: AttributionRequest, manifest: DatanetManifest) {
  const spec = req.spec
  const program: TrainingProgram = await trainingProgram(spec, datasetOf(spec, req.dataset), req.baseModel, {
    emitGradients: true,
  })
  const validationInput = datasetOf(spec, req.validation)
  // a program over the validation rows: the same shape and label checks as the training data,
  // and a head's validation features through the same frozen backbone, same chunks and profile
  const validation = (await trainingProgram(spec, validationInput, req.baseModel)).data
  const plan = program.plan
  if (manifest.rows !== plan.rows) {
    throw bad(`the manifest covers ${manifest.rows} rows, the dataset has ${plan.rows}`)
  }
  if (req.checkpoints.length !== plan.checkpointSteps.length) {
    throw bad(
      `the training run has ${plan.checkpointSteps.length} checkpoints, ${req.checkpoints.length} were given`,
    )
  }
  const names = { params: program.params.map((p) => p.name), suffixes: stateSuffixes(spec.optimizer) }
  return { spec, program, names, validation, validationInput }
}

/** The gradient graph's session and the feeds it takes beside the data. */
interface GradientGraph {
  session: ort.InferenceSession
  spec: TrainingJobSpec
  params: string[]
  suffixes: string[]
}

/** Checkpoint c decoded and checked: its committed hash, its tensors, its step in the plan. */
function loadCheckpoint(
  req: AttributionRequest,
  c: number,
  { params, suffixes }: Pick<GradientGraph, 'params' | 'suffixes'>,
  plan: TrainingPlan,
): { state: NamedTensors; hash: Hex } {
  let state: NamedTensors
  try {
    state = decodeSafetensors(req.checkpoints[c]!).tensors
  } catch (cause) {
    throw new AttributionError('ATTRIBUTION_INPUT_INVALID', `checkpoint ${c} is not a safetensors file`, {
      cause,
    })
  }
  const hash = checkpointHash(state)
  const committed = req.checkpointHashes?.[c]
  if (committed !== undefined && committed.toLowerCase() !== hash) {
    throw new AttributionError(
      'ATTRIBUTION_CHECKPOINT_MISMATCH',
      `checkpoint ${c} does not match its committed hash`,
      {
        details: `committed ${committed}, the state hashes to ${hash}`,
      },
    )
  }
  for (const p of params) {
    for (const name of [p, ...suffixes.map((s) => `${p}.${s}`)]) {
      if (state[name]?.dtype !== 'float32') throw bad(`checkpoint ${c} lacks float32 ${name}`)
    }
  }
  if (stepOf(state) !== plan.checkpointSteps[c]) {
    throw bad(`checkpoint ${c} is at step ${stepOf(state)}, the plan puts it at ${plan.checkpointSteps[c]}`)
  }
  return { state, hash }
}

/** sum over `rows` of per-sample loss gradients, flattened in parameter order (float64) */
async function gradientSum(
  { session, spec, params, suffixes }: GradientGraph,
  state: NamedTensors,
  set: TrainingDataset,
  rows: Uint32Array,
): Promise<Float64Array> {
  let sum: Float64Array | undefined
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const chunk = rows.subarray(start, Math.min(start + CHUNK_ROWS, rows.length))
    const feeds: Record<string, ort.Tensor> = {
      [FEATURES_FEED]: toOrtTensor(gatherRows(set.features, chunk)),
      [TARGETS_FEED]: toOrtTensor(gatherRows(set.targets, chunk)),
    }
    for (const p of params) {
      feeds[p] = toOrtTensor(state[p]!)
      for (const s of suffixes) feeds[`${p}.${s}`] = toOrtTensor(state[`${p}.${s}`]!)
    }
    if (spec.optimizer.type === 'adam') {
      feeds[ADAM_STEP_FEED] = new ort.Tensor('float32', Float32Array.of(stepOf(state) + 1), [])
    }
    let out: ort.InferenceSession.OnnxValueMapType
    try {
      out = await session.run(
        feeds,
        params.map((p) => `grad.${p}`),
      )
    } catch (cause) {
      throw new AttributionError('ATTRIBUTION_RUN_FAILED', 'the gradient graph failed', {
        details: cause instanceof Error ? cause.message : String(cause),
        cause,
      })
    }
    const parts = params.map((p) => (out[`grad.${p}`] as ort.Tensor).data as Float32Array)
    sum ??= new Float64Array(parts.reduce((n, g) => n + g.length, 0))
    // the graph's loss is a mean over the chunk: times its rows gives the per-sample sum
    let k = 0
    for (const g of parts) for (let i = 0; i < g.length; i++) sum[k++]! += g[i]! * chunk.length
  }
  return sum!
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}
