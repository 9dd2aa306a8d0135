import type { Mlp } from '../onnx/index.js'
import { ZkError } from './errors.js'
import { signedToField } from './field.js'
import { poseidonSponge } from './poseidon.js'

/**
 * Fixed-point quantization of a dense ReLU MLP.
 *
 * With scale s (`scaleBits`): inputs, weights and every activation are integers at scale 2^s
 * (x_q = round(x * 2^s)), biases are at scale 2^(2s) (b_q = round(b * 2^(2s))) so they add straight
 * onto the products, and after each layer the accumulator (scale 2^(2s)) is brought back to scale 2^s
 * by a floor division by 2^s (an arithmetic right shift). Every input and activation must fit in
 * `valueBits` signed bits; the circuit range-checks exactly that, so an out-of-range value cannot be
 * proven rather than silently wrapping around the field.
 */
export interface QuantizedLayer {
  readonly inFeatures: number
  readonly outFeatures: number
  /** `weights[o][i]`, scale 2^s. */
  readonly weights: readonly (readonly bigint[])[]
  /** `bias[o]`, scale 2^(2s). */
  readonly bias: readonly bigint[]
  readonly relu: boolean
}

export interface QuantizedMlp {
  readonly scaleBits: number
  readonly valueBits: number
  readonly inputSize: number
  readonly outputSize: number
  readonly layers: readonly QuantizedLayer[]
}

export interface QuantizeOptions {
  /** Fractional bits s: values are scaled by 2^s. */
  scaleBits: number
  /** Signed bit width of inputs, weights and activations (the circuit range checks). */
  valueBits: number
}

/** Round half up, the same on every platform (Math.round differs from banker's rounding elsewhere). */
function roundToInteger(value: number): bigint {
  return BigInt(Math.floor(value + 0.5))
}

function checkBits(options: QuantizeOptions): void {
  const { scaleBits, valueBits } = options
  if (!Number.isInteger(scaleBits) || scaleBits < 1 || scaleBits > 32) {
    throw new ZkError('ZK_UNSUPPORTED_MODEL', `scaleBits must be an integer in [1, 32], got ${scaleBits}`)
  }
  if (!Number.isInteger(valueBits) || valueBits < scaleBits + 2 || valueBits > 64) {
    throw new ZkError(
      'ZK_UNSUPPORTED_MODEL',
      `valueBits must be an integer in [scaleBits + 2, 64], got ${valueBits} with scaleBits ${scaleBits}`,
    )
  }
}

export function signedRange(valueBits: number): { min: bigint; max: bigint } {
  const half = 1n << BigInt(valueBits - 1)
  return { min: -half, max: half - 1n }
}

export function quantizeMlp(mlp: Mlp, options: QuantizeOptions): QuantizedMlp {
  checkBits(options)
  const { scaleBits, valueBits } = options
  if (mlp.layers.length === 0) throw new ZkError('ZK_UNSUPPORTED_MODEL', 'the model has no layers')
  const scale = 2 ** scaleBits
  const { min, max } = signedRange(valueBits)
  const layers = mlp.layers.map((layer, index): QuantizedLayer => {
    if (layer.activation !== 'relu' && layer.activation !== 'none') {
      throw new ZkError(
        'ZK_UNSUPPORTED_MODEL',
        `layer ${index} uses ${layer.activation}; the circuit handles ReLU (or no activation) only`,
      )
    }
    const weights: bigint[][] = []
    for (let o = 0; o < layer.outFeatures; o++) {
      const row: bigint[] = []
      for (let i = 0; i < layer.inFeatures; i++) {
        const w = layer.weight[i * layer.outFeatures + o]!
        if (!Number.isFinite(w)) throw new ZkError('ZK_UNSUPPORTED_MODEL', `layer ${index}: a weight is ${w}`)
        const q = roundToInteger(w * scale)
        if (q < min || q > max) {
          throw new ZkError(
            'ZK_VALUE_OUT_OF_RANGE',
            `layer ${index}: weight ${w} does not fit ${valueBits} bits`,
            {
              details: `at scale 2^${scaleBits} it is ${q}; use fewer scaleBits or more valueBits`,
            },
          )
        }
        row.push(q)
      }
      weights.push(row)
    }
    // Products are below 2^(2v-2) each; bounding the bias too keeps every accumulator far below p/2,
    // so the field arithmetic of the circuit is the integer arithmetic of quantizedForward.
    const biasLimit = 1n << BigInt(2 * valueBits)
    const bias = Array.from(layer.bias, (b) => {
      if (!Number.isFinite(b)) throw new ZkError('ZK_UNSUPPORTED_MODEL', `layer ${index}: a bias is ${b}`)
      const q = roundToInteger(b * scale * scale)
      if (q >= biasLimit || q <= -biasLimit) {
        throw new ZkError(
          'ZK_VALUE_OUT_OF_RANGE',
          `layer ${index}: bias ${b} is too large for ${valueBits}-bit values`,
        )
      }
      return q
    })
    return {
      inFeatures: layer.inFeatures,
      outFeatures: layer.outFeatures,
      weights,
      bias,
      relu: layer.activation === 'relu',
    }
  })
  return {
    scaleBits,
    valueBits,
    inputSize: layers[0]!.inFeatures,
    outputSize: layers[layers.length - 1]!.outFeatures,
    layers,
  }
}

