import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover'
import { describe, expect, it } from 'vitest'
import {
  decodeNpy,
  decodeSafetensors,
  ExecutorError,
  encodeNpy,
  encodeSafetensors,
  type HostTensor,
  parseJobSpec,
  readTensorFiles,
  runInferenceFiles,
  tensorDTypes,
} from '../../src/executor/index.js'
import { f32, lcg, profile, randomMlp, testExecutor } from './helpers.js'

function sample(dtype: HostTensor['dtype'], dims: number[]): HostTensor {
  const size =
    { float64: 8, int64: 8, uint64: 8, float32: 4, int32: 4, uint32: 4 }[dtype as string] ??
    (['float16', 'int16', 'uint16'].includes(dtype) ? 2 : 1)
  const n = dims.reduce((a, b) => a * b, 1)
  const data = Uint8Array.from({ length: n * size }, (_, i) =>
    dtype === 'bool' ? i % 2 : (i * 37 + 11) & 0xff,
  )
  return { dtype, dims, data }
}

function expectCode(f: () => unknown, code: string, message?: RegExp) {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ExecutorError)
    expect((e as ExecutorError).code).toBe(code)
    if (message) expect((e as Error).message).toMatch(message)
    return
  }
  expect.unreachable('no error thrown')
}

describe('tensor file formats', () => {
  it('round-trips every dtype through safetensors and .npy', () => {
    const tensors = Object.fromEntries(
      tensorDTypes.map((d, i) => [`t_${d}`, sample(d, i % 3 === 0 ? [3] : [2, i + 1])]),
    )
    const file = decodeSafetensors(encodeSafetensors(tensors, { producer: 'ocn' }))
    expect(file.metadata).toEqual({ producer: 'ocn' })
    for (const [name, t] of Object.entries(tensors)) {
      expect(file.tensors[name]!.dtype).toBe(t.dtype)
      expect(file.tensors[name]!.dims).toEqual(t.dims)
      expect(Array.from(file.tensors[name]!.data)).toEqual(Array.from(t.data))
      const npy = decodeNpy(encodeNpy(t))
      expect(npy.dims).toEqual(t.dims)
      expect(npy.dtype).toBe(t.dtype)
      expect(Array.from(npy.data)).toEqual(Array.from(t.data))
    }
    // scalars and empty tensors too
    expect(decodeNpy(encodeNpy(sample('float32', []))).dims).toEqual([])
    expect(decodeNpy(encodeNpy(sample('int64', [0, 4]))).dims).toEqual([0, 4])
  })

  it('writes .npy headers the way NumPy does (64-byte aligned, version 1.0)', () => {
    const bytes = encodeNpy(f32([2, 3], [1, 2, 3, 4, 5, 6]))
    const headerLen = bytes[8]! | (bytes[9]! << 8)
    expect((10 + headerLen) % 64).toBe(0)
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen))
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/)
  })

  it('reads big-endian .npy and refuses Fortran order', () => {
    const header = "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }"
    const padded = header + ' '.repeat(128 - 10 - header.length - 1) + '\n'
    const bytes = new Uint8Array(128 + 8)
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0])
    bytes.set(new TextEncoder().encode(padded), 10)
    bytes.set([0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe], 128)
    const t = decodeNpy(bytes)
    expect(Array.from(new Int32Array(t.data.slice().buffer))).toEqual([258, -2])
    const fortran = bytes.slice()
    fortran.set(new TextEncoder().encode(padded.replace('False', 'True ')), 10)
    expectCode(() => decodeNpy(fortran), 'EXECUTOR_FORMAT_INVALID', /Fortran/)
  })

  it('refuses malformed safetensors with a typed error', () => {
    const good = encodeSafetensors({ a: f32([2], [1, 2]), b: f32([1], [3]) })
    const header = (json: string, data = 0) => {
      const h = new TextEncoder().encode(json)
      const out = new Uint8Array(8 + h.length + data)
      new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true)
      out.set(h, 8)
      return out
    }
    expectCode(() => decodeSafetensors(good.subarray(0, 5)), 'EXECUTOR_FORMAT_INVALID')
    expectCode(() => decodeSafetensors(good.subarray(0, good.length - 1)), 'EXECUTOR_FORMAT_INVALID')
    expectCode(() => decodeSafetensors(header('{"a": 1')), 'EXECUTOR_FORMAT_INVALID', /not JSON/)
    expectCode(
      () =>
        decodeSafetensors(
          header(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
            8,
          ),
        ),
      'EXECUTOR_FORMAT_INVALID',
    )
    expectCode(
      () => decodeSafetensors(header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8)),
      'EXECUTOR_FORMAT_INVALID',
      /shape/,
    )
    expectCode(
      () => decodeSafetensors(header('{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', 8)),
      'EXECUTOR_FORMAT_INVALID',
      /dtype/,
    )
    const huge = new Uint8Array(16)
    new DataView(huge.buffer).setBigUint64(0, 2n ** 60n, true)
    expectCode(() => decodeSafetensors(huge), 'EXECUTOR_FORMAT_INVALID', /header length/)
    const big = header(`{"__metadata__":{"k":"${'x'.repeat(2000)}"}}`)
    expectCode(
      () => decodeSafetensors(big, { maxHeaderBytes: 1000 }),
      'EXECUTOR_FORMAT_INVALID',
      /larger than allowed/,
    )
  })

  it('validates job specs field by field', () => {
    const good = { kind: 'inference', profile: profile(8) }
    expect(parseJobSpec(good)).toEqual(good)
    expectCode(() => parseJobSpec({ ...good, extra: 1 }), 'EXECUTOR_SPEC_INVALID', /spec\.extra/)
    expectCode(
      () => parseJobSpec({ ...good, profile: { ...good.profile, intraOpThreads: 0 } }),
      'EXECUTOR_SPEC_INVALID',
      /intraOpThreads/,
    )
    expectCode(
      () => parseJobSpec({ ...good, profile: { ...good.profile, executionProvider: 'tpu' } }),
      'EXECUTOR_SPEC_INVALID',
      /executionProvider/,
    )
    expectCode(
      () =>
        parseJobSpec({
          kind: 'training',
          profile: profile(8, { weightsSupply: 'feeds' }),
          model: { baseModel: true },
          loss: 'mse',
          optimizer: { type: 'adam', learningRate: 0.01 },
          batchSize: 16,
          epochs: 1,
          seed: 's',
          checkpointInterval: 5,
        }),
      'EXECUTOR_SPEC_INVALID',
      /microBatchSize must equal spec.batchSize/,
    )
  })

  it('runs a job from files: .npy inputs in, safetensors outputs and leaves out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ocn-files-'))
    const executor = testExecutor({ poolSize: 1 })
    await executor.start()
    try {
      await writeFile(join(dir, 'model.onnx'), encodeOnnxModel(buildMlpModel(randomMlp([4, 8, 2], 'relu'))))
      await writeFile(
        join(dir, 'input.npy'),
        encodeNpy(f32([10, 4], Float32Array.from({ length: 40 }, lcg(2)))),
      )
      const result = await runInferenceFiles(executor, {
        spec: { kind: 'inference', profile: profile(4) },
        modelPath: join(dir, 'model.onnx'),
        inputPaths: [join(dir, 'input.npy')],
        outputPath: join(dir, 'outputs.safetensors'),
      })
      expect(result.microBatches).toBe(3)
      const written = await readTensorFiles([join(dir, 'outputs.safetensors')])
      expect(written.output!.dims).toEqual([10, 2])
      await expect(readTensorFiles([join(dir, 'model.onnx')])).rejects.toMatchObject({
        code: 'EXECUTOR_FORMAT_INVALID',
      })
    } finally {
      await executor.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
