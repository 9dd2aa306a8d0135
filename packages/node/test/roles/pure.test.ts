import { MerkleTree } from '@ocn/protocol'
import { describe, expect, it } from 'vitest'
import { cheatIndices, corruptCheckpoints, corruptMicroBatches } from '../../src/devnet/faults.js'
import type { InferenceResult } from '../../src/executor/executor.js'
import { decodeSafetensors, encodeSafetensors } from '../../src/executor/formats/safetensors.js'
import { checkpointHash, outputsDataHash } from '../../src/executor/hashing.js'
import { sliceRows } from '../../src/executor/tensor.js'
import { effectivePrice } from '../../src/roles/requester/index.js'
import { leavesNeeded } from '../../src/roles/shared.js'

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

describe('effectivePrice', () => {
  it('prices slashes and no-shows up and a track record a little down', () => {
    const clean = { completed: 0, slashed: 0, noShows: 0 }
    expect(effectivePrice(1000n, clean)).toBe(1000n)
    expect(effectivePrice(1000n, { ...clean, slashed: 1 })).toBe(3000n)
    expect(effectivePrice(1000n, { ...clean, noShows: 1 })).toBe(2000n)
    expect(effectivePrice(1000n, { ...clean, completed: 10 })).toBe(666n)
    expect(effectivePrice(1000n, { ...clean, completed: 50 })).toBe(666n)
  })
})

describe('leavesNeeded', () => {
  it('adds each training segment its starting checkpoint', () => {
    expect(leavesNeeded('inference', [5, 1])).toEqual([1, 5])
    expect(leavesNeeded('training', [0, 3, 4])).toEqual([0, 2, 3, 4])
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
