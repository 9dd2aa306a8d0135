import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { MerkleTree } from '@ocn/protocol'
import { buildMlpModel, encodeOnnxModel, GraphBuilder } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ExecutorError, type NamedTensors, outputsDataHash, sliceRows } from '../../src/executor/index.js'
import { f32, lcg, profile, randomMlp, referenceMlp, testExecutor } from './helpers.js'

const executor = testExecutor()
beforeAll(() => executor.start())
afterAll(() => executor.stop())

const mlp = randomMlp([6, 32, 16, 4], 'relu')
const mlpModel = encodeOnnxModel(buildMlpModel(mlp))
const samples = 50
const x = Float32Array.from({ length: samples * 6 }, lcg(3))

describe('executor inference', () => {
  it('runs an MLP in micro-batches, matches a plain reference and commits one leaf per micro-batch', async () => {
    const spec = { kind: 'inference' as const, profile: profile(8) }
    const r = await executor.runInference({ spec, model: mlpModel, inputs: { input: f32([samples, 6], x) } })
    expect(r.microBatches).toBe(7) // 6 full micro-batches of 8 and a short one of 2
    expect(r.samples).toBe(samples)
    const out = r.outputs!.output!
    expect(out.dims).toEqual([samples, 4])
    const got = new Float32Array(out.data.slice().buffer)
    const want = referenceMlp(mlp, x, samples)
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4)
    // each leaf commits to the canonical hash of its micro-batch's rows of the output
    const last = sliceRows(out, 48, 50)
    expect(r.dataHashes[6]).toBe(outputsDataHash({ output: last }))
    expect(r.root).toBe(MerkleTree.fromDataHashes(r.dataHashes).root)
  })

  it('gives the same leaves with worker threads as with worker processes, and with one worker as with two', async () => {
    const spec = { kind: 'inference' as const, profile: profile(8) }
    const job = { spec, model: mlpModel, inputs: { input: f32([samples, 6], x) } }
    const reference = await executor.runInference(job, { keepOutputs: false })
    for (const [isolation, poolSize] of [
      ['thread', 2],
      ['process', 1],
    ] as const) {
      const other = testExecutor({ isolation, poolSize })
      await other.start()
      try {
        expect((await other.runInference(job, { keepOutputs: false })).dataHashes).toEqual(
          reference.dataHashes,
        )
      } finally {
        await other.stop()
      }
    }
  })

  it('process workers read a large input from the job input file: the same leaves and outputs as worker threads, and the file is gone after', async () => {
    // just over 1 MiB of rows (INPUT_FILE_MIN_BYTES), in 11 micro-batches
    const rows = 44_000
    const big = { input: f32([rows, 6], Float32Array.from({ length: rows * 6 }, lcg(9))) }
    const job = { spec: { kind: 'inference' as const, profile: profile(4096) }, model: mlpModel, inputs: big }
    const spilled = () => readdirSync(tmpdir()).filter((n) => n.startsWith('ocn-inputs-')).length
    const before = spilled()
    const viaFile = await executor.runInference(job)
    expect(spilled()).toBe(before)
    const threads = testExecutor({ isolation: 'thread' })
    await threads.start()
    try {
      const viaMessages = await threads.runInference(job)
      expect(viaFile.dataHashes).toEqual(viaMessages.dataHashes)
      expect(
        Buffer.from(viaFile.outputs!.output!.data).equals(Buffer.from(viaMessages.outputs!.output!.data)),
      ).toBe(true)
    } finally {
      await threads.stop()
    }
  })

  it('handles several inputs and outputs with int64, float16 and bool', async () => {
    // y = x * scale (float32), idx = ids + 1 (int64), h = cast(x) to float16, mask = ids > 2
    const b = new GraphBuilder('multi')
    const xs = b.input('x', 'float32', ['batch', 3])
    const ids = b.input('ids', 'int64', ['batch', 2])
    b.output(b.op('Mul', [xs, b.constant([2])]), 'float32', ['batch', 3], 'y')
    b.output(b.op('Add', [ids, b.constant([1], 'int64', [])]), 'int64', ['batch', 2], 'idx')
    b.output(b.op('Cast', [xs], { to: 10 }), 'float16', ['batch', 3], 'h')
    b.output(b.op('Greater', [ids, b.constant([2], 'int64', [])]), 'bool', ['batch', 2], 'mask')
    const model = encodeOnnxModel(b.build())
    const idsData = BigInt64Array.from([1n, 5n, 2n, 3n, -4n, 9n])
    const inputs: NamedTensors = {
      x: f32([3, 3], [0.5, -1, 2, 3, 4, 5, 6, 7, 8]),
      ids: { dtype: 'int64', dims: [3, 2], data: new Uint8Array(idsData.buffer) },
    }
    const r = await executor.runInference({ spec: { kind: 'inference', profile: profile(2) }, model, inputs })
    const o = r.outputs!
    expect(Array.from(new Float32Array(o.y!.data.slice().buffer))).toEqual([1, -2, 4, 6, 8, 10, 12, 14, 16])
    expect(Array.from(new BigInt64Array(o.idx!.data.slice().buffer))).toEqual([2n, 6n, 3n, 4n, -3n, 10n])
    expect(o.h!.dtype).toBe('float16')
    expect(Array.from(new Uint16Array(o.h!.data.slice().buffer)).slice(0, 3)).toEqual([
      0x3800, 0xbc00, 0x4000,
    ])
    expect(o.mask!.dtype).toBe('bool')
    expect(Array.from(o.mask!.data)).toEqual([0, 1, 0, 1, 0, 1])
    expect(r.microBatches).toBe(2)
  })

  it('rejects inputs that do not match the model before running anything', async () => {
    const spec = { kind: 'inference' as const, profile: profile(8) }
    const cases: [NamedTensors, RegExp][] = [
      [{ wrong: f32([2, 6], new Float32Array(12)) }, /input wrong is not an input of the model/],
      [{}, /input input is missing/],
      [
        { input: { dtype: 'int32', dims: [2, 6], data: new Uint8Array(48) } },
        /is int32; the model takes float32/,
      ],
      [{ input: f32([12], new Float32Array(12)) }, /rank 1; the model takes rank 2/],
      [{ input: f32([2, 5], new Float32Array(10)) }, /size 5 on axis 1; the model takes 6/],
    ]
    for (const [inputs, message] of cases) {
      const err = await executor.runInference({ spec, model: mlpModel, inputs }).catch((e) => e)
      expect(err).toBeInstanceOf(ExecutorError)
      expect(err.code).toBe('EXECUTOR_INPUT_MISMATCH')
      expect(err.message).toMatch(message)
    }
  })
})
