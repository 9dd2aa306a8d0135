/**
 * Proof of Attribution on fine-tuning jobs: a head on a frozen backbone and LoRA adapters on
 * a frozen base MLP. Each job is trained for real (in-process ONNX Runtime, the executor's own
 * training loop), its attribution computed twice in process (identical bytes), and the
 * attribution leaf replayed the way a verifier does (roles/shared.ts `replayFor`: the request
 * `attributionRequestFor` builds from the job's assets, recomputed in the forked attribution
 * process, compared by result hash).
 */
import { contentHashOf } from '@ocn/protocol'
import { buildMlpModel, decodeOnnxModel, encodeOnnxModel } from '@ocn/prover'
import { beforeAll, describe, expect, it } from 'vitest'
import { createAttributor } from '../../src/attribution/attributor.js'
import { computeAttributionResult } from '../../src/attribution/compute.js'
import { knnShapleyScores } from '../../src/attribution/knn-shapley.js'
import type { AttributionResult } from '../../src/attribution/result.js'
import { type AttributionMethodName, parseJobSpec, type TrainingJobSpec } from '../../src/executor/spec.js'
import type { NamedTensors } from '../../src/executor/tensor.js'
import { backboneModel } from '../../src/executor/training/head.js'
import { datasetOf } from '../../src/executor/training/plan.js'
import { backboneFeatures, runTraining, type TrainingRunResult } from '../../src/executor/training/run.js'
import { attributionRequestFor } from '../../src/roles/attribution.js'
import { classifierSpec, randomMlp } from '../executor/helpers.js'
import { contributorRowSets, inputs, manifest, training, validation } from './datanet-fixture.js'

const attributor = createAttributor({
  workerUrl: new URL('../../dist/attribution/worker.js', import.meta.url),
})

// a frozen tanh MLP: the head reads its second hidden layer, LoRA adapts every layer
const baseMlp = randomMlp([2, 16, 8, 3], 'tanh', 31)
const baseOnnx = buildMlpModel(baseMlp, { inputName: 'features', outputName: 'logits' })
const baseModel = encodeOnnxModel(baseOnnx)
const headSpec = {
  features: baseOnnx.graph.nodes.filter((n) => n.opType === 'Tanh')[1]!.outputs[0]!,
  hiddenLayers: [8],
  outputs: 3,
  activation: 'tanh',
}
const forms = {
  head: { baseModel: true, head: headSpec },
  lora: { baseModel: true, lora: { targets: ['layer0.weight', 'layer1.weight', 'layer2.weight'], rank: 2 } },
}
type Form = keyof typeof forms

function specOf(form: Form, method: AttributionMethodName): TrainingJobSpec {
  return parseJobSpec({
    ...JSON.parse(JSON.stringify(classifierSpec())),
    model: forms[form],
    optimizer: { type: 'adam', learningRate: 0.05 },
    epochs: 4,
    checkpointInterval: 6,
    seed: `attribution-${form}`,
    attribution: {
      method,
      manifest: contentHashOf(new TextEncoder().encode(JSON.stringify(manifest))),
      validation: { features: 'x_val', targets: 'y_val' },
    },
  }) as TrainingJobSpec
}

const runs = {} as Record<Form, TrainingRunResult>

beforeAll(async () => {
  for (const form of Object.keys(forms) as Form[]) {
    const spec = specOf(form, 'tracin-cp-v1')
    runs[form] = await runTraining(spec, datasetOf(spec, inputs), baseModel)
  }
}, 60_000)

/** The request a provider and a verifier build for the attribution leaf (roles/attribution.ts). */
const requestOf = (form: Form, method: AttributionMethodName) =>
  attributionRequestFor({
    spec: specOf(form, method),
    manifest,
    inputs,
    model: baseModel,
    checkpoints: runs[form].checkpoints,
    checkpointHashes: runs[form].checkpointHashes,
  })

const bytesOf = (r: AttributionResult) => new TextEncoder().encode(JSON.stringify(r))
const bitsOf = (scores: number[]) => new Uint8Array(Float64Array.from(scores).buffer)

function expectNoiseLast(r: AttributionResult): void {
  const [clean, noise, clean2] = r.scores as [number, number, number]
  expect(noise).toBeLessThan(Math.min(clean, clean2))
  expect(r.weights[1]!.weight).toBeLessThan(Math.min(r.weights[0]!.weight, r.weights[2]!.weight))
}

describe.each(Object.keys(forms) as Form[])('attribution on a %s job', (form) => {
  it('tracin-cp-v1: identical bytes twice, the noise contributor last, the verifier replay matches', async () => {
    const first = await computeAttributionResult(requestOf(form, 'tracin-cp-v1'))
    const again = await computeAttributionResult(requestOf(form, 'tracin-cp-v1'))
    expect(bytesOf(again)).toEqual(bytesOf(first))
    expect(bitsOf(again.scores)).toEqual(bitsOf(first.scores))
    expect(first.checkpointHashes).toEqual(runs[form].checkpointHashes)
    expectNoiseLast(first)
    // the verifier's replay of the leaf, in the attribution process: the same result, to the bit
    const verdict = await attributor.verify(first, requestOf(form, 'tracin-cp-v1'))
    expect(verdict.valid).toBe(true)
    expect(bitsOf(verdict.recomputed.scores)).toEqual(bitsOf(first.scores))
  })

  it('knn-shapley-v1: identical bytes twice and the noise contributor last', async () => {
    const first = await computeAttributionResult(requestOf(form, 'knn-shapley-v1'))
    const again = await computeAttributionResult(requestOf(form, 'knn-shapley-v1'))
    expect(bytesOf(again)).toEqual(bytesOf(first))
    expect(first.checkpointHashes).toEqual(runs[form].checkpointHashes)
    expectNoiseLast(first)
  })
})

describe('the rows each form is attributed over', () => {
  it("a head's knn-shapley-v1 reads the frozen backbone's features of training and validation rows", async () => {
    const spec = specOf('head', 'knn-shapley-v1')
    const backbone = backboneModel(decodeOnnxModel(baseModel), headSpec)
    const embed = (x: NamedTensors[string]) => backboneFeatures(backbone, x, spec.profile, spec.batchSize)
    const expected = knnShapleyScores(
      { features: await embed(training.x), targets: training.y },
      { features: await embed(validation.x), targets: validation.y },
      contributorRowSets,
    )
    const got = await computeAttributionResult(requestOf('head', 'knn-shapley-v1'))
    expect(bitsOf(got.scores)).toEqual(bitsOf(expected))
    // the raw 2-D inputs give other values: the embedding is what is measured
    const raw = knnShapleyScores(
      { features: training.x, targets: training.y },
      { features: validation.x, targets: validation.y },
      contributorRowSets,
    )
    expect(bitsOf(raw)).not.toEqual(bitsOf(expected))
  })

  it('a LoRA job whose checkpoints are not the committed ones is refused', async () => {
    const request = requestOf('lora', 'tracin-cp-v1')
    const swapped = [...request.checkpoints]
    swapped[1] = request.checkpoints[2]!
    await expect(computeAttributionResult({ ...request, checkpoints: swapped })).rejects.toMatchObject({
      code: 'ATTRIBUTION_CHECKPOINT_MISMATCH',
    })
  })
})
