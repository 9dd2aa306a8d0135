/**
 * Stateful sequence jobs on a real ONNX Runtime: the VAD-like fixture (audio [batch, 32],
 * state [2, batch, 128] with batch on axis 1, scalar int64 sample rate) over chunks of two
 * streams; leaves per chunk that bind the incoming state; single chunks replayed from the
 * provider's served state.
 */
import { buildStatefulVadModel, encodeOnnxModel } from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  chunkOf,
  ExecutorError,
  type NamedTensors,
  type SequenceLeafPreimage,
  type SequenceResult,
  sequenceLeafHash,
  sequenceStateHash,
  sliceAxis,
} from '../../src/executor/index.js'
import { f32, lcg, profile, testExecutor } from './helpers.js'

const executor = testExecutor({ isolation: 'thread' })
beforeAll(() => executor.start())
afterAll(() => executor.stop())

const model = encodeOnnxModel(buildStatefulVadModel())
const chunks = 3
const streams = 2
const audio = f32([chunks, streams, 32], Float32Array.from({ length: chunks * streams * 32 }, lcg(5)))
const sr: NamedTensors['sr'] = {
  dtype: 'int64',
  dims: [],
  data: new Uint8Array(new BigInt64Array([16000n]).buffer),
}
const spec = {
  kind: 'sequence' as const,
  profile: profile(1),
  state: [{ output: 'stateN', input: 'state' }],
}
const job = { spec, model, inputs: { input: audio, sr } }

/** A plain onnxruntime-node loop: each stream on its own, state carried chunk to chunk. */
async function reference(): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  })
  const probs: Float32Array[] = []
  for (let s = 0; s < streams; s++) {
    let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128])
    for (let c = 0; c < chunks; c++) {
      const x = sliceAxis(chunkOf(audio, c), 0, s, s + 1)
      const out = await session.run({
        input: new ort.Tensor('float32', new Float32Array(x.data.slice().buffer), [1, 32]),
        state,
        sr: new ort.Tensor('int64', new BigInt64Array([16000n]), []),
      })
      probs.push(out.output!.data as Float32Array)
      state = out.stateN as ort.Tensor
    }
  }
  await session.release()
  return probs
}

let result: SequenceResult
beforeAll(async () => {
  result = await executor.runSequence(job)
})

function source(
  r: SequenceResult,
  overrides: { state?: NamedTensors; preimage?: SequenceLeafPreimage } = {},
) {
  return {
    incomingState: async (i: number) => overrides.state ?? r.states[i]!,
    preimage: async (i: number) => overrides.preimage ?? r.preimages[i]!,
    expectedLeaf: async (i: number) => r.dataHashes[i]!,
  }
}

describe('sequence jobs', () => {
  it('runs every stream chunk by chunk and matches a plain onnxruntime loop bit for bit', async () => {
    expect(await executor.checkSequence(job)).toEqual({ streams, chunks, leaves: streams * chunks })
    expect(result.dataHashes).toHaveLength(streams * chunks)
    const prob = result.outputs.output!
    expect(prob.dims).toEqual([chunks, streams, 1])
    expect(result.outputs.stateN!.dims).toEqual([chunks, 2, streams, 128])
    const got = new Float32Array(prob.data.slice().buffer)
    const want = await reference()
    // leaf order is stream-major; the outputs file is chunk-major like the inputs
    for (let s = 0; s < streams; s++)
      for (let c = 0; c < chunks; c++) expect(got[c * streams + s]).toBe(want[s * chunks + c]![0])
  })

  it('commits the incoming state in each leaf: chunk 0 from zeros, chunk c from chunk c-1', () => {
    const zeros = { state: { dtype: 'float32' as const, dims: [2, 1, 128], data: new Uint8Array(1024) } }
    expect(result.preimages[0]!.stateIn).toBe(sequenceStateHash(zeros))
    expect(result.preimages[1]!.stateIn).toBe(result.preimages[0]!.stateOut)
    expect(result.preimages[chunks]!.stateIn).toBe(sequenceStateHash(zeros))
    expect(result.preimages.map(sequenceLeafHash)).toEqual(result.dataHashes)
  })

  it('replays a sampled chunk from the served incoming state without re-running the stream', async () => {
    const replay = executor.sequenceReplay(job, source(result))
    expect(await replay.runMicroBatch(chunks + 2)).toBe(result.dataHashes[chunks + 2])
    expect(await replay.runMicroBatch(0)).toBe(result.dataHashes[0])
  })

  it('refuses a served state or preimage that is not the committed one', async () => {
    const other = executor.sequenceReplay(job, source(result, { state: result.states[1]! }))
    await expect(other.runMicroBatch(2)).rejects.toThrow(
      /incoming state of leaf 2 is not the committed state/,
    )
    const forged = { ...result.preimages[0]!, stateOut: result.preimages[1]!.stateOut }
    const lying = executor.sequenceReplay(job, source(result, { preimage: forged }))
    await expect(lying.runMicroBatch(1)).rejects.toThrow(/preimage of leaf 0 is not its committed leaf/)
  })

  it('a leaf forged from another state does not replay to the committed hash', async () => {
    // a provider that restarts stream 0 at chunk 2 from zeros commits a leaf the replay does not give
    const zeros = { state: { dtype: 'float32' as const, dims: [2, 1, 128], data: new Uint8Array(1024) } }
    const replay = executor.sequenceReplay(job, source(result))
    const honest = await replay.runMicroBatch(2)
    expect(honest).toBe(result.dataHashes[2])
    const forgedReplay = executor.sequenceReplay(job, {
      ...source(result),
      incomingState: async () => zeros,
    })
    await expect(forgedReplay.runMicroBatch(2)).rejects.toBeInstanceOf(ExecutorError)
  })

  it('refusals name the blocker and the flag: a state pair the model lacks, a sequenced input without chunks', async () => {
    const badPair = { ...job, spec: { ...spec, state: [{ output: 'hidden', input: 'state' }] } }
    await expect(executor.checkSequence(badPair)).rejects.toThrow(
      /an output \(hidden\).*--state hidden=state/,
    )
    const noChunks = { ...job, inputs: { input: chunkOf(audio, 0), sr } }
    await expect(executor.checkSequence(noChunks)).rejects.toThrow(
      /sequenced input input must hold \[chunks, \.\.\.the model's shape\]/,
    )
    const microBatch = { ...job, spec: { ...spec, profile: profile(2) } }
    await expect(executor.checkSequence(microBatch)).rejects.toThrow(/microBatchSize must be 1/)
  })
})
