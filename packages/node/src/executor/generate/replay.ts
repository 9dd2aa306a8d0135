/**
 * The verifier side of a generation job. The provider ships its sequences; they must rebuild
 * the committed root exactly (so the context the verifier feeds is the committed one), then
 * each sampled leaf (prompt p, position i) is checked from ONE prefill of prompt p plus its
 * generated tokens: the committed token must be what the sampling rule picks from the
 * verifier's own logits at i, within the tie tolerance. A forged token fails like a faked
 * micro-batch: spotCheck reports 'different-result' and the verifier challenges it.
 */

import { MerkleTree } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import { ExecutorError } from '../errors.js'
import type { ExecutorRuntime } from '../runtime.js'
import {
  checkSequence,
  type GeneratedSequence,
  type GenerateJob,
  generationLeaves,
  sequenceFault,
} from './run.js'
import { generationLeaf, PAD_TOKEN, ZERO_DIGEST } from './sampling.js'

export interface ClaimedSequencesSource {
  /** the provider's sequences of every prompt (its result), fetched once */
  claimedSequences(): Promise<GeneratedSequence[]>
}

interface Claimed {
  sequences: GeneratedSequence[]
  /** why the shipped sequences cannot be the committed ones, if they cannot */
  fault: string | undefined
}

export function generationReplay(
  rt: ExecutorRuntime,
  job: GenerateJob,
  source: ClaimedSequencesSource,
  committedRoot: Hex,
): ReplayExecutor {
  const maxNew = job.spec.maxNewTokens
  let claimed: Promise<Claimed> | undefined
  const checks = new Map<number, Promise<{ accepted: boolean[]; digests: Hex[] }>>()
  const load = async (): Promise<Claimed> => {
    const sequences = await source.claimedSequences()
    const faults = sequences.map((s, p) => {
      const f = sequenceFault(s, job.spec)
      return f === undefined ? undefined : `prompt ${p} ${f}`
    })
    let fault = faults.find((f) => f !== undefined)
    if (
      !fault &&
      MerkleTree.fromDataHashes(generationLeaves(sequences, maxNew)).root.toLowerCase() !==
        committedRoot.toLowerCase()
    ) {
      fault = 'the shipped sequences do not rebuild the committed root'
    }
    return { sequences, fault }
  }
  const matches = async (index: number, leaf: Hex, signal: AbortSignal) => {
    if (!Number.isInteger(index) || index < 0)
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', `leaf ${index} is outside the job`)
    const p = Math.floor(index / maxNew)
    const i = index % maxNew
    if (!claimed) {
      claimed = load()
      claimed.catch(() => {
        claimed = undefined
      })
    }
    const c = await claimed
    const s = c.sequences[p]
    if (c.fault !== undefined || !s) return { match: false, replayed: ZERO_DIGEST }
    const own =
      i < s.tokens.length
        ? generationLeaf(p, i, s.tokens[i]!, s.digests[i]!)
        : generationLeaf(p, i, PAD_TOKEN, ZERO_DIGEST)
    if (own.toLowerCase() !== leaf.toLowerCase()) return { match: false, replayed: own }
    // a padding leaf after a valid stop: the root check already vouched for the stop
    if (i >= s.tokens.length) return { match: true, replayed: own }
    let check = checks.get(p)
    if (!check) {
      check = checkSequence(rt, job, p, s, signal)
      checks.set(p, check)
      // a failed or aborted pass is not remembered: the next sampled leaf runs it again
      check.catch(() => checks.delete(p))
    }
    const r = await check
    return { match: r.accepted[i] === true, replayed: generationLeaf(p, i, s.tokens[i]!, r.digests[i]!) }
  }
  return {
    async runMicroBatch() {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        'generation leaves are checked with matchesMicroBatch, not by hash',
      )
    },
    async runTrainingSegment() {
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'a generate job has no training segments')
    },
    async matchesMicroBatch(index, leaf, o = {}) {
      const { signal, done } = rt.jobSignal(o)
      try {
        return await matches(index, leaf, signal)
      } finally {
        done()
      }
    },
  }
}
