/**
 * Proof of Attribution inside the job lifecycle. A training spec that names `attribution`
 * commits one more leaf after its checkpoints: the AttributionResult's resultHash. Its index
 * is the checkpoint count, which everyone derives from the spec and the dataset, so a
 * provider cannot move it. A verifier samples it like any segment and replays it by
 * recomputing the attribution (in the attributor's child process) from the provider's
 * checkpoints, each checked against its proven leaf; a forged result is a different leaf,
 * challenged and slashed like a faked checkpoint.
 */
import {
  ATTRIBUTION_WEIGHT_TOTAL,
  attributionWeightsTree,
  contentHashOf,
  type DatanetManifest,
  MAX_RESULT_LEAVES_PER_REQUEST,
  parseDatanetManifest,
} from '@ocn/protocol'
import type { Hex } from 'viem'
// not attribution/index.js: compute.js loads ONNX Runtime, which only the attribution process needs
import { type Attributor, createAttributor } from '../attribution/attributor.js'
import type { AttributionRequest } from '../attribution/compute.js'
import { type AttributionResult, attributionResultHash } from '../attribution/result.js'
import type { TrainingJobSpec } from '../executor/spec.js'
import type { NamedTensors } from '../executor/tensor.js'
import { checkpointStepsFor } from '../executor/training/plan.js'
import { RoleError } from './errors.js'

/** The name the requester serves the committed attribution result under. */
export const ATTRIBUTION_RESULT_FILE = 'attribution.json'

let sharedAttributor: Attributor | undefined

/** One attributor per process (its worker beside this build), shared by every node in it. */
export function processAttributor(): Attributor {
  sharedAttributor ??= createAttributor()
  return sharedAttributor
}

/**
 * Where a job's attribution leaf sits: after the last checkpoint, so at the number of
 * checkpoints. Undefined when the spec names no attribution.
 */
export function attributionLeafIndex(spec: TrainingJobSpec, inputs: NamedTensors): number | undefined {
  if (spec.attribution === undefined) return undefined
  const rows = inputs[spec.data?.features ?? 'x']?.dims[0]
  if (rows === undefined || rows < 1) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the dataset has no training features to attribute')
  }
  return checkpointStepsFor(spec, rows).length
}

/**
 * The dataset side of an attribution job: the validation tensors the spec names exist, the
 * manifest covers exactly the training rows, and every leaf fits one result request (a
 * verifier asks for all checkpoints at once when it replays the attribution leaf). The
 * requester checks this before offering, a provider before bidding.
 */
export function checkAttributionDataset(
  spec: TrainingJobSpec,
  inputs: NamedTensors,
  manifest: DatanetManifest,
): void {
  const attribution = spec.attribution
  if (attribution === undefined) return
  for (const name of [attribution.validation.features, attribution.validation.targets]) {
    if (inputs[name] === undefined) {
      throw new RoleError('ROLE_INPUT_MISMATCH', `the dataset lacks the validation tensor "${name}"`, {
        details: `found ${Object.keys(inputs).join(', ')}`,
      })
    }
  }
  const rows = inputs[spec.data?.features ?? 'x']?.dims[0] ?? 0
  if (manifest.rows !== rows) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the datanet manifest does not cover the training rows', {
      details: `manifest rows ${manifest.rows}, training rows ${rows}`,
    })
  }
  const leaves = (attributionLeafIndex(spec, inputs) ?? 0) + 1
  if (leaves > MAX_RESULT_LEAVES_PER_REQUEST) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'too many checkpoints for an attribution job', {
      details: `${leaves} leaves; at most ${MAX_RESULT_LEAVES_PER_REQUEST} (raise checkpointInterval)`,
    })
  }
}

/**
 * Reads a datanet manifest artifact and checks it belongs to this job: the hash the spec
 * names, and the dataset file the job trains on (`datasetId` = the job's inputHash).
 */
export function parseJobDatanet(bytes: Uint8Array, spec: TrainingJobSpec, inputHash: Hex): DatanetManifest {
  const named = spec.attribution?.manifest
  if (named === undefined || contentHashOf(bytes) !== named.toLowerCase()) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the datanet manifest is not the one the spec names', {
      details: `spec names ${named}, the file hashes to ${contentHashOf(bytes)}`,
    })
  }
  let manifest: DatanetManifest
  try {
    manifest = parseDatanetManifest(JSON.parse(new TextDecoder().decode(bytes)))
  } catch (cause) {
    throw new RoleError('ROLE_INVALID_PARAMS', 'the datanet manifest is not valid', {
      cause,
      details: (cause as Error).message,
    })
  }
  if (manifest.datasetId.toLowerCase() !== inputHash.toLowerCase()) {
    throw new RoleError('ROLE_INPUT_MISMATCH', 'the datanet manifest describes another dataset file', {
      details: `manifest datasetId ${manifest.datasetId}, the job's dataset file ${inputHash}`,
    })
  }
  return manifest
}

/**
 * The attributor's request for a job: training tensors from the dataset file, the validation
 * tensors it names renamed to the training names (the gradient graph's layout).
 */
export function attributionRequestFor(params: {
  spec: TrainingJobSpec
  manifest: DatanetManifest
  inputs: NamedTensors
  model: Uint8Array
  checkpoints: Uint8Array[]
  checkpointHashes: Hex[]
}): AttributionRequest {
  const { spec, manifest, inputs } = params
  const attribution = spec.attribution
  if (attribution === undefined) throw new RoleError('ROLE_INVALID_PARAMS', 'the spec names no attribution')
  const fname = spec.data?.features ?? 'x'
  const tname = spec.data?.targets ?? 'y'
  const pick = (name: string) => {
    const t = inputs[name]
    if (t === undefined) {
      throw new RoleError('ROLE_INPUT_MISMATCH', `the dataset file lacks the tensor "${name}"`, {
        details: `it has ${Object.keys(inputs).join(', ')}`,
      })
    }
    return t
  }
  return {
    spec,
    method: { method: attribution.method },
    manifest,
    dataset: { [fname]: pick(fname), [tname]: pick(tname) },
    validation: {
      [fname]: pick(attribution.validation.features),
      [tname]: pick(attribution.validation.targets),
    },
    checkpoints: params.checkpoints,
    checkpointHashes: params.checkpointHashes,
    ...('baseModel' in spec.model ? { baseModel: params.model } : {}),
  }
}

/**
 * Checks a served attribution result on its own (no recomputation): the weights sum to
 * 10,000, the root is over those weights and the hash over everything. Returns the problem,
 * or undefined when it is consistent. A verifier's replay is what checks the scores.
 */
export function attributionResultProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const r = value as AttributionResult
  if (!Array.isArray(r.weights) || !Array.isArray(r.scores) || !Array.isArray(r.checkpointHashes))
    return 'missing weights, scores or checkpoint hashes'
  if (
    r.weights.reduce((sum, w) => sum + (Number.isInteger(w.weight) ? w.weight : Number.NaN), 0) !==
    ATTRIBUTION_WEIGHT_TOTAL
  )
    return `weights do not sum to ${ATTRIBUTION_WEIGHT_TOTAL}`
  try {
    if (attributionWeightsTree(r.weights).root !== r.weightsRoot)
      return 'weightsRoot is not the root of the weights'
    const { resultHash, ...body } = r
    if (attributionResultHash(body) !== resultHash) return 'resultHash does not hash the result'
  } catch (err) {
    return `malformed: ${(err as Error).message}`
  }
  return undefined
}
