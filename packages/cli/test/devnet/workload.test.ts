/** The devnet's generated workload is valid input for the executor: spec, model and tensors. */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseJobSpec, readTensorFiles } from '@ocn/node'
import { decodeOnnxModel, extractMlp } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWorkload, WORKLOAD_CLASSES, WORKLOAD_FEATURES, type Workload } from '../../src/devnet/index.js'

let dir: string
let workload: Workload

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-workload-'))
  workload = await createWorkload(dir, {
    inferenceJobs: 2,
    trainingJob: true,
    samplesPerJob: 24,
    microBatchSize: 8,
    generateJobs: true,
    sequenceJob: true,
  })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('devnet workload', () => {
  it('writes a 4-16-3 classifier that reads back as an MLP', async () => {
    const mlp = extractMlp(decodeOnnxModel(await readFile(workload.modelPath)))
    expect(mlp.layers.map((l) => [l.inFeatures, l.outFeatures])).toEqual([
      [WORKLOAD_FEATURES, 16],
      [16, WORKLOAD_CLASSES],
    ])
    expect(mlp.softmaxOutput).toBe(true)
    expect(mlp.names.input).toBe('input')
  })

  it('writes one inputs file per inference job, shaped for the model, and different per job', async () => {
    const inference = workload.jobs.filter((j) => j.name.startsWith('inference-'))
    expect(inference).toHaveLength(2)
    const [a, b] = await Promise.all(inference.map((j) => readTensorFiles([j.inputsPath])))
    expect(a!.input).toMatchObject({ dtype: 'float32', dims: [24, WORKLOAD_FEATURES] })
    expect(Buffer.from(a!.input!.data).equals(Buffer.from(b!.input!.data))).toBe(false)
  })

  it('writes a training spec the executor accepts and a dataset it names', async () => {
    const training = workload.jobs.find((j) => j.kind === 'training')!
    const spec = parseJobSpec(JSON.parse(await readFile(training.trainingSpecPath!, 'utf8')))
    expect(spec.kind).toBe('training')
    const data = await readTensorFiles([training.inputsPath])
    expect(data.x).toMatchObject({ dtype: 'float32', dims: [96, WORKLOAD_FEATURES] })
    expect(data.y).toMatchObject({ dtype: 'int64', dims: [96] })
  })

  it('writes generate jobs (prompts for the GPT fixture, the first opening with the cheater) and a sequence job', async () => {
    const generate = workload.jobs.filter((j) => j.generate !== undefined)
    expect(generate.map((j) => [j.name, j.opening === true])).toEqual([
      ['generate-1', true],
      ['generate-2', false],
    ])
    const prompts = await readTensorFiles([generate[0]!.inputsPath])
    expect(prompts.input_ids).toMatchObject({ dtype: 'int64', dims: [2, 4] })
    const sequence = workload.jobs.find((j) => j.state !== undefined)!
    expect(sequence.inputAxes).toEqual({ state: 1, sr: 'broadcast' })
    const audio = await readTensorFiles([sequence.inputsPath])
    expect(audio.input).toMatchObject({ dtype: 'float32', dims: [4, 2, 32] })
    expect(audio.state).toBeUndefined()
    expect(audio.sr).toMatchObject({ dtype: 'int64', dims: [] })
  })

  it('is reproducible from its seed', async () => {
    const again = await createWorkload(join(dir, 'again'), {
      inferenceJobs: 2,
      trainingJob: true,
      samplesPerJob: 24,
      microBatchSize: 8,
      generateJobs: true,
      sequenceJob: true,
    })
    for (const [i, job] of workload.jobs.entries()) {
      expect(await readFile(again.jobs[i]!.inputsPath)).toEqual(await readFile(job.inputsPath))
    }
    expect(await readFile(again.modelPath)).toEqual(await readFile(workload.modelPath))
  })
})
