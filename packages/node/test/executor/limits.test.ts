import { buildMlpModel, encodeOnnxModel, GraphBuilder } from '@ocn/prover'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createExecutor,
  ExecutorError,
  type InferenceJob,
  installedProviders,
} from '../../src/executor/index.js'
import { blobs, classifierSpec, f32, lcg, profile, randomMlp, referenceMlp, workerUrl } from './helpers.js'

const mlp = randomMlp([6, 16, 4], 'tanh', 2)
const x = Float32Array.from({ length: 20 * 6 }, lcg(1))
const goodJob: InferenceJob = {
  spec: { kind: 'inference', profile: profile(4) },
  model: encodeOnnxModel(buildMlpModel(mlp)),
  inputs: { input: f32([20, 6], x) },
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err) => err,
  )
  expect(e).toBeInstanceOf(ExecutorError)
  return (e as ExecutorError).code
}

/** seconds of single-threaded MatMuls: long enough to outlive a short timeout. */
function slowModel(): Uint8Array {
  const b = new GraphBuilder('slow')
  const input = b.input('input', 'float32', ['batch', 6])
  const m = b.initializer('m', 'float32', [1200, 1200], new Float32Array(1200 * 1200).fill(0.0005))
  let h = b.op('Expand', [b.op('ReduceSum', [input], { keepdims: 1 }), b.constant([1200, 1200], 'int64')])
  for (let i = 0; i < 60; i++) h = b.op('MatMul', [h, m])
  b.output(b.op('ReduceSum', [h], { keepdims: 1 }), 'float32', [1, 1], 'out')
  return encodeOnnxModel(b.build())
}

