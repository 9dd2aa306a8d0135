import { MerkleTree } from '@ocn/protocol'
import { buildGptModel, encodeOnnxModel, gptCacheNames } from '@ocn/prover/onnx'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { streamedCommitment } from '../../src/executor/generate/run.js'
import {
  type GeneratedSequence,
  type GenerateJob,
  generationLeaf,
  generationLeaves,
  PAD_TOKEN,
  parseGenerateJobSpec,
  parseJobSpec,
  type TokenEvent,
  ZERO_DIGEST,
} from '../../src/executor/index.js'
import { f32, profile, testExecutor } from './helpers.js'

const config = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 128, seed: 7 }
const model = encodeOnnxModel(buildGptModel(config))
const prompts = [
  [3, 17, 42, 5],
  [60, 1, 2, 9],
]
const executor = testExecutor()

function int64(rows: number[][]) {
  const flat = BigInt64Array.from(rows.flat().map(BigInt))
  return { dtype: 'int64' as const, dims: [rows.length, rows[0]!.length], data: new Uint8Array(flat.buffer) }
}

function job(fields: Record<string, unknown>): GenerateJob {
  const spec = parseGenerateJobSpec({
    kind: 'generate',
    profile: profile(1),
    seed: 'seed-a',
    maxNewTokens: 12,
    ...fields,
  })
  return { spec, model, inputs: { input_ids: int64(prompts) } }
}

/** A plain onnxruntime greedy loop with the KV cache: what the executor must agree with. */
async function plainGreedy(prompt: number[], steps: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  const ints = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length])
  const out: number[] = []
  let past: ort.InferenceSession.OnnxValueMapType | undefined
  let ids = prompt
  let length = 0
  for (let s = 0; s < steps; s++) {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: ints(ids),
      attention_mask: ints(Array(length + ids.length).fill(1)),
      position_ids: ints(ids.map((_, i) => length + i)),
    }
    for (let l = 0; l < config.layers; l++) {
      const n = gptCacheNames(l)
      const empty = new ort.Tensor('float32', new Float32Array(0), [1, config.heads, 0, 8])
      feeds[n.pastKey] = (past?.[n.presentKey] as ort.Tensor) ?? empty
      feeds[n.pastValue] = (past?.[n.presentValue] as ort.Tensor) ?? empty
    }
    past = await session.run(feeds)
    const all = past.logits!.data as Float32Array
    const row = all.subarray((ids.length - 1) * config.vocab, ids.length * config.vocab)
    const token = row.indexOf(Math.max(...row))
    out.push(token)
    length += ids.length
    ids = [token]
  }
  await session.release()
  return out
}

beforeAll(() => executor.start())
afterAll(() => executor.stop())