/** Quantizes one float input vector (scale 2^s, range-checked). */
export function quantizeInput(model: QuantizedMlp, input: ArrayLike<number>): bigint[] {
  if (input.length !== model.inputSize) {
    throw new ZkError(
      'ZK_BAD_INPUT',
      `the input has ${input.length} values, the model takes ${model.inputSize}`,
    )
  }
  const { min, max } = signedRange(model.valueBits)
  const scale = 2 ** model.scaleBits
  return Array.from(input, (x, i) => {
    if (!Number.isFinite(x)) throw new ZkError('ZK_BAD_INPUT', `input ${i} is ${x}`)
    const q = roundToInteger(x * scale)
    if (q < min || q > max) {
      throw new ZkError(
        'ZK_VALUE_OUT_OF_RANGE',
        `input ${i} (${x}) does not fit ${model.valueBits} signed bits`,
      )
    }
    return q
  })
}

/** floor(a / 2^shift) for signed a (BigInt's >> is an arithmetic shift, i.e. floor). */
function floorShift(a: bigint, shift: number): bigint {
  return a >> BigInt(shift)
}

/**
 * The integer forward pass: the exact function the circuit constrains. Throws ZK_VALUE_OUT_OF_RANGE
 * where an activation leaves the signed range, which is where the circuit would have no witness.
 */
export function quantizedForward(model: QuantizedMlp, input: readonly bigint[]): bigint[] {
  if (input.length !== model.inputSize) {
    throw new ZkError(
      'ZK_BAD_INPUT',
      `the input has ${input.length} values, the model takes ${model.inputSize}`,
    )
  }
  const { min, max } = signedRange(model.valueBits)
  for (const [i, x] of input.entries()) {
    if (x < min || x > max) throw new ZkError('ZK_VALUE_OUT_OF_RANGE', `input ${i} (${x}) is out of range`)
  }
  let h: readonly bigint[] = input
  model.layers.forEach((layer, index) => {
    h = layer.weights.map((row, o) => {
      let acc = layer.bias[o]!
      for (let i = 0; i < layer.inFeatures; i++) acc += row[i]! * h[i]!
      const q = floorShift(acc, model.scaleBits)
      if (q < min || q > max) {
        throw new ZkError(
          'ZK_VALUE_OUT_OF_RANGE',
          `layer ${index}, unit ${o}: activation ${q} leaves the ${model.valueBits}-bit range`,
          { details: 'the input is too large for this quantization; rebuild with more valueBits' },
        )
      }
      return layer.relu && q < 0n ? 0n : q
    })
  })
  return [...h]
}

export function dequantize(model: QuantizedMlp, values: readonly bigint[]): number[] {
  const scale = 2 ** model.scaleBits
  return values.map((v) => Number(v) / scale)
}

/** The float forward pass of the original MLP, logits (any final Softmax left out). */
export function floatForward(mlp: Mlp, input: ArrayLike<number>): number[] {
  let h = Array.from(input)
  for (const layer of mlp.layers) {
    const next: number[] = []
    for (let o = 0; o < layer.outFeatures; o++) {
      let acc = layer.bias[o]!
      for (let i = 0; i < layer.inFeatures; i++) acc += h[i]! * layer.weight[i * layer.outFeatures + o]!
      next.push(layer.activation === 'relu' ? Math.max(0, acc) : acc)
    }
    h = next
  }
  return h
}

export interface AccuracyReport {
  samples: number
  /** Largest |float output - dequantized quantized output| over all samples and outputs. */
  maxAbsError: number
  meanAbsError: number
  /** Fraction of samples whose argmax agrees. */
  argmaxAgreement: number
}

function argmax(values: readonly number[]): number {
  let best = 0
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i
  return best
}

/** Accuracy loss of the quantized model against the float model on the given inputs. */
export function measureQuantizationError(
  mlp: Mlp,
  model: QuantizedMlp,
  inputs: readonly ArrayLike<number>[],
): AccuracyReport {
  let maxAbsError = 0
  let sumAbsError = 0
  let count = 0
  let agree = 0
  for (const input of inputs) {
    const exact = floatForward(mlp, input)
    const approx = dequantize(model, quantizedForward(model, quantizeInput(model, input)))
    exact.forEach((v, i) => {
      const e = Math.abs(v - approx[i]!)
      maxAbsError = Math.max(maxAbsError, e)
      sumAbsError += e
      count++
    })
    if (argmax(exact) === argmax(approx)) agree++
  }
  return {
    samples: inputs.length,
    maxAbsError,
    meanAbsError: count === 0 ? 0 : sumAbsError / count,
    argmaxAgreement: inputs.length === 0 ? 1 : agree / inputs.length,
  }
}

/**
 * The model commitment: a Poseidon sponge over the shape, the scale and every quantized parameter
 * (layer by layer: in, out, relu flag, weights row-major by output unit, then biases), each signed
 * integer mapped into the field as v mod p. It names exactly the function the circuit computes.
 */
export function modelCommitmentPreimage(model: QuantizedMlp): bigint[] {
  const values: bigint[] = [BigInt(model.scaleBits), BigInt(model.valueBits), BigInt(model.layers.length)]
  for (const layer of model.layers) {
    values.push(BigInt(layer.inFeatures), BigInt(layer.outFeatures), layer.relu ? 1n : 0n)
    for (const row of layer.weights) for (const w of row) values.push(signedToField(w))
    for (const b of layer.bias) values.push(signedToField(b))
  }
  return values
}

export function modelCommitment(model: QuantizedMlp): bigint {
  return poseidonSponge(modelCommitmentPreimage(model))
}

/** Commitment to a vector of signed integers (the quantized input or output). */
export function vectorCommitment(values: readonly bigint[]): bigint {
  return poseidonSponge(values.map(signedToField))
}
