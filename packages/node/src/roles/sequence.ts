/**
 * Stateful sequence jobs across the roles: the provider stores a manifest beside the outputs
 * (each leaf's preimage and the content hash of the state it started from), a verifier replays
 * sampled chunks from those served states (executor/sequence.ts checks them against the
 * committed leaves), and the requester checks the whole manifest against the leaves.
 */
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import type { ArtifactStore } from '../artifacts/store.js'
import type { Executor, SequenceLeafPreimage, SequenceResult } from '../executor/executor.js'
import { decodeSafetensors, encodeSafetensors } from '../executor/formats/safetensors.js'
import { outputsDataHash } from '../executor/hashing.js'
import { sliceAxis } from '../executor/input-axes.js'
import { chunkOf, sequenceLeafHash } from '../executor/sequence.js'
import type { SequenceJobSpec } from '../executor/spec.js'
import type { NamedTensors } from '../executor/tensor.js'
import type { Network } from '../p2p/network.js'
import { RoleError } from './errors.js'

/** The output artifact of a sequence job: what the requester and verifiers fetch. */
export interface SequenceManifest {
  kind: 'sequence'
  /** content hash of the outputs (safetensors, [chunks, ...output shape with batch = streams]) */
  outputs: Hex
  streams: number
  chunks: number
  /** leaf stream * chunks + chunk: what its dataHash is the hash of */
  leaves: SequenceLeafPreimage[]
  /** per leaf: content hash of the state it started from (safetensors) */
  states: Hex[]
}

/** Stores the outputs, every leaf's incoming state and the manifest; the manifest's hash is the job's output. */
export async function storeSequenceResult(store: ArtifactStore, result: SequenceResult): Promise<Hex> {
  const outputs = await store.putBytes(
    encodeSafetensors(result.outputs, { root: result.root, modelHash: result.modelHash }),
  )
  const states: Hex[] = []
  for (const state of result.states) states.push((await store.putBytes(encodeSafetensors(state))).hash)
  const manifest: SequenceManifest = {
    kind: 'sequence',
    outputs: outputs.hash,
    streams: result.streams,
    chunks: result.chunks,
    leaves: result.preimages,
    states,
  }
  return (await store.putBytes(new TextEncoder().encode(JSON.stringify(manifest)))).hash
}

const HASH = /^0x[0-9a-fA-F]{64}$/

export function parseSequenceManifest(bytes: Uint8Array): SequenceManifest {
  const bad = (why: string) =>
    new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `the sequence manifest is malformed: ${why}`)
  let m: SequenceManifest
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as SequenceManifest
  } catch {
    throw bad('not JSON')
  }
  if (m?.kind !== 'sequence' || !Array.isArray(m.leaves) || !Array.isArray(m.states)) throw bad('no leaves')
  if (typeof m.outputs !== 'string' || !HASH.test(m.outputs)) throw bad('no outputs hash')
  for (const l of m.leaves) {
    if (![l?.stateIn, l?.stateOut, l?.outputs].every((h) => typeof h === 'string' && HASH.test(h)))
      throw bad('a leaf is not three hashes')
  }
  if (!m.states.every((h) => typeof h === 'string' && HASH.test(h))) throw bad('a state is not a hash')
  return m
}

/**
 * The verifier's replay of a sequence job: leaf i from the provider's served incoming state,
 * checked against the proven leaf i - 1 (which the result request asked for beside i).
 */
export function sequenceReplayFor(
  components: { store: ArtifactStore; network: Network; executor: Executor },
  assets: { spec: SequenceJobSpec; model: Uint8Array; inputs: NamedTensors },
  provider: {
    peer: string | undefined
    outputHash: Hex | undefined
    leaf: (index: number) => Hex | undefined
  },
): ReplayExecutor {
  const { store, network, executor } = components
  const peers = provider.peer === undefined ? [] : [provider.peer]
  const fetchBytes = async (hash: Hex) => {
    if (!(await store.has(hash))) await network.artifacts.fetch(hash, peers)
    return store.getBytes(hash)
  }
  let manifest: Promise<SequenceManifest> | undefined
  const manifestOf = () => {
    if (provider.outputHash === undefined)
      throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', 'no sequence manifest')
    manifest ??= fetchBytes(provider.outputHash).then(parseSequenceManifest)
    return manifest
  }
  return executor.sequenceReplay(
    { spec: assets.spec, model: assets.model, inputs: assets.inputs },
    {
      async incomingState(index) {
        const hash = (await manifestOf()).states[index]
        if (hash === undefined)
          throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `no state for leaf ${index} in the manifest`)
        return decodeSafetensors(await fetchBytes(hash)).tensors
      },
      async preimage(index) {
        const p = (await manifestOf()).leaves[index]
        if (p === undefined)
          throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `no leaf ${index} in the manifest`)
        return p
      },
      async expectedLeaf(index) {
        const leaf = provider.leaf(index)
        if (leaf === undefined) throw new RoleError('ROLE_ARTIFACT_UNAVAILABLE', `leaf ${index} not served`)
        return leaf
      },
    },
  )
}

/**
 * The requester's check of a sequence result: every leaf's preimage hashes to its committed
 * leaf, each chunk starts from the state the chunk before ended with, and the outputs file
 * holds each chunk's outputs. Returns the leaves that fail.
 */
export function sequenceMismatches(
  manifest: SequenceManifest,
  dataHashes: readonly Hex[],
  outputs: NamedTensors,
  outputAxes: Record<string, number>,
): number[] {
  const bad = new Set<number>()
  const { chunks, streams } = manifest
  if (manifest.leaves.length !== dataHashes.length || chunks * streams !== dataHashes.length) {
    return dataHashes.map((_, i) => i)
  }
  manifest.leaves.forEach((p, i) => {
    if (sequenceLeafHash(p) !== dataHashes[i]) bad.add(i)
    if (i % chunks > 0 && manifest.leaves[i - 1]!.stateOut !== p.stateIn) bad.add(i)
    const s = Math.floor(i / chunks)
    const chunk: NamedTensors = {}
    for (const [name, t] of Object.entries(outputs)) {
      const axis = outputAxes[name] ?? 0
      chunk[name] = sliceAxis(chunkOf(t, i % chunks), axis, s, s + 1)
    }
    if (outputsDataHash(chunk) !== p.outputs) bad.add(i)
  })
  return [...bad].sort((a, b) => a - b)
}
