import { describe, expect, it } from 'vitest'
import {
  acceptsToken,
  decoderLayout,
  generationLeaf,
  keptTokens,
  type ModelSignature,
  PAD_TOKEN,
  parseGenerateJobSpec,
  pickToken,
  promptsOf,
  uniformFor,
  ZERO_DIGEST,
} from '../../src/executor/index.js'
import { profile } from './helpers.js'

const logits = Float32Array.from([0.5, 3, -1, 2.9, 1, 0, -2, 2])

function int64(rows: number[][]) {
  const flat = BigInt64Array.from(rows.flat().map(BigInt))
  return { dtype: 'int64' as const, dims: [rows.length, rows[0]!.length], data: new Uint8Array(flat.buffer) }
}

describe('sampling rule', () => {
  it('draws one reproducible uniform per (seed, prompt, position)', () => {
    const u = uniformFor('s', 0, 3)
    expect(u).toBeGreaterThanOrEqual(0)
    expect(u).toBeLessThan(1)
    expect(uniformFor('s', 0, 3)).toBe(u)
    expect(uniformFor('s', 1, 3)).not.toBe(u)
    expect(uniformFor('t', 0, 3)).not.toBe(u)
  })

  it('picks the argmax greedily, and only kept tokens under top-k and top-p', () => {
    expect(pickToken(logits, { temperature: 0 }, 0.9)).toBe(1)
    expect(keptTokens(logits, { temperature: 1, topK: 3 }).ids).toEqual([1, 3, 7])
    for (let i = 0; i < 50; i++) {
      const u = uniformFor('k', 0, i)
      expect([1, 3, 7]).toContain(pickToken(logits, { temperature: 1, topK: 3 }, u))
      expect([1, 3]).toContain(pickToken(logits, { temperature: 1, topP: 0.5 }, u))
    }
    // inverse CDF in token-id order: u near 0 is the lowest kept id, near 1 the highest
    expect(pickToken(logits, { temperature: 1, topK: 3 }, 0)).toBe(1)
    expect(pickToken(logits, { temperature: 1, topK: 3 }, 0.999999)).toBe(7)
  })

  it('accepts an honest pick from slightly different logits and refuses a forged token', () => {
    const rule = { temperature: 0.8, topK: 4 }
    for (let i = 0; i < 40; i++) {
      const u = uniformFor('v', 0, i)
      const honest = pickToken(logits, rule, u)
      const nudged = logits.map((v, j) => v + (j % 2 ? 1e-5 : -1e-5))
      expect(acceptsToken(nudged, rule, u, honest, 1e-4)).toBe(true)
      // a token the rule cut off is never accepted, nor one far from u's interval
      expect(acceptsToken(nudged, rule, u, 6, 1e-4)).toBe(false)
    }
    const u = 0.01
    expect(pickToken(logits, rule, u)).toBe(1)
    expect(acceptsToken(logits, rule, u, 7, 1e-4)).toBe(false)
    // greedy near-tie: 3 (2.9) is within 2ε of the max 3 only for ε ≥ 0.05
    expect(acceptsToken(logits, { temperature: 0 }, u, 3, 0.01)).toBe(false)
    expect(acceptsToken(logits, { temperature: 0 }, u, 3, 0.06)).toBe(true)
    expect(acceptsToken(logits, { temperature: 0 }, u, 99, 1)).toBe(false)
  })

  it('gives each leaf its own hash and a padding leaf after a stop', () => {
    const d = `0x${'ab'.repeat(32)}` as const
    const a = generationLeaf(0, 1, 5, d)
    expect(generationLeaf(0, 1, 5, d)).toBe(a)
    expect(generationLeaf(1, 1, 5, d)).not.toBe(a)
    expect(generationLeaf(0, 2, 5, d)).not.toBe(a)
    expect(generationLeaf(0, 1, 6, d)).not.toBe(a)
    expect(generationLeaf(0, 1, PAD_TOKEN, ZERO_DIGEST)).not.toBe(a)
  })
})

describe('generate job spec and inputs', () => {
  const base = {
    kind: 'generate',
    profile: profile(1),
    maxNewTokens: 8,
    seed: 'x',
    sampling: { temperature: 0 },
  }

  it('parses a spec and names the field it refuses', () => {
    expect(parseGenerateJobSpec({ ...base, stopTokens: [2] }).stopTokens).toEqual([2])
    expect(() => parseGenerateJobSpec({ ...base, maxNewTokens: 0 })).toThrow(/spec.maxNewTokens/)
    expect(() => parseGenerateJobSpec({ ...base, sampling: { temperature: 0, topK: 3 } })).toThrow(/greedy/)
    expect(() => parseGenerateJobSpec({ ...base, sampling: { temperature: 1, topP: 0 } })).toThrow(
      /spec.sampling.topP/,
    )
    expect(() => parseGenerateJobSpec({ ...base, seed: '' })).toThrow(/spec.seed/)
    expect(() => parseGenerateJobSpec({ ...base, extra: 1 })).toThrow(/spec.extra is not a known field/)
  })

  it('drops padding from prompts and refuses tokens outside the vocabulary', () => {
    const ids = int64([
      [0, 0, 5, 6],
      [7, 8, 9, 10],
    ])
    const mask = int64([
      [0, 0, 1, 1],
      [1, 1, 1, 1],
    ])
    expect(promptsOf({ input_ids: ids, attention_mask: mask }, 16)).toEqual([
      [5, 6],
      [7, 8, 9, 10],
    ])
    expect(() => promptsOf({ input_ids: ids }, 8)).toThrow(/token 8, outside the vocabulary of 8/)
    expect(() => promptsOf({ input_ids: ids, pixel_values: ids }, 16)).toThrow(/not pixel_values/)
  })

  it('reads the decoder layout and names the first missing part', () => {
    const cache = (name: string) => ({ name, type: 'float32', shape: ['batch', 4, 'past', 8] })
    const sig: ModelSignature = {
      inputs: [
        { name: 'input_ids', type: 'int64', shape: ['batch', 'seq'] },
        { name: 'attention_mask', type: 'int64', shape: ['batch', 'total'] },
        cache('past_key_values.0.key'),
        cache('past_key_values.0.value'),
      ],
      outputs: [
        { name: 'logits', type: 'float32', shape: ['batch', 'seq', 50] },
        cache('present.0.key'),
        cache('present.0.value'),
      ],
    }
    expect(decoderLayout(sig)).toMatchObject({ positionIds: false, heads: 4, headDim: 8, vocab: 50 })
    expect(() => decoderLayout({ ...sig, outputs: sig.outputs.slice(0, 2) })).toThrow(
      /no output present.0.value.*docs\/execution.md/,
    )
    expect(() => decoderLayout({ ...sig, inputs: sig.inputs.slice(0, 2) })).toThrow(
      /no input past_key_values.0.key/,
    )
  })
})