describe.each(['thread', 'process'] as const)('executor limits and failures (%s workers)', (isolation) => {
  const registry = new Registry()
  const executor = createExecutor(
    {
      workerUrl,
      options: { poolSize: 2, maxTensorElements: 100_000, maxModelBytes: 64 * 1024 * 1024, isolation },
    },
    { metricsRegistry: registry },
  )
  beforeAll(() => executor.start())
  afterAll(() => executor.stop())

  /** The pool still answers correctly. */
  async function stillServes(): Promise<void> {
    const r = await executor.runInference(goodJob)
    const got = new Float32Array(r.outputs!.output!.data.slice().buffer)
    const want = referenceMlp(mlp, x, 20)
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4)
  }

  it('a corrupt model is EXECUTOR_MODEL_INVALID and the pool keeps serving', async () => {
    const good = goodJob.model
    const truncated = good.subarray(0, good.length >> 1)
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)
    for (const model of [truncated, garbage]) {
      expect(await code(executor.runInference({ ...goodJob, model }))).toBe('EXECUTOR_MODEL_INVALID')
    }
    // a well-formed graph with an operator that does not exist
    const b = new GraphBuilder()
    b.output(b.op('NoSuchOp', [b.input('input', 'float32', ['batch', 6])]), 'float32', undefined, 'output')
    expect(await code(executor.runInference({ ...goodJob, model: encodeOnnxModel(b.build()) }))).toBe(
      'EXECUTOR_MODEL_INVALID',
    )
    await stillServes()
  })

  it('a wrong input is EXECUTOR_INPUT_MISMATCH and the pool keeps serving', async () => {
    const inputs = { input: { dtype: 'float64' as const, dims: [20, 6], data: new Uint8Array(20 * 6 * 8) } }
    expect(await code(executor.runInference({ ...goodJob, inputs }))).toBe('EXECUTOR_INPUT_MISMATCH')
    await stillServes()
  })

  it('an oversized tensor or model is refused before it reaches a worker', async () => {
    const big = { input: f32([20_000, 6], new Float32Array(120_000)) }
    expect(await code(executor.runInference({ ...goodJob, inputs: big }))).toBe('EXECUTOR_TENSOR_TOO_LARGE')
    const huge = new Uint8Array(64 * 1024 * 1024 + 1)
    expect(await code(executor.runInference({ ...goodJob, model: huge }))).toBe('EXECUTOR_MODEL_TOO_LARGE')
    await stillServes()
  })

  it('a timeout is EXECUTOR_TIMEOUT, the busy worker is replaced and the pool keeps serving', async () => {
    const restarts = async () =>
      (await registry.getSingleMetric('ocn_executor_worker_restarts_total')!.get()).values[0]?.value ?? 0
    const before = await restarts()
    const job = { ...goodJob, model: slowModel(), inputs: { input: f32([1, 6], [1, 2, 3, 4, 5, 6]) } }
    expect(await code(executor.runInference(job, { timeoutMs: 300 }))).toBe('EXECUTOR_TIMEOUT')
    expect(await restarts()).toBe(before + 1)
    await stillServes()
  })

  it('an aborted job is EXECUTOR_ABORTED', async () => {
    const controller = new AbortController()
    const p = executor.runInference(goodJob, { signal: controller.signal })
    controller.abort()
    expect(await code(p)).toBe('EXECUTOR_ABORTED')
    await stillServes()
  })

  it('a job aborted with micro-batches queued in busy workers is EXECUTOR_ABORTED; a job beside it is not', async () => {
    // 4 slow micro-batches on 2 workers: the pool pipelines one behind a running one, so
    // the abort meets running, sent-but-not-started and not-yet-sent micro-batches
    const slow = {
      spec: { kind: 'inference' as const, profile: profile(1) },
      model: slowModel(),
      inputs: {
        input: f32(
          [4, 6],
          Array.from({ length: 24 }, (_, i) => i / 24),
        ),
      },
    }
    const controller = new AbortController()
    const aborted = executor.runInference(slow, { signal: controller.signal })
    const beside = executor.runInference(goodJob)
    setTimeout(() => controller.abort(), 200)
    expect(await code(aborted)).toBe('EXECUTOR_ABORTED')
    const r = await beside
    const got = new Float32Array(r.outputs!.output!.data.slice().buffer)
    const want = referenceMlp(mlp, x, 20)
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4)
    await stillServes()
  })

  it('a missing device is EXECUTOR_DEVICE_UNAVAILABLE naming how to install it; never a silent CPU run', async () => {
    if (installedProviders().includes('cuda')) return
    const spec = { kind: 'inference' as const, profile: profile(4, { executionProvider: 'cuda' }) }
    const err = await executor.runInference({ ...goodJob, spec }).catch((e) => e)
    expect(err.code).toBe('EXECUTOR_DEVICE_UNAVAILABLE')
    expect(err.message).toMatch(/onnxruntime-node-install=cuda12/)
  })

  it('webgpu runs where an adapter exists and is EXECUTOR_DEVICE_UNAVAILABLE where none does', async () => {
    const spec = {
      kind: 'inference' as const,
      profile: profile(4, { executionProvider: 'webgpu', comparison: { tolerance: 1e-3 } }),
    }
    const outcome = await executor.runInference({ ...goodJob, spec }).then(
      (r) => r,
      (e) => e,
    )
    if (outcome instanceof ExecutorError) {
      expect(outcome.code).toBe('EXECUTOR_DEVICE_UNAVAILABLE')
      expect(outcome.message).toMatch(/webgpu/)
    } else {
      expect(outcome.outputs!.output!.dims).toEqual([20, 4])
    }
    await stillServes()
  })

  it('a spec pinning another ONNX Runtime version is EXECUTOR_SPEC_INVALID', async () => {
    const spec = { kind: 'inference' as const, profile: profile(4, { ortVersion: '1.17.0' }) }
    expect(await code(executor.runInference({ ...goodJob, spec }))).toBe('EXECUTOR_SPEC_INVALID')
    expect(
      await code(
        executor.runInference({
          ...goodJob,
          spec: { kind: 'inference', profile: { microBatchSize: 0 } } as never,
        }),
      ),
    ).toBe('EXECUTOR_SPEC_INVALID')
  })

  it('reports capabilities', async () => {
    const caps = await executor.capabilities()
    expect(caps.executionProviders).toContain('cpu')
    expect(caps.cores).toBeGreaterThan(0)
    expect(caps.memoryBytes).toBeGreaterThan(0)
    expect(caps.backends.map((b) => b.name)).toContain('cuda')
  })
})

describe('worker isolation', () => {
  it('a worker process that runs out of memory is EXECUTOR_WORKER_CRASHED and is replaced', async () => {
    const executor = createExecutor({
      workerUrl,
      options: { poolSize: 1, workerMemoryMb: 48, isolation: 'process' },
    })
    await executor.start()
    try {
      const spec = classifierSpec({ epochs: 1, checkpointInterval: 1 })
      // a hostile "checkpoint": a safetensors header (under the 16 MB header cap) of 750k
      // metadata entries, which JSON.parse inflates far past the worker's 48 MB heap
      const parts = ['{"__metadata__":{']
      for (let i = 0; i < 750_000; i++) parts.push(`"k${i}":"v${i}",`)
      parts.push('"z":"z"}}')
      const json = new TextEncoder().encode(parts.join(''))
      const hostile = new Uint8Array(8 + json.length)
      new DataView(hostile.buffer).setBigUint64(0, BigInt(json.length), true)
      hostile.set(json, 8)
      const dataset = blobs(30)
      const replay = executor.trainingReplay(
        { spec, dataset },
        { loadCheckpoint: async () => hostile, expectedHash: async () => `0x${'00'.repeat(32)}` },
      )
      expect(await code(replay.runTrainingSegment(1))).toBe('EXECUTOR_WORKER_CRASHED')
      // the replacement worker serves: segment 0 (the initial state) replays fine
      expect(await replay.runTrainingSegment(0)).toMatch(/^0x[0-9a-f]{64}$/)
    } finally {
      await executor.stop()
    }
  })
})
