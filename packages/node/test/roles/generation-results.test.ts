/**
 * A generate job across the roles, without a runtime: the manifest the provider serves is
 * parsed strictly, the requester rebuilds every committed leaf from it (a forged token, a
 * digest swapped, a sequence cut short all show as mismatches), and streamed tokens are
 * handed on throttled and in order.
 */
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import { generationLeaves, parseGenerateJobSpec } from '../../src/executor/index.js'
import {
  type GenerationManifest,
  generationLeafCount,
  generationMismatches,
  parseGenerationManifest,
  tokenStream,
} from '../../src/roles/generation.js'
import { resultFiles } from '../../src/roles/requester/result-files.js'
import type { JobRecord } from '../../src/state/records.js'
import { profile } from '../executor/helpers.js'

const h = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
const maxNewTokens = 4

function honest(): { manifest: GenerationManifest; leaves: Hex[] } {
  const manifest: GenerationManifest = {
    kind: 'generate',
    sequences: [
      { tokens: [5, 6, 7, 8], digests: [h(1), h(2), h(3), h(4)] },
      // stopped after two tokens: the last two leaves are padding
      { tokens: [9, 0], digests: [h(5), h(6)] },
    ],
  }
  return { manifest, leaves: generationLeaves(manifest.sequences, maxNewTokens) }
}

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('generate results across the roles', () => {
  it('an honest manifest gives every committed leaf', () => {
    const { manifest, leaves } = honest()
    expect(leaves).toHaveLength(8)
    expect(generationMismatches(manifest, maxNewTokens, leaves)).toEqual([])
    expect(parseGenerationManifest(bytes(manifest))).toEqual(manifest)
  })

  it('a forged token or a swapped digest is the mismatch of its own position only', () => {
    const { manifest, leaves } = honest()
    manifest.sequences[0]!.tokens[2] = 42
    manifest.sequences[1]!.digests[1] = h(99)
    expect(generationMismatches(manifest, maxNewTokens, leaves)).toEqual([2, 5])
  })

  it('a sequence cut short is a mismatch where the padding starts; more tokens than the limit fail every leaf', () => {
    const { manifest, leaves } = honest()
    manifest.sequences[0] = { tokens: [5, 6], digests: [h(1), h(2)] }
    expect(generationMismatches(manifest, maxNewTokens, leaves)).toEqual([2, 3])
    const long = honest()
    long.manifest.sequences[1] = { tokens: [1, 2, 3, 4, 5], digests: [h(1), h(2), h(3), h(4), h(5)] }
    expect(generationMismatches(long.manifest, maxNewTokens, long.leaves)).toHaveLength(8)
    const fewer = honest()
    fewer.manifest.sequences.pop()
    expect(generationMismatches(fewer.manifest, maxNewTokens, fewer.leaves)).toHaveLength(8)
  })

  it('a malformed manifest is refused with what is wrong', () => {
    expect(() => parseGenerationManifest(new TextEncoder().encode('{'))).toThrow(/not JSON/)
    expect(() => parseGenerationManifest(bytes({ kind: 'sequence', sequences: [] }))).toThrow(/no sequences/)
    expect(() =>
      parseGenerationManifest(bytes({ kind: 'generate', sequences: [{ tokens: [-1], digests: [h(1)] }] })),
    ).toThrow(/not an id/)
    expect(() =>
      parseGenerationManifest(bytes({ kind: 'generate', sequences: [{ tokens: [1], digests: ['0x12'] }] })),
    ).toThrow(/not a hash/)
  })

  it('the leaf count is prompts x maxNewTokens, padding of shorter prompts dropped', () => {
    const spec = parseGenerateJobSpec({
      kind: 'generate',
      profile: profile(1),
      seed: 's',
      maxNewTokens: 5,
      sampling: { temperature: 0 },
    })
    const ids = BigInt64Array.from([1n, 2n, 3n, 0n, 4n, 5n])
    const mask = BigInt64Array.from([1n, 1n, 1n, 0n, 1n, 1n])
    const inputs = {
      input_ids: { dtype: 'int64' as const, dims: [2, 3], data: new Uint8Array(ids.buffer) },
      attention_mask: { dtype: 'int64' as const, dims: [2, 3], data: new Uint8Array(mask.buffer) },
    }
    expect(generationLeafCount(spec, inputs)).toBe(10)
  })

  it("the requester serves a generate job's manifest as generation.json", () => {
    const job: JobRecord = {
      id: h(1),
      role: 'requester',
      state: 'finalized',
      kind: 'inference',
      verification: 'replay',
      attempts: 1,
      createdAt: 0,
      updatedAt: 0,
      history: [],
      detail: {
        role: 'requester',
        offer: '0x',
        biddingClosesAt: 0,
        results: { outputHash: h(2), leafCount: 8, verified: true, mismatchedLeaves: [], tokens: [[5]] },
      },
    }
    expect(resultFiles(job)).toEqual([{ name: 'generation.json', hash: h(2) }])
  })

  it('streamed tokens are handed on throttled, in order, and flushed whole', async () => {
    const seen: number[][][] = []
    const stream = tokenStream(2, 60_000, async (t) => {
      seen.push(t)
    })
    stream.onToken({ prompt: 0, position: 0, token: 5 })
    stream.onToken({ prompt: 1, position: 0, token: 9 })
    stream.onToken({ prompt: 0, position: 1, token: 6 })
    // an event for a prompt outside the job is ignored
    stream.onToken({ prompt: 7, position: 0, token: 1 })
    await stream.flush()
    expect(seen).toEqual([
      [[5], []],
      [[5, 6], [9]],
    ])
  })
})
