/**
 * The attribution methods a job spec can name. Two:
 *
 * `tracin-cp-v1` (TracIn over checkpoints): for each training segment s (checkpoint s to
 * s+1, with the weights w_s of checkpoint s) and each contributor c with rows R_c,
 *   score_c = sum_s eta_s * dot(g_val(w_s), sum_{z in R_c} g_z(w_s)),
 *   eta_s = learningRate * (steps in segment s),
 * where g_val is the mean loss gradient over the validation set and g_z a sample's loss
 * gradient, both from the executor's own training-step graph (so "gradient" means exactly what
 * training used): the job's TrainingProgram, whose parameters are an MLP's weights, a head's
 * (its rows the frozen backbone's features) or LoRA adapters. The inner sum is computed in fixed chunks of CHUNK_ROWS rows in manifest
 * order (chunk mean gradient times chunk rows), dot products in float64 in parameter order, so
 * the scores are bit-exact under the job's replay profile. Scores become weights with
 * `scoresToBasisPoints` from @ocn/protocol (negative influence counts as zero).
 *
 * `knn-shapley-v1` (exact Shapley values of a K-nearest-neighbour utility over the rows the
 * step graph is fed: the input features, a head job's backbone features; knn-shapley.ts): no gradients; the checkpoints are still read and checked against
 * their committed hashes, so the result pins the same run and has the same leaf format.
 */
import { type AttributionMethodName, attributionMethods } from '../executor/spec.js'
import { AttributionError } from './errors.js'

// The names are part of the training job spec's vocabulary, so the spec parser owns them.
export { type AttributionMethodName, attributionMethods } from '../executor/spec.js'

export interface AttributionMethodSpec {
  method: AttributionMethodName
}

/** Rows per gradient evaluation; part of the method (it fixes the float summation order). */
export const CHUNK_ROWS = 256

export function parseAttributionMethod(v: unknown): AttributionMethodSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new AttributionError('ATTRIBUTION_INPUT_INVALID', 'attribution: the method spec must be an object')
  }
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (k !== 'method')
      throw new AttributionError('ATTRIBUTION_INPUT_INVALID', `attribution.${k} is not a known field`)
  }
  if (!attributionMethods.includes(o.method as AttributionMethodName)) {
    throw new AttributionError('ATTRIBUTION_INPUT_INVALID', 'attribution.method is unknown', {
      details: `known methods: ${attributionMethods.join(', ')}`,
    })
  }
  return { method: o.method as AttributionMethodName }
}
