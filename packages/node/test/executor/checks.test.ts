/**
 * checkInference / checkTraining: the pre-run checks of runInference and runTraining, which a
 * provider runs on an offer's files before bidding. They must refuse what the run would
 * refuse, with the same codes, and accept what it runs, without computing anything.
 */
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createExecutor, ExecutorError } from '../../src/executor/index.js'
import { blobs, classifierSpec, f32, lcg, profile, randomMlp, workerUrl } from './helpers.js'

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(ExecutorError)
  return (e as ExecutorError).code
}

describe('executor pre-run checks', () => {
  const executor = createExecutor({ workerUrl, options: { poolSize: 1 } })
  beforeAll(() => executor.start())
  afterAll(() => executor.stop())
  const model = encodeOnnxModel(buildMlpModel(randomMlp([6, 8, 3], 'tanh', 4)))
  const spec = { kind: 'inference' as const, profile: profile(4) }

  it('inference: counts samples and micro-batches of inputs that fit; refuses those the run refuses', async () => {
    const inputs = { input: f32([10, 6], Float32Array.from({ length: 60 }, lcg(2))) }
    expect(await executor.checkInference({ spec, model, inputs })).toEqual({ samples: 10, microBatches: 3 })
    const wide = { input: f32([10, 5], new Float32Array(50)) }
    expect(await code(executor.checkInference({ spec, model, inputs: wide }))).toBe('EXECUTOR_INPUT_MISMATCH')
    expect(await code(executor.runInference({ spec, model, inputs: wide }))).toBe('EXECUTOR_INPUT_MISMATCH')
    const renamed = { features: inputs.input }
    expect(await code(executor.checkInference({ spec, model, inputs: renamed }))).toBe(
      'EXECUTOR_INPUT_MISMATCH',
    )
    const junk = new TextEncoder().encode('not an onnx model')
    expect(await code(executor.checkInference({ spec, model: junk, inputs }))).toBe('EXECUTOR_MODEL_INVALID')
  })

  it('training: rows and checkpoints of a dataset the network takes; refuses one it does not', async () => {
    const trainingSpec = classifierSpec({ epochs: 1, checkpointInterval: 1 })
    const dataset = blobs(64)
    const ok = await executor.checkTraining({ spec: trainingSpec, dataset })
    expect(ok.rows).toBe(64)
    // 64 rows in batches of 32, one epoch: steps 0, 1 and 2
    expect(ok.checkpoints).toBe(3)
    // the network takes 2 features
    const wide = { ...dataset, x: f32([64, 3], new Float32Array(64 * 3)) }
    expect(await code(executor.checkTraining({ spec: trainingSpec, dataset: wide }))).toBe(
      'EXECUTOR_INPUT_MISMATCH',
    )
    const { y: _y, ...noTargets } = dataset
    expect(await code(executor.checkTraining({ spec: trainingSpec, dataset: noTargets }))).toBe(
      'EXECUTOR_INPUT_MISMATCH',
    )
    const withBase = classifierSpec({ epochs: 1, model: { baseModel: true } })
    expect(
      await code(
        executor.checkTraining({
          spec: withBase,
          dataset,
          model: new TextEncoder().encode('not an onnx model'),
        }),
      ),
    ).toBe('EXECUTOR_MODEL_INVALID')
  })
})
