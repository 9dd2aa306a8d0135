/**
 * Method `knn-shapley-v1`: each training row's exact Shapley value for the utility of a
 * K-nearest-neighbour classifier (Jia et al., "Efficient task-specific data valuation for
 * nearest neighbor algorithms", VLDB 2019), summed per datanet contributor.
 *
 * For one validation row v with label y_v, sort the N training rows by squared Euclidean
 * distance to v over the features the training-step graph reads (the spec's inputs; for a
 * head job the frozen backbone's features, see compute.ts), ties broken by row index so the
 * order is a total one and any correct sort gives it: a_1 nearest .. a_N farthest. With
 * m_i = 1[label(a_i) = y_v], the utility being the share of the K nearest that vote y_v, the
 * Shapley values are, in closed form,
 *   s(a_N) = m_N / N,
 *   s(a_i) = s(a_{i+1}) + (m_i - m_{i+1}) / K * min(K, i) / i.
 * A row's value is the mean over the validation rows; a contributor's score the sum over its
 * rows in manifest order. Everything is float64 in a fixed order and uses no ONNX Runtime, so
 * the scores are bit-exact on any machine. It needs class labels: a regression (`mse`) spec is
 * refused. The scores are Shapley values, so they add up to the utility of the whole dataset
 * minus that of none: efficient, unlike TracIn's first-order estimate.
 */
import type { HostTensor } from '../executor/tensor.js'
import { typedView } from '../executor/tensor.js'
import { AttributionError } from './errors.js'

/** Neighbours of the utility's classifier; part of the method (v1 fixes it). */
export const KNN_SHAPLEY_K = 5

export interface LabelledRows {
  /** float32 [rows, features] */
  features: HostTensor
  /** int64 [rows] class labels */
  targets: HostTensor
}

interface Rows {
  n: number
  d: number
  x: Float32Array
  y: BigInt64Array
}

function rowsOf(set: LabelledRows, what: string): Rows {
  const { features, targets } = set
  if (features.dtype !== 'float32' || features.dims.length !== 2) {
    throw new AttributionError(
      'ATTRIBUTION_INPUT_INVALID',
      `knn-shapley-v1: the ${what} features must be float32 [rows, features]`,
    )
  }
  if (targets.dtype !== 'int64' || targets.dims.length !== 1 || targets.dims[0] !== features.dims[0]) {
    throw new AttributionError(
      'ATTRIBUTION_INPUT_INVALID',
      `knn-shapley-v1 needs int64 class labels, one per ${what} row`,
      {
        details: 'name a classification loss (softmax-cross-entropy) or use tracin-cp-v1',
      },
    )
  }
  const x = typedView(features) as Float32Array
  for (const v of x) {
    if (!Number.isFinite(v)) {
      throw new AttributionError(
        'ATTRIBUTION_INPUT_INVALID',
        `knn-shapley-v1: the ${what} features hold a non-finite value`,
      )
    }
  }
  return { n: features.dims[0]!, d: features.dims[1]!, x, y: typedView(targets) as BigInt64Array }
}

/** Each training row's Shapley value, averaged over the validation rows (float64, row order). */
export function knnShapleyRowValues(
  training: LabelledRows,
  validation: LabelledRows,
  k: number = KNN_SHAPLEY_K,
): Float64Array {
  const t = rowsOf(training, 'training')
  const v = rowsOf(validation, 'validation')
  if (t.d !== v.d) {
    throw new AttributionError(
      'ATTRIBUTION_INPUT_INVALID',
      `knn-shapley-v1: training rows have ${t.d} features, validation rows ${v.d}`,
    )
  }
  const values = new Float64Array(t.n)
  if (t.n === 0 || v.n === 0) return values
  const dist = new Float64Array(t.n)
  const order = Array.from({ length: t.n }, (_, i) => i)
  const byDistance = (a: number, b: number) => dist[a]! - dist[b]! || a - b
  const perValidation = new Float64Array(t.n)
  for (let j = 0; j < v.n; j++) {
    for (let i = 0; i < t.n; i++) {
      let s = 0
      for (let f = 0; f < t.d; f++) {
        const diff = t.x[i * t.d + f]! - v.x[j * v.d + f]!
        s += diff * diff
      }
      dist[i] = s
    }
    order.sort(byDistance)
    const label = v.y[j]!
    const match = (rank: number) => (t.y[order[rank]!] === label ? 1 : 0)
    // ranks are 0-based here; the recursion's i is rank + 1
    let s = match(t.n - 1) / t.n
    perValidation[order[t.n - 1]!] = s
    for (let r = t.n - 2; r >= 0; r--) {
      const i = r + 1
      s += ((match(r) - match(r + 1)) / k) * (Math.min(k, i) / i)
      perValidation[order[r]!] = s
    }
    for (let i = 0; i < t.n; i++) values[i]! += perValidation[i]!
  }
  for (let i = 0; i < t.n; i++) values[i]! /= v.n
  return values
}

/** Contributor scores: the sum of their rows' values, each contributor's rows in order. */
export function knnShapleyScores(
  training: LabelledRows,
  validation: LabelledRows,
  contributorRowSets: readonly Uint32Array[],
  k: number = KNN_SHAPLEY_K,
): number[] {
  const values = knnShapleyRowValues(training, validation, k)
  return contributorRowSets.map((rows) => {
    let s = 0
    for (const r of rows) s += values[r]!
    return s
  })
}
