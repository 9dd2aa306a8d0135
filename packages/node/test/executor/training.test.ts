import { MerkleTree } from '@ocn/protocol'
import { buildMlpModel, decodeOnnxModel, encodeOnnxModel, extractMlp } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  checkpointChain,
  checkpointHash,
  decodeSafetensors,
  mergeLora,
  type NamedTensors,
  type TrainingJob,
  type TrainingResult,
} from '../../src/executor/index.js'
import { blobs, classifierSpec, f32, lcg, profile, randomMlp, testExecutor } from './helpers.js'

const executor = testExecutor()
beforeAll(() => executor.start())
afterAll(() => executor.stop())

async function accuracy(model: Uint8Array, data: NamedTensors): Promise<number> {
  const inputName = decodeOnnxModel(model).graph.inputs[0]!.name
  const r = await executor.runInference({
    spec: { kind: 'inference', profile: profile(64) },
    model,
    inputs: { [inputName]: data.x! },
  })
  const logits = new Float32Array(Object.values(r.outputs!)[0]!.data.slice().buffer)
  const labels = new BigInt64Array(data.y!.data.slice().buffer)
  let correct = 0
  for (let i = 0; i < labels.length; i++) {
    const row = Array.from(logits.subarray(i * 3, i * 3 + 3))
    if (BigInt(row.indexOf(Math.max(...row))) === labels[i]) correct++
  }
  return correct / labels.length
}

