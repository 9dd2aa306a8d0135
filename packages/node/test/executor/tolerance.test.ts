import { MerkleTree } from '@ocn/protocol'
import { buildMlpModel, encodeOnnxModel, spotCheck } from '@ocn/prover'
import { keccak256, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compareOutputs,
  type HostTensor,
  type NamedTensors,
  outputsDataHash,
  sliceRows,
} from '../../src/executor/index.js'
import { f32, lcg, profile, randomMlp, testExecutor } from './helpers.js'

const executor = testExecutor()
beforeAll(() => executor.start())
afterAll(() => executor.stop())

function scaled(t: HostTensor, factor: number): HostTensor {
  const v = new Float32Array(t.data.slice().buffer).map((x) => x * factor)
  return { ...t, data: new Uint8Array(v.buffer) }
}

describe('comparison under a tolerance (the GPU path, exercised on CPU)', () => {
  it('compareOutputs: floats within a relative tolerance, integers and shapes exactly', () => {
    const a = { y: f32([3], [1, 1000, 0]) }
    expect(compareOutputs(a, { y: f32([3], [1, 1000, 0]) }, 'bit-exact').match).toBe(true)
    expect(compareOutputs(a, { y: f32([3], [1, 1000.5, 0]) }, 'bit-exact').match).toBe(false)
    expect(compareOutputs(a, { y: f32([3], [1, 1000.5, 1e-4]) }, { tolerance: 1e-3 }).match).toBe(true)
    expect(compareOutputs(a, { y: f32([3], [1, 1002, 0]) }, { tolerance: 1e-3 }).match).toBe(false)
    expect(compareOutputs(a, { y: f32([1, 3], [1, 1000, 0]) }, { tolerance: 1e-3 }).match).toBe(false)
    const ints = (v: bigint) => ({
      i: { dtype: 'int64' as const, dims: [1], data: new Uint8Array(BigInt64Array.of(v).buffer) },
    })
    expect(compareOutputs(ints(5n), ints(6n), { tolerance: 0.5 }).match).toBe(false)
    const half = (bits: number) => ({
      h: { dtype: 'float16' as const, dims: [1], data: new Uint8Array(Uint16Array.of(bits).buffer) },
    })
    expect(compareOutputs(half(0x3c00), half(0x3c01), { tolerance: 1e-3 }).match).toBe(true) // 1 vs 1.000977
    expect(compareOutputs(half(0x3c00), half(0x3c10), { tolerance: 1e-3 }).match).toBe(false)
  })

  it('spot-checks a tolerance job by comparing shipped outputs with replayed ones', async () => {
    const model = encodeOnnxModel(buildMlpModel(randomMlp([5, 24, 3], 'tanh', 3)))
    const inputs = { input: f32([40, 5], Float32Array.from({ length: 200 }, lcg(8))) }
    const spec = { kind: 'inference' as const, profile: profile(8, { comparison: { tolerance: 1e-3 } }) }
    const job = { spec, model, inputs }
    const honest = await executor.runInference(job)
    const microBatchOutputs = (outs: NamedTensors, i: number) => ({
      output: sliceRows(outs.output!, i * 8, i * 8 + 8),
    })

    // a provider on other hardware: tiny numeric differences, honestly committed
    const run = async (factor: number, lie = false) => {
      const outputs = { output: scaled(honest.outputs!.output!, factor) }
      const hashes = Array.from({ length: 5 }, (_, i) => outputsDataHash(microBatchOutputs(outputs, i)))
      const tree = MerkleTree.fromDataHashes(hashes)
      const replay = executor.inferenceReplay(job, {
        // a lying provider ships outputs other than the committed ones
        claimedOutputs: async (i) => microBatchOutputs(lie ? honest.outputs! : outputs, i),
      })
      return spotCheck({
        kind: 'inference',
        jobId: 'tol',
        randomness: keccak256(toHex('r')),
        root: tree.root,
        leafCount: 5,
        samples: 5,
        claim: (i) => ({ dataHash: hashes[i]!, proof: tree.proof(i) }),
        executor: replay,
      })
    }
    expect((await run(1 + 1e-5)).passed).toBe(true)
    expect((await run(1.05)).mismatches).toHaveLength(5)
    expect((await run(1 + 1e-5, true)).passed).toBe(false)
  })
})
