/**
 * Output comparison under a replay profile: bit-exact (CPU) or within a relative tolerance
 * (GPU). Under a tolerance, floats a (claimed) and b (replayed) match when
 * |a - b| <= tolerance * max(1, |b|), i.e. relative for large values and absolute near zero;
 * NaN matches only NaN; integer and bool tensors must be equal; names, dtypes and shapes
 * must always be equal.
 */
import { float16ToNumber } from '@ocn/prover/onnx'
import type { ReplayProfile } from './spec.js'
import { type NamedTensors, typedView } from './tensor.js'

export interface OutputComparison {
  match: boolean
  /** the first difference found, for the report */
  reason?: string
  /** the largest |a - b| / max(1, |b|) over float elements */
  maxError: number
}

export function compareOutputs(
  claimed: NamedTensors,
  replayed: NamedTensors,
  comparison: ReplayProfile['comparison'],
): OutputComparison {
  const names = Object.keys(replayed).sort()
  const claimedNames = Object.keys(claimed).sort()
  if (names.join('\0') !== claimedNames.join('\0')) {
    return {
      match: false,
      reason: `outputs differ: [${claimedNames}] vs [${names}]`,
      maxError: Number.POSITIVE_INFINITY,
    }
  }
  let maxError = 0
  for (const name of names) {
    const a = claimed[name]!
    const b = replayed[name]!
    if (
      a.dtype !== b.dtype ||
      a.dims.join(',') !== b.dims.join(',') ||
      a.data.byteLength !== b.data.byteLength
    ) {
      return {
        match: false,
        reason: `output ${name} differs in dtype or shape`,
        maxError: Number.POSITIVE_INFINITY,
      }
    }
    const isFloat = a.dtype === 'float32' || a.dtype === 'float64' || a.dtype === 'float16'
    if (comparison === 'bit-exact' || !isFloat) {
      if (!a.data.every((v, i) => v === b.data[i])) {
        return {
          match: false,
          reason: `output ${name} is not bit-identical`,
          maxError: Number.POSITIVE_INFINITY,
        }
      }
      continue
    }
    const va = typedView(a) as Float32Array | Float64Array | Uint16Array
    const vb = typedView(b) as Float32Array | Float64Array | Uint16Array
    const read = a.dtype === 'float16' ? (v: number) => float16ToNumber(v) : (v: number) => v
    for (let i = 0; i < va.length; i++) {
      const x = read(va[i]!)
      const y = read(vb[i]!)
      if (Number.isNaN(x) || Number.isNaN(y)) {
        if (Number.isNaN(x) !== Number.isNaN(y))
          return { match: false, reason: `output ${name}[${i}] NaN`, maxError: Number.POSITIVE_INFINITY }
        continue
      }
      if (x === y) continue
      const err = Math.abs(x - y) / Math.max(1, Math.abs(y))
      if (!(err <= comparison.tolerance)) {
        return {
          match: false,
          reason: `output ${name}[${i}]: ${x} vs ${y}`,
          maxError: Math.max(maxError, err),
        }
      }
      maxError = Math.max(maxError, err)
    }
  }
  return { match: true, maxError }
}