describe('generate jobs', () => {
  it('decodes greedily like a plain onnxruntime KV-cache loop, streaming each token', async () => {
    const events: TokenEvent[] = []
    const r = await executor.runGeneration(job({ sampling: { temperature: 0 } }), {
      onToken: (e) => events.push(e),
    })
    for (const [p, prompt] of prompts.entries()) {
      expect(r.sequences[p]!.tokens).toEqual(await plainGreedy(prompt, 12))
      const streamed = events.filter((e) => e.prompt === p)
      expect(streamed.map((e) => e.position)).toEqual([...Array(12).keys()])
      expect(streamed.map((e) => e.token)).toEqual(r.sequences[p]!.tokens)
    }
    expect(r.dataHashes).toHaveLength(prompts.length * 12)
    expect(r.root).toBe(MerkleTree.fromDataHashes(generationLeaves(r.sequences, 12)).root)
  })

  it('reproduces a seeded sampling run, stops at a stop token and pads its leaves', async () => {
    const sampling = { temperature: 1, topK: 20, topP: 0.95 }
    const a = await executor.runGeneration(job({ sampling }))
    expect((await executor.runGeneration(job({ sampling }))).root).toBe(a.root)
    const other = await executor.runGeneration(job({ sampling, seed: 'seed-b' }))
    expect(other.sequences.map((s) => s.tokens)).not.toEqual(a.sequences.map((s) => s.tokens))
    const stop = a.sequences[0]!.tokens[2]!
    const stopped = await executor.runGeneration(job({ sampling, stopTokens: [stop] }))
    const first = stopped.sequences[0]!.tokens
    expect(first.length).toBeLessThanOrEqual(3)
    expect(first.at(-1)).toBe(stop)
    expect(first).toEqual(a.sequences[0]!.tokens.slice(0, first.length))
    expect(stopped.dataHashes).toHaveLength(prompts.length * 12)
    expect(stopped.dataHashes[11]).toBe(generationLeaf(0, 11, PAD_TOKEN, ZERO_DIGEST))
  })

  it('verifies honest sequences from one prefill and catches a forged token', async () => {
    const j = job({ sampling: { temperature: 0.9, topK: 30 } })
    const r = await executor.runGeneration(j)
    const honest = executor.generationReplay(j, { claimedSequences: async () => r.sequences }, r.root)
    for (let i = 0; i < r.dataHashes.length; i++) {
      expect((await honest.matchesMicroBatch!(i, r.dataHashes[i]!)).match).toBe(true)
    }
    // the cheater swaps one token (keeping its digest) and commits to what it ships
    const forged: GeneratedSequence[] = r.sequences.map((s) => ({
      tokens: [...s.tokens],
      digests: [...s.digests],
    }))
    forged[1]!.tokens[5] = (forged[1]!.tokens[5]! + 1) % config.vocab
    const leaves = generationLeaves(forged, 12)
    const cheat = executor.generationReplay(
      j,
      { claimedSequences: async () => forged },
      MerkleTree.fromDataHashes(leaves).root,
    )
    // a rejected token is answered with the verifier's own leaf (a challenge's claim); an
    // accepted one stands as committed, with no row hashed for it
    const caught = await cheat.matchesMicroBatch!(12 + 5, leaves[12 + 5]!)
    expect(caught.match).toBe(false)
    expect(caught.replayed).toMatch(/^0x[0-9a-f]{64}$/)
    expect(caught.replayed).not.toBe(leaves[12 + 5])
    expect(await cheat.matchesMicroBatch!(12 + 4, leaves[12 + 4]!)).toEqual({
      match: true,
      replayed: leaves[12 + 4],
    })
    // told its sample up front, a prompt's pass stops at its last sampled position and judges
    // only those; a leaf outside the sample gets a pass of its own
    const sampled = executor.generationReplay(
      j,
      { claimedSequences: async () => forged },
      MerkleTree.fromDataHashes(leaves).root,
      { sampled: [3, 12 + 2, 12 + 5] },
    )
    const match = async (i: number) => (await sampled.matchesMicroBatch!(i, leaves[i]!)).match
    expect([await match(12 + 2), await match(12 + 5), await match(3), await match(12 + 4)]).toEqual([
      true,
      false,
      true,
      true,
    ])
    // shipping other sequences than the committed ones fails every leaf
    const mismatched = executor.generationReplay(j, { claimedSequences: async () => forged }, r.root)
    expect((await mismatched.matchesMicroBatch!(0, r.dataHashes[0]!)).match).toBe(false)
  })

  it('after a generation, inference of the same model still runs the plain graph bit for bit', async () => {
    // one worker, so the generation's decoding session and the inference meet in it: the
    // decoding session stands in for the plain one after its probe (one copy of the weights),
    // and inference must get the plain graph back, not the decoding graph's extra outputs
    const one = testExecutor({ poolSize: 1 })
    await one.start()
    try {
      const greedy = job({ sampling: { temperature: 0 } })
      const before = await one.runGeneration(greedy)
      const ids = [[3, 17, 42, 5]]
      const past = f32([1, config.heads, 0, 8], [])
      const inputs: Record<string, ReturnType<typeof f32>> = {
        input_ids: int64(ids),
        attention_mask: int64([[1, 1, 1, 1]]),
        position_ids: int64([[0, 1, 2, 3]]),
      }
      for (let l = 0; l < config.layers; l++) {
        inputs[gptCacheNames(l).pastKey] = past
        inputs[gptCacheNames(l).pastValue] = past
      }
      const spec = parseJobSpec({ kind: 'inference', profile: profile(1) })
      const got = await one.runInference({ spec, model, inputs }, { keepOutputs: true })
      const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
      const feeds: Record<string, ort.Tensor> = {}
      for (const [name, t] of Object.entries(inputs)) {
        const data =
          t.dtype === 'int64'
            ? new BigInt64Array(t.data.slice().buffer)
            : new Float32Array(t.data.slice().buffer)
        feeds[name] = new ort.Tensor(t.dtype, data, t.dims)
      }
      const want = await session.run(feeds)
      await session.release()
      expect(Object.keys(got.outputs!).sort()).toEqual(Object.keys(want).sort())
      for (const [name, t] of Object.entries(want)) {
        const bytes = new Uint8Array((t.data as Float32Array).buffer.slice(0))
        expect(Buffer.from(got.outputs![name]!.data).equals(Buffer.from(bytes)), name).toBe(true)
      }
      // and generation and its check after that inference are what they were
      const after = await one.runGeneration(greedy)
      expect(after.root).toBe(before.root)
      const replay = one.generationReplay(
        greedy,
        { claimedSequences: async () => after.sequences },
        after.root,
      )
      expect((await replay.matchesMicroBatch!(3, after.dataHashes[3]!)).match).toBe(true)
    } finally {
      await one.stop()
    }
  })

  it('commits from streamed leaves only where they agree with the final sequences', () => {
    const digest = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const
    const sequences: GeneratedSequence[] = [
      { tokens: [4, 8, 15], digests: [digest(1), digest(2), digest(3)] },
      { tokens: [16, 23], digests: [digest(4), digest(5)] },
    ]
    const c = streamedCommitment(4)
    c.add(0, 0, 4, digest(1)) // agrees
    c.add(0, 1, 9, digest(2)) // another token than the final one
    c.add(0, 2, 15, digest(9)) // another digest
    c.add(1, 3, 42, digest(6)) // a position the final sequence pads
    c.add(1, 7, 1, digest(7)) // past maxNewTokens
    const expected = MerkleTree.fromDataHashes(generationLeaves(sequences, 4))
    const got = c.commit(sequences)
    expect(got.dataHashes).toEqual(generationLeaves(sequences, 4))
    expect(got.root).toBe(expected.root)
    expect(got.tree.proof(5)).toEqual(expected.proof(5))
  })
})
