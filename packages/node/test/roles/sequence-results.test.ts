/**
 * The requester's check of a sequence job's manifest: every preimage against its committed
 * leaf, each chunk starting from the state the chunk before ended with, and the outputs file
 * against each chunk's outputs hash. Pure hashing, no runtime.
 */
import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  chunkOf,
  type HostTensor,
  outputsDataHash,
  sequenceLeafHash,
  sliceAxis,
} from '../../src/executor/index.js'
import { type SequenceManifest, sequenceMismatches } from '../../src/roles/sequence.js'

const chunks = 3
const streams = 2
const h = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
/** outputs [chunks, streams, 1]: chunk c of stream s holds 10 * c + s */
const prob: HostTensor = {
  dtype: 'float32',
  dims: [chunks, streams, 1],
  data: new Uint8Array(
    Float32Array.from({ length: chunks * streams }, (_, i) => 10 * Math.floor(i / streams) + (i % streams))
      .buffer,
  ),
}

function honest(): { manifest: SequenceManifest; leaves: Hex[] } {
  const leaves = Array.from({ length: chunks * streams }, (_, i) => {
    const s = Math.floor(i / chunks)
    const c = i % chunks
    const outputs = outputsDataHash({ prob: sliceAxis(chunkOf(prob, c), 0, s, s + 1) })
    // stream s's states: 100 s + c going in, 100 s + c + 1 coming out
    return { stateIn: h(100 * s + c), stateOut: h(100 * s + c + 1), outputs }
  })
  const manifest: SequenceManifest = {
    kind: 'sequence',
    outputs: h(1),
    streams,
    chunks,
    leaves,
    states: leaves.map((_, i) => h(i)),
  }
  return { manifest, leaves: leaves.map(sequenceLeafHash) }
}

describe('sequence results at the requester', () => {
  it('an honest manifest matches every leaf', () => {
    const { manifest, leaves } = honest()
    expect(sequenceMismatches(manifest, leaves, { prob }, { prob: 0 })).toEqual([])
  })

  it('a chunk that does not start from the state before it is a mismatch, though its own leaf matches', () => {
    const { manifest } = honest()
    manifest.leaves[4] = { ...manifest.leaves[4]!, stateIn: h(999) }
    const leaves = manifest.leaves.map(sequenceLeafHash)
    expect(sequenceMismatches(manifest, leaves, { prob }, { prob: 0 })).toEqual([4])
  })

  it('a preimage that is not the committed leaf, and an outputs file that is not the committed outputs, are mismatches', () => {
    const { manifest, leaves } = honest()
    const forged = [...leaves]
    forged[2] = h(7)
    expect(sequenceMismatches(manifest, forged, { prob }, { prob: 0 })).toEqual([2])
    const changed = { ...prob, data: prob.data.slice() }
    changed.data[0] = (changed.data[0] ?? 0) ^ 1 // chunk 0 of stream 0: leaf 0
    expect(sequenceMismatches(manifest, leaves, { prob: changed }, { prob: 0 })).toEqual([0])
  })

  it('a manifest with another leaf count than committed fails every leaf', () => {
    const { manifest, leaves } = honest()
    expect(sequenceMismatches(manifest, leaves.slice(1), { prob }, { prob: 0 })).toHaveLength(
      chunks * streams - 1,
    )
  })
})
