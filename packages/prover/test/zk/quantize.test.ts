import { describe, expect, it } from 'vitest'
import { buildMlpModel, decodeOnnxModel, encodeOnnxModel, extractMlp } from '../../src/onnx/index.js'
import {
  dequantize,
  floatForward,
  generateCircuit,
  measureQuantizationError,
  modelCommitment,
  quantizedForward,
  quantizeInput,
  quantizeMlp,
  ZkError,
} from '../../src/zk/index.js'
import { randomInputs, randomMlp } from './helpers.js'

describe('fixed-point quantization', () => {
  const mlp = randomMlp([16, 16, 4], 7)
  const model = quantizeMlp(mlp, { scaleBits: 8, valueBits: 20 })

  it('scales weights by 2^s and biases by 2^(2s)', () => {
    const w = mlp.layers[0]!.weight[0]! // input 0 -> unit 0
    expect(model.layers[0]!.weights[0]![0]).toBe(BigInt(Math.floor(w * 256 + 0.5)))
    const b = mlp.layers[0]!.bias[0]!
    expect(model.layers[0]!.bias[0]).toBe(BigInt(Math.floor(b * 65536 + 0.5)))
  })

  it('rescales with a floor division (an arithmetic shift), also for negative accumulators', () => {
    const one = quantizeMlp(
      {
        softmaxOutput: false,
        layers: [
          {
            inFeatures: 1,
            outFeatures: 1,
            weight: Float32Array.of(1),
            bias: Float32Array.of(0),
            activation: 'none',
          },
        ],
      },
      { scaleBits: 4, valueBits: 12 },
    )
    // weight 16 (1.0 at 2^4); x = -3 -> acc -48 -> floor(-48/16) = -3; x = -1 -> -16 -> -1
    expect(quantizedForward(one, [-3n])).toEqual([-3n])
    expect(quantizedForward({ ...one, layers: [{ ...one.layers[0]!, bias: [-1n] }] }, [0n])).toEqual([-1n])
  })

  it('stays close to the float model', () => {
    const inputs = randomInputs(200, 16, 3)
    const report = measureQuantizationError(mlp, model, inputs)
    expect(report.samples).toBe(200)
    expect(report.maxAbsError).toBeLessThan(0.1)
    expect(report.argmaxAgreement).toBeGreaterThan(0.95)
    const coarse = measureQuantizationError(mlp, quantizeMlp(mlp, { scaleBits: 3, valueBits: 16 }), inputs)
    expect(coarse.maxAbsError).toBeGreaterThan(report.maxAbsError)
    const x = inputs[0]!
    const approx = dequantize(model, quantizedForward(model, quantizeInput(model, x)))
    for (const [i, v] of floatForward(mlp, x).entries()) expect(Math.abs(v - approx[i]!)).toBeLessThan(0.1)
  })

  it('rejects activations other than ReLU and values outside the range', () => {
    const tanh = randomMlp([4, 4, 2], 1)
    tanh.layers[0]!.activation = 'tanh'
    expect(() => quantizeMlp(tanh, { scaleBits: 8, valueBits: 20 })).toThrow(ZkError)
    expect(() => quantizeInput(model, new Array(16).fill(1e6))).toThrow(
      expect.objectContaining({ code: 'ZK_VALUE_OUT_OF_RANGE' }),
    )
    expect(() => quantizeInput(model, [1, 2])).toThrow(expect.objectContaining({ code: 'ZK_BAD_INPUT' }))
  })

  it('reads the same model from Gemm and from MatMul + Add graphs', () => {
    const viaGemm = extractMlp(decodeOnnxModel(encodeOnnxModel(buildMlpModel(mlp, { style: 'gemm' }))))
    const viaMatMul = extractMlp(
      decodeOnnxModel(encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' }))),
    )
    const a = generateCircuit(quantizeMlp(viaGemm, { scaleBits: 8, valueBits: 20 }))
    const b = generateCircuit(quantizeMlp(viaMatMul, { scaleBits: 8, valueBits: 20 }))
    expect(a.circuitHash).toBe(b.circuitHash)
    expect(a.modelCommitment).toBe(modelCommitment(model))
  })

  it('commits to the weights: one changed weight changes the commitment and the circuit', () => {
    const other = structuredClone(mlp)
    other.layers[1]!.weight[3] = other.layers[1]!.weight[3]! + 0.5
    const changed = quantizeMlp(other, { scaleBits: 8, valueBits: 20 })
    expect(modelCommitment(changed)).not.toBe(modelCommitment(model))
    expect(generateCircuit(changed).circuitHash).not.toBe(generateCircuit(model).circuitHash)
    expect(generateCircuit(model).circuitHash).toBe(generateCircuit(model).circuitHash)
  })
})
