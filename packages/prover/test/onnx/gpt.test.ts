import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildGptModel, encodeOnnxModel, type GptConfig, gptCacheNames } from '../../src/onnx/index.js'

const config: GptConfig = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 64, seed: 7 }
const headDim = config.dModel / config.heads

let session: ort.InferenceSession

beforeAll(async () => {
  session = await ort.InferenceSession.create(encodeOnnxModel(buildGptModel(config)), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  })
})
afterAll(() => session.release())

const ints = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length])

/** One call: `tokens` after a cache of `past` positions; the logits of its last position and the new cache. */
async function step(tokens: number[], past: Map<string, ort.Tensor>, pastLength: number) {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: ints(tokens),
    attention_mask: ints(Array(pastLength + tokens.length).fill(1)),
    position_ids: ints(tokens.map((_, i) => pastLength + i)),
  }
  for (let i = 0; i < config.layers; i++) {
    const n = gptCacheNames(i)
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, config.heads, 0, headDim])
    feeds[n.pastKey] = past.get(n.presentKey) ?? empty
    feeds[n.pastValue] = past.get(n.presentValue) ?? empty
  }
  const out = await session.run(feeds)
  const next = new Map<string, ort.Tensor>()
  for (let i = 0; i < config.layers; i++) {
    const n = gptCacheNames(i)
    next.set(n.presentKey, out[n.presentKey]!)
    next.set(n.presentValue, out[n.presentValue]!)
  }
  const logits = out.logits!
  const all = logits.data as Float32Array
  return {
    logits,
    last: all.slice((tokens.length - 1) * config.vocab, tokens.length * config.vocab),
    cache: next,
  }
}

describe('GPT fixture', () => {
  it('has the export layout: ids, mask, positions and a KV cache in; logits and present out', () => {
    expect(session.inputNames).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      'past_key_values.0.key',
      'past_key_values.0.value',
      'past_key_values.1.key',
      'past_key_values.1.value',
    ])
    expect(session.outputNames).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
    ])
  })

  it('gives the same logits from one prefill as from one-token steps with the KV cache', async () => {
    const prompt = [3, 17, 42, 5, 60, 0, 11, 29]
    const prefill = await step(prompt, new Map(), 0)
    expect(prefill.logits.dims).toEqual([1, prompt.length, config.vocab])
    expect(prefill.cache.get('present.1.value')!.dims).toEqual([1, config.heads, prompt.length, headDim])
    let cache = new Map<string, ort.Tensor>()
    let last = new Float32Array()
    for (let i = 0; i < prompt.length; i++) {
      const r = await step([prompt[i]!], cache, i)
      cache = r.cache
      last = r.last
      // every position, not just the last: step i equals row i of the prefill
      const row = (prefill.logits.data as Float32Array).slice(i * config.vocab, (i + 1) * config.vocab)
      for (let v = 0; v < config.vocab; v++) expect(Math.abs(r.last[v]! - row[v]!)).toBeLessThan(1e-4)
    }
    for (let v = 0; v < config.vocab; v++) expect(Math.abs(last[v]! - prefill.last[v]!)).toBeLessThan(1e-4)
    // the logits are spread out enough that sampling has a choice to make
    const spread = Math.max(...last) - Math.min(...last)
    expect(spread).toBeGreaterThan(1)
  })

  it('is the same model bit for bit for the same seed, another for another seed', () => {
    const a = encodeOnnxModel(buildGptModel(config))
    expect(Buffer.compare(Buffer.from(a), Buffer.from(encodeOnnxModel(buildGptModel(config))))).toBe(0)
    expect(
      Buffer.compare(Buffer.from(a), Buffer.from(encodeOnnxModel(buildGptModel({ ...config, seed: 8 })))),
    ).not.toBe(0)
  })
})
