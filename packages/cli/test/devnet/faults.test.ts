/**
 * The devnet's cheats (devnet/faults.ts): each result cheat corrupts a result so that it stays
 * consistent with itself (outputs, leaves, root and hashes agree), so only a re-execution can
 * tell; each answer cheat withholds or mangles what a spot check asks for.
 */

import {
  attributionResultProblem,
  checkpointHash,
  createSilentLogger,
  decodeSafetensors,
  encodeSafetensors,
  generationLeaves,
  honestFaultPlan,
  type InferenceResult,
  outputsDataHash,
  sliceRows,
} from '@ocn/node'
import { type AttributionResult, attributionResultHash } from '@ocn/node/attribution'
import {
  assertResultLeaves,
  attributionWeightsTree,
  contentHashOf,
  MerkleTree,
  type ResultRequest,
  type ResultResponse,
} from '@ocn/protocol'
import { type Hex, keccak256, toHex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { ANSWER_CHEATS } from '../../src/devnet/answer-faults.js'
import {
  cheatIndices,
  corruptCheckpoints,
  corruptMicroBatches,
  createCheatingFaultPlan,
  forgeAttributionResult,
  forgeTokens,
  parseCheatingFaultPlanOptions,
} from '../../src/devnet/faults.js'

describe('cheatIndices', () => {
  it('is empty for an honest provider and picks round(fraction * n) spread leaves otherwise', () => {
    expect(cheatIndices(16, 0)).toEqual([])
    expect(cheatIndices(16, 0.25)).toEqual([0, 4, 8, 12])
    expect(cheatIndices(10, 0.01)).toEqual([0])
    expect(cheatIndices(5, 1)).toEqual([0, 1, 2, 3, 4])
  })
})

describe('corruptMicroBatches', () => {
  it('changes exactly the chosen micro-batches and keeps outputs and leaf hashes consistent', () => {
    const rows = 10
    const data = new Uint8Array(new Float32Array(Array.from({ length: rows * 2 }, (_, i) => i / 7)).buffer)
    const outputs = { y: { dtype: 'float32' as const, dims: [rows, 2], data: data.slice() } }
    const m = 4
    const dataHashes = [0, 1, 2].map((i) =>
      outputsDataHash({ y: sliceRows(outputs.y, i * m, Math.min(rows, (i + 1) * m)) }),
    )
    const result: InferenceResult = {
      modelHash: '0x00',
      samples: rows,
      microBatches: 3,
      dataHashes,
      tree: MerkleTree.fromDataHashes(dataHashes),
      root: MerkleTree.fromDataHashes(dataHashes).root,
      outputs,
    }
    const corrupted = corruptMicroBatches(result, m, [2])
    expect(corrupted.dataHashes[0]).toBe(dataHashes[0])
    expect(corrupted.dataHashes[1]).toBe(dataHashes[1])
    expect(corrupted.dataHashes[2]).not.toBe(dataHashes[2])
    // the corrupted outputs hash to the corrupted leaf: only a re-execution can tell
    expect(outputsDataHash({ y: sliceRows(corrupted.outputs.y!, 8, 10) })).toBe(corrupted.dataHashes[2])
    expect(corrupted.outputs.y!.data.subarray(0, 8 * 8)).toEqual(data.subarray(0, 8 * 8))
  })
})

describe('corruptCheckpoints', () => {
  it('changes the chosen checkpoint states and keeps each state hashing to its leaf', () => {
    const state = (v: number) => ({
      'w.0': {
        dtype: 'float32' as const,
        dims: [2],
        data: new Uint8Array(new Float32Array([v, v + 1]).buffer),
      },
      step: { dtype: 'int64' as const, dims: [], data: new Uint8Array(8) },
    })
    const states = [state(1), state(2), state(3)]
    const bytes = states.map((s) => encodeSafetensors(s))
    const hashes = states.map((s) => checkpointHash(s))
    const out = corruptCheckpoints(bytes, hashes, [1])
    expect(out.checkpointHashes[0]).toBe(hashes[0])
    expect(out.checkpointHashes[2]).toBe(hashes[2])
    expect(out.checkpointHashes[1]).not.toBe(hashes[1])
    expect(checkpointHash(decodeSafetensors(out.states[1]!).tensors)).toBe(out.checkpointHashes[1])
  })
})

describe('forgeAttributionResult', () => {
  /** An honest result of four contributors: weights from scores, root and hash as the provider commits them. */
  function honestResult(scores: number[]): AttributionResult {
    const total = scores.reduce((sum, score) => sum + Math.max(0, score), 0)
    const weights = scores.map((score, i) => ({
      address: `0x${(i + 1).toString(16).padStart(40, '0')}` as Hex,
      weight: Math.round((Math.max(0, score) / total) * 10_000),
    }))
    const body = {
      method: 'tracin-cp-v1' as const,
      manifestHash: `0x${'aa'.repeat(32)}` as Hex,
      validationHash: `0x${'bb'.repeat(32)}` as Hex,
      checkpointHashes: [`0x${'cc'.repeat(32)}` as Hex, `0x${'dd'.repeat(32)}` as Hex],
      scores,
      weights,
      weightsRoot: attributionWeightsTree(weights).root,
    }
    return { ...body, resultHash: attributionResultHash(body) }
  }

  it("hands each contributor the next one's weight and stays consistent with itself, so only a recomputation catches it", () => {
    const result = honestResult([4, 3, 2, 1])
    expect(attributionResultProblem(result)).toBeUndefined()
    const forged = forgeAttributionResult(result)
    expect(attributionResultProblem(forged)).toBeUndefined()
    expect(forged.weights.map((w) => w.weight)).not.toEqual(result.weights.map((w) => w.weight))
    expect([...forged.weights.map((w) => w.weight)].sort()).toEqual(
      [...result.weights.map((w) => w.weight)].sort(),
    )
    expect(forged.resultHash).not.toBe(result.resultHash)
    expect(forged.scores).toEqual(result.scores)
  })
})

describe('forgeTokens', () => {
  const h = (n: number): Hex => toHex(n, { size: 32 })
  const honest = () => {
    // two prompts of at most 3 positions; the second stopped after one token
    const sequences = [
      { tokens: [4, 0, 9], digests: [h(1), h(2), h(3)] },
      { tokens: [7], digests: [h(4)] },
    ]
    return { sequences, dataHashes: generationLeaves(sequences, 3), maxNewTokens: 3 }
  }

  it('forges the chosen generated tokens, keeps their digests and rehashes their leaves, leaving padding alone', () => {
    const result = honest()
    const forged = forgeTokens(result, [1, 3, 4])
    expect(forged.forged).toEqual([1, 3])
    expect(forged.sequences.map((s) => s.tokens)).toEqual([[4, 1, 9], [6]])
    expect(forged.sequences.map((s) => s.digests)).toEqual(result.sequences.map((s) => s.digests))
    // consistent with itself: only a prefill check of the token tells
    expect(forged.dataHashes).toEqual(generationLeaves(forged.sequences, 3))
    expect(forged.dataHashes.filter((d, i) => d !== result.dataHashes[i])).toHaveLength(2)
    expect(result.sequences[0]!.tokens).toEqual([4, 0, 9])
  })

  it('the cheating plan forges its fraction of positions; an honest one none', () => {
    const at = { jobId: h(9), log: createSilentLogger() }
    const honestPlan = createCheatingFaultPlan({ fraction: 0 }).tamperGeneration!(at, honest())
    expect(honestPlan.tampered).toEqual([])
    const cheat = createCheatingFaultPlan({ fraction: 1 }).tamperGeneration!(at, honest())
    expect(cheat.tampered).toEqual([0, 1, 2, 3])
    expect(honestFaultPlan.tamperGeneration!(at, honest()).tampered).toEqual([])
  })
})

describe('parseCheatingFaultPlanOptions', () => {
  it('reads a plan and refuses anything else with DEVNET_OPTIONS_INVALID', () => {
    expect(parseCheatingFaultPlanOptions('{"fraction":0.25}')).toEqual({ fraction: 0.25 })
    expect(parseCheatingFaultPlanOptions('{"fraction":0,"forgeAttribution":true}')).toEqual({
      fraction: 0,
      forgeAttribution: true,
    })
    for (const bad of [
      undefined,
      '',
      '{x',
      'null',
      '[]',
      '{"fraction":-0.1}',
      '{"fraction":"1"}',
      '{"fraction":1.5}',
    ]) {
      expect(() => parseCheatingFaultPlanOptions(bad)).toThrow(
        expect.objectContaining({ code: 'DEVNET_OPTIONS_INVALID' }),
      )
    }
    expect(() => parseCheatingFaultPlanOptions('{"fraction":0,"forgeAttribution":1}')).toThrow(
      /not a fault plan/,
    )
    expect(parseCheatingFaultPlanOptions('{"fraction":0,"answer":"partial"}')).toEqual({
      fraction: 0,
      answer: 'partial',
    })
    expect(() => parseCheatingFaultPlanOptions('{"fraction":0,"answer":"lie"}')).toThrow(
      expect.objectContaining({ code: 'DEVNET_OPTIONS_INVALID', details: expect.stringMatching(/withhold/) }),
    )
    expect(parseCheatingFaultPlanOptions('{"fraction":0,"crashAfterCommitSent":true}')).toEqual({
      fraction: 0,
      crashAfterCommitSent: true,
    })
    expect(() => parseCheatingFaultPlanOptions('{"fraction":0,"crashAfterCommitSent":"yes"}')).toThrow(
      /not a fault plan/,
    )
  })
})

describe('spot-check answer cheats', () => {
  const dataHashes = Array.from({ length: 8 }, (_, i) => keccak256(toHex(`leaf ${i}`)))
  const tree = MerkleTree.fromDataHashes(dataHashes)
  const store = new Map<Hex, Uint8Array>()
  const manifest = new TextEncoder().encode(JSON.stringify({ checkpoints: dataHashes.slice(0, 3), steps: 4 }))
  const manifestHash = contentHashOf(manifest)
  store.set(manifestHash, manifest)
  const at = {
    jobId: keccak256(toHex('job')),
    log: createSilentLogger(),
    publish: async (bytes: Uint8Array) => {
      const hash = contentHashOf(bytes)
      store.set(hash, bytes)
      return hash
    },
    read: async (hash: Hex) => {
      const bytes = store.get(hash)
      if (bytes === undefined) throw new Error('not stored')
      return bytes
    },
  }
  const request: ResultRequest = { version: 1, jobId: at.jobId, indices: [1, 3, 4, 6] }
  const honest: ResultResponse = {
    version: 1,
    jobId: at.jobId,
    status: 'ok',
    result: {
      resultRoot: tree.root,
      leafCount: dataHashes.length,
      outputHash: manifestHash,
      leaves: request.indices.map((index) => ({
        index,
        dataHash: dataHashes[index]!,
        proof: tree.proof(index),
      })),
    },
  }
  const answer = (cheat?: (typeof ANSWER_CHEATS)[number]) =>
    createCheatingFaultPlan({ fraction: 0, ...(cheat === undefined ? {} : { answer: cheat }) }).tamperAnswer(
      at,
      request,
      honest,
    )

  it('the honest plan and a plan without an answer cheat hand the answer back unchanged', async () => {
    expect(await honestFaultPlan.tamperAnswer(at, request, honest)).toBe(honest)
    expect(await answer()).toBe(honest)
    assertResultLeaves(honest)
  })

  it('withholds every leaf, or serves only the first half, still answering ok', async () => {
    const withheld = await answer('withhold')
    expect(withheld.status).toBe('ok')
    expect(withheld.result?.leaves).toEqual([])
    const partial = await answer('partial')
    expect(partial.status).toBe('ok')
    expect(partial.result?.leaves.map((l) => l.index)).toEqual([1, 3])
    assertResultLeaves(partial)
  })

  it('answers out of range or malformed leaves, which no longer prove against the root', async () => {
    const outOfRange = await answer('out-of-range')
    expect(outOfRange.result?.leaves.map((l) => l.index)).toEqual([9, 11, 12, 14])
    expect(() => assertResultLeaves(outOfRange)).toThrow(/out of range/)
    const malformed = await answer('malformed')
    expect(malformed.result?.leaves.map((l) => l.index)).toEqual(request.indices)
    expect(() => assertResultLeaves(malformed)).toThrow(/does not verify/)
  })

  it('withholds the checkpoints: the leaves as committed, a manifest naming states nobody has', async () => {
    const cheated = await answer('withhold-checkpoints')
    expect(cheated.result?.leaves).toEqual(honest.result?.leaves)
    const outputHash = cheated.result!.outputHash
    expect(outputHash).not.toBe(manifestHash)
    const served = JSON.parse(new TextDecoder().decode(store.get(outputHash))) as {
      checkpoints: Hex[]
      steps: number
    }
    expect(served.steps).toBe(4)
    expect(served.checkpoints).toHaveLength(3)
    for (const h of served.checkpoints) {
      expect(dataHashes).not.toContain(h)
      expect(store.has(h)).toBe(false)
    }
    // an inference answer (its output is no manifest) is left as it is
    store.set(manifestHash, new Uint8Array([1, 2, 3]))
    expect((await answer('withhold-checkpoints')).result).toEqual(honest.result)
    store.set(manifestHash, manifest)
  })
})

describe('crashAfterCommitSent', () => {
  it('crashes right after a commit is sent only when the plan says so', async () => {
    const log = createSilentLogger()
    const at = { jobId: `0x${'ab'.repeat(32)}` as const, log }
    let crashes = 0
    const honest = createCheatingFaultPlan({ fraction: 0 }, () => crashes++)
    expect(honest.afterCommitSent).toBeUndefined()
    const crashing = createCheatingFaultPlan({ fraction: 0, crashAfterCommitSent: true }, () => crashes++)
    await crashing.afterCommitSent?.(at, `0x${'cd'.repeat(32)}`)
    expect(crashes).toBe(1)
  })
})