describe('executor training', () => {
  const data = blobs(300)

  it('trains an MLP classifier with Adam to >= 95% accuracy and commits chained checkpoints', async () => {
    const spec = classifierSpec()
    const progress: number[] = []
    const r = await executor.runTraining(
      { spec, dataset: data },
      { onProgress: (p) => progress.push(p.step) },
    )
    // 300 rows / 32 = 10 steps per epoch (the last one short), 8 epochs
    expect(r.lossCurve).toHaveLength(80)
    expect(r.checkpointSteps).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80])
    expect(progress).toEqual(r.checkpointSteps)
    const first = r.lossCurve.slice(0, 10).reduce((a, b) => a + b) / 10
    const last = r.lossCurve.slice(-10).reduce((a, b) => a + b) / 10
    expect(last).toBeLessThan(first * 0.3)
    expect(await accuracy(r.model, data)).toBeGreaterThanOrEqual(0.95)
    // commitments: hashes of the shipped checkpoint states, chained, and a Merkle tree over them
    expect(r.checkpoints.map((c) => checkpointHash(decodeSafetensors(c).tensors))).toEqual(r.checkpointHashes)
    expect(r.chain).toEqual(checkpointChain(r.checkpointHashes))
    expect(r.root).toBe(MerkleTree.fromDataHashes(r.checkpointHashes).root)
    // the exported model is a plain inference MLP
    expect(extractMlp(decodeOnnxModel(r.model)).layers.map((l) => l.activation)).toEqual([
      'tanh',
      'tanh',
      'none',
    ])
  })

  it('is deterministic: the same spec and data give the same checkpoints; another seed does not', async () => {
    const spec = classifierSpec({ epochs: 2 })
    const a = await executor.runTraining({ spec, dataset: data }, { keepCheckpoints: false })
    const b = await executor.runTraining({ spec, dataset: data }, { keepCheckpoints: false })
    expect(b.checkpointHashes).toEqual(a.checkpointHashes)
    expect(b.lossCurve).toEqual(a.lossCurve)
    const c = await executor.runTraining(
      { spec: { ...spec, seed: 'other' }, dataset: data },
      { keepCheckpoints: false },
    )
    expect(c.checkpointHashes[1]).not.toEqual(a.checkpointHashes[1])
  })

  it('regresses with MSE and SGD + momentum (ReLU and GELU)', async () => {
    const r = lcg(9)
    const n = 256
    const x = Array.from({ length: n * 3 }, () => r() * 2)
    const y = Array.from({ length: n }, (_, i) => [
      x[3 * i]! * 0.5 - x[3 * i + 1]! + 0.3 * x[3 * i + 2]! ** 2,
    ])
    const dataset = { x: f32([n, 3], x), y: f32([n, 1], y.flat()) }
    for (const activation of ['relu', 'gelu'] as const) {
      const spec = classifierSpec({
        model: { architecture: { inputFeatures: 3, hiddenLayers: [24], outputs: 1, activation } },
        loss: 'mse',
        optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
        epochs: 15,
      })
      const result = await executor.runTraining({ spec, dataset }, { keepCheckpoints: false })
      const first = result.lossCurve[0]!
      const last = result.lossCurve.slice(-8).reduce((a, b) => a + b) / 8
      expect(last).toBeLessThan(first * 0.1)
    }
  })

  it('fine-tunes the initializers of a given ONNX MLP (Gemm model with a Softmax output)', async () => {
    const base = randomMlp([2, 12, 3], 'relu', 4)
    base.softmaxOutput = true
    const model = encodeOnnxModel(buildMlpModel(base, { inputName: 'features', outputName: 'probs' }))
    const spec = classifierSpec({ model: { baseModel: true }, epochs: 10 })
    const before = await accuracy(model, data)
    const r = await executor.runTraining({ spec, dataset: data, model })
    const after = await accuracy(r.model, data)
    expect(after).toBeGreaterThan(before)
    expect(after).toBeGreaterThanOrEqual(0.9)
    const tuned = decodeOnnxModel(r.model)
    expect(tuned.graph.inputs[0]!.name).toBe('features')
    expect(tuned.graph.outputs[0]!.name).toBe('probs')
    expect(tuned.graph.nodes.some((n) => n.opType === 'Softmax')).toBe(true)
  })

  /** Every segment replayed from the provider's checkpoints, as a verifier does. */
  async function replayedHashes(job: TrainingJob, r: TrainingResult) {
    const replay = executor.trainingReplay(job, {
      loadCheckpoint: async (i) => r.checkpoints[i]!,
      expectedHash: async (i) => r.checkpointHashes[i]!,
    })
    const hashes = []
    for (let i = 0; i < r.checkpointHashes.length; i++) hashes.push(await replay.runTrainingSegment(i))
    return hashes
  }

  it('trains LoRA adapters on a frozen MatMul MLP; segments replay bit-exactly; merge-lora applies them', async () => {
    const model = encodeOnnxModel(
      buildMlpModel(randomMlp([2, 16, 16, 3], 'tanh', 4), { style: 'matmul-add' }),
    )
    const spec = classifierSpec({
      model: { baseModel: true, lora: { targets: ['layer1.weight', 'layer2.weight'], rank: 4, alpha: 8 } },
      epochs: 4,
    })
    const job = { spec, dataset: data, model }
    expect(await executor.checkTraining(job)).toEqual({ rows: 300, checkpoints: 5 })
    const r = await executor.runTraining(job)
    // checkpoints hold the adapters and their optimizer state only, never the frozen base
    const state = Object.keys(decodeSafetensors(r.checkpoints[0]!).tensors)
    expect(state).toContain('layer1.weight.lora_A')
    expect(state).not.toContain('layer0.weight')
    expect(await replayedHashes(job, r)).toEqual(r.checkpointHashes)
    // the result is the adapters file; merged into the base it is a better classifier
    const adapters = decodeSafetensors(r.model)
    expect(adapters.metadata).toEqual({ format: 'ocn-lora-v1', rank: '4', alpha: '8' })
    expect(Object.keys(adapters.tensors).sort()).toEqual([
      'layer1.weight.lora_A',
      'layer1.weight.lora_B',
      'layer2.weight.lora_A',
      'layer2.weight.lora_B',
    ])
    const before = await accuracy(model, data)
    const after = await accuracy(mergeLora(model, r.model).model, data)
    expect(after).toBeGreaterThan(before)
    expect(after).toBeGreaterThanOrEqual(0.9)
  })

  it('trains a head on a frozen backbone tensor; segments replay bit-exactly from recomputed features', async () => {
    const backbone = buildMlpModel(randomMlp([2, 16, 16, 3], 'tanh', 4), { inputName: 'features' })
    const features = backbone.graph.nodes.filter((n) => n.opType === 'Tanh')[1]!.outputs[0]!
    const model = encodeOnnxModel(backbone)
    const spec = classifierSpec({
      model: { baseModel: true, head: { features, hiddenLayers: [8], outputs: 3, activation: 'relu' } },
      epochs: 4,
    })
    const job = { spec, dataset: data, model }
    expect(await executor.checkTraining(job)).toEqual({ rows: 300, checkpoints: 5 })
    const r = await executor.runTraining(job)
    expect(Object.keys(decodeSafetensors(r.checkpoints[0]!).tensors)).toContain('layer1.weight')
    expect(await replayedHashes(job, r)).toEqual(r.checkpointHashes)
    // the result runs as one model: the input goes through the backbone into the trained head
    expect(await accuracy(r.model, data)).toBeGreaterThanOrEqual(0.9)
    const head = { features: 'nope', hiddenLayers: [8], outputs: 3, activation: 'relu' as const }
    const wrong = classifierSpec({ model: { baseModel: true, head } })
    await expect(executor.checkTraining({ ...job, spec: wrong })).rejects.toMatchObject({
      code: 'EXECUTOR_SPEC_INVALID',
    })
  })

  it('a training job past its time limit is EXECUTOR_TIMEOUT and the pool keeps serving', async () => {
    const err = await executor
      .runTraining({ spec: classifierSpec({ epochs: 100_000 }), dataset: data }, { timeoutMs: 300 })
      .catch((e) => e)
    expect(err.code).toBe('EXECUTOR_TIMEOUT')
    // both workers free again: two short jobs run side by side
    const short = classifierSpec({ epochs: 1 })
    const [a, b] = await Promise.all([
      executor.runTraining({ spec: short, dataset: data }, { keepCheckpoints: false }),
      executor.runTraining({ spec: short, dataset: data }, { keepCheckpoints: false }),
    ])
    expect(a.checkpointHashes).toEqual(b.checkpointHashes)
  })

  it('refuses bad training data with a typed error', async () => {
    const bad = {
      ...data,
      y: {
        dtype: 'int64' as const,
        dims: [300],
        data: new Uint8Array(new BigInt64Array(300).fill(7n).buffer),
      },
    }
    await expect(executor.runTraining({ spec: classifierSpec(), dataset: bad })).rejects.toMatchObject({
      code: 'EXECUTOR_INPUT_MISMATCH',
    })
  })
})
