import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { buildMlpModel, encodeOnnxModel, type SpotCheckReport, sampleIndices } from '@ocn/prover'
import { type Hex, keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeSafetensors } from '../../src/executor/index.js'
import { blobs, classifierSpec, f32, lcg, profile, randomMlp, testExecutor } from './helpers.js'

const run = promisify(execFile)
const verifierScript = fileURLToPath(new URL('./fixtures/replay-verifier.mjs', import.meta.url))
const randomness = keccak256(toHex('block after commit'))

const provider = testExecutor({ poolSize: 2 })
let dir: string
beforeAll(async () => {
  await provider.start()
  dir = await mkdtemp(join(tmpdir(), 'ocn-replay-'))
})
afterAll(async () => {
  await provider.stop()
  await rm(dir, { recursive: true, force: true })
})

/** Runs the verifier in a separate Node process with its own pool size. */
async function verifyElsewhere(job: object): Promise<SpotCheckReport> {
  const path = join(dir, `job-${Math.random().toString(36).slice(2)}.json`)
  await writeFile(path, JSON.stringify({ ...job, dir }))
  const { stdout } = await run(process.execPath, [verifierScript, path], { timeout: 120_000 }).catch((e) => {
    throw new Error(`verifier process failed: ${e.stderr}`, { cause: e })
  })
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

describe('bit-exact replay across processes and pool sizes', () => {
  it('re-executes sampled inference micro-batches to the same leaves; a faked leaf is caught', async () => {
    const mlp = randomMlp([10, 64, 64, 5], 'relu', 8)
    const model = encodeOnnxModel(buildMlpModel(mlp))
    const inputs = { input: f32([203, 10], Float32Array.from({ length: 2030 }, lcg(4))) }
    const spec = { kind: 'inference' as const, profile: profile(16) }
    const result = await provider.runInference({ spec, model, inputs }, { keepOutputs: false })
    expect(result.microBatches).toBe(13)
    await writeFile(join(dir, 'model.onnx'), model)
    await writeFile(join(dir, 'inputs.safetensors'), encodeSafetensors(inputs))

    // an honest provider passes with a one-worker verifier and a three-worker verifier
    const base = {
      kind: 'inference',
      spec,
      jobId: 'job-inf',
      randomness,
      samples: 4,
      claimedHashes: result.dataHashes,
    }
    for (const poolSize of [1, 3]) {
      const report = await verifyElsewhere({ ...base, poolSize })
      expect(report.checkedIndices).toEqual(sampleIndices(randomness, 'job-inf', 13, 4))
      expect(report.mismatches).toEqual([])
      expect(report.passed).toBe(true)
    }

    // a provider that faked one of the sampled micro-batches
    const faked: Hex[] = [...result.dataHashes]
    const target = sampleIndices(randomness, 'job-inf', 13, 4)[1]!
    faked[target] = keccak256(toHex('made up'))
    const caught = await verifyElsewhere({ ...base, poolSize: 1, claimedHashes: faked })
    expect(caught.passed).toBe(false)
    expect(caught.mismatches).toMatchObject([
      { index: target, reason: 'different-result', replayed: result.dataHashes[target] },
    ])
  })

  it('re-executes sampled training segments to the same checkpoint hashes; a faked one is caught', async () => {
    const dataset = blobs(120, 6)
    const spec = classifierSpec({
      epochs: 3,
      checkpointInterval: 4,
      batchSize: 16,
      profile: profile(16, { weightsSupply: 'feeds' }),
    })
    const result = await provider.runTraining({ spec, dataset })
    // 120 / 16 -> 8 steps per epoch, 24 steps, checkpoints every 4 steps plus the initial state
    expect(result.checkpointSteps).toEqual([0, 4, 8, 12, 16, 20, 24])
    await writeFile(join(dir, 'dataset.safetensors'), encodeSafetensors(dataset))
    await Promise.all(
      result.checkpoints.map((c, i) => writeFile(join(dir, `checkpoint-${i}.safetensors`), c)),
    )
    const base = {
      kind: 'training',
      spec,
      jobId: 'job-train',
      randomness,
      samples: 3,
      claimedHashes: result.checkpointHashes,
    }
    for (const poolSize of [1, 2]) {
      const report = await verifyElsewhere({ ...base, poolSize })
      expect(report.checkedIndices).toHaveLength(3)
      expect(report.mismatches).toEqual([])
    }
    // the provider claims a checkpoint it did not compute
    const target = sampleIndices(randomness, 'job-train', 7, 3).find((i) => i > 0)!
    const faked: Hex[] = [...result.checkpointHashes]
    faked[target] = keccak256(toHex('shortcut'))
    const caught = await verifyElsewhere({ ...base, poolSize: 1, claimedHashes: faked })
    expect(caught.mismatches.some((m) => m.index === target && m.reason === 'different-result')).toBe(true)
  })
})
