/**
 * The verifier side of a generation job. The provider ships its sequences; they must rebuild
 * the committed root exactly (so the context the verifier feeds is the committed one), then
 * each sampled leaf (prompt p, position i) is checked from ONE prefill of prompt p plus its
 * generated tokens: the committed token must be what the sampling rule picks from the
 * verifier's own logits at i, within the tie tolerance. A forged token fails like a faked
 * micro-batch: spotCheck reports 'different-result' and the verifier challenges it.
 *
 * Cost: the job's plan (model hash, layout) is made once per replay. Given the verifier's
 * sample up front (`sampled`), a prompt's prefill stops at its last sampled position and only
 * the sampled positions are judged (a row is hashed only where its token is rejected); a leaf
 * outside the sample gets a pass of its own.
 * The root is rebuilt on the host while the first pass runs in a worker.
 */

import { MerkleTree } from '@ocn/protocol'
import type { ReplayExecutor } from '@ocn/prover'
import type { Hex } from 'viem'
import { ExecutorError } from '../errors.js'
import type { ExecutorRuntime } from '../runtime.js'
import type { CheckedPositions } from './params.js'
import {
  checkSequence,
  type GeneratedSequence,
  type GenerateJob,
  type GeneratePlan,
  generationLeaves,
  leafDataHash,
  planGeneration,
  sequenceFault,
} from './run.js'
import { generationLeaf, ZERO_DIGEST } from './sampling.js'

export interface ClaimedSequencesSource {
  /** the provider's sequences of every prompt (its result), fetched once */
  claimedSequences(): Promise<GeneratedSequence[]>
}

interface Claimed {
  sequences: GeneratedSequence[]
  /** why the shipped sequences cannot be the committed ones on their face, if they cannot */
  fault: string | undefined
  /** whether they rebuild the committed root (hashed while the first check pass runs) */
  rootHolds: Promise<boolean>
  /** every leaf's dataHash, once the root was rebuilt (so later leaves are not hashed again) */
  dataHashes: Hex[] | undefined
}

/** After the check passes already asked for have been posted to the workers. */
const afterPosts = () => new Promise<void>((resolve) => setImmediate(resolve))

export interface GenerationReplayOptions {
  /** the leaf indices the verifier will check (its sample), so each prompt's pass covers just them */
  sampled?: readonly number[]
}

/** The sampled generated positions per prompt, ascending. */
function positionsByPrompt(sampled: readonly number[], maxNew: number): Map<number, number[]> {
  const byPrompt = new Map<number, number[]>()
  for (const index of sampled) {
    if (!Number.isInteger(index) || index < 0) continue
    const p = Math.floor(index / maxNew)
    const list = byPrompt.get(p) ?? []
    list.push(index % maxNew)
    byPrompt.set(p, list)
  }
  for (const list of byPrompt.values()) list.sort((a, b) => a - b)
  return byPrompt
}

/**
 * The check passes of one replay: the job's plan made once, one pass per prompt over its
 * sampled positions (all of them without a sample), one per leaf outside the sample. A failed
 * or aborted pass is not remembered: the next leaf that needs it runs it again.
 */
function passCache(rt: ExecutorRuntime, job: GenerateJob, planned: Map<number, number[]> | undefined) {
  let plan: Promise<GeneratePlan> | undefined
  const checks = new Map<string, Promise<CheckedPositions>>()
  const planOnce = (signal: AbortSignal) => {
    if (!plan) {
      plan = planGeneration(rt, job, signal)
      plan.catch(() => {
        plan = undefined
      })
    }
    return plan
  }
  return (p: number, i: number, s: GeneratedSequence, signal: AbortSignal): Promise<CheckedPositions> => {
    const mine = planned?.get(p)
    const pass =
      planned === undefined
        ? { key: `${p}`, positions: undefined }
        : mine?.includes(i)
          ? { key: `${p}`, positions: mine }
          : { key: `${p}/${i}`, positions: [i] }
    let check = checks.get(pass.key)
    if (!check) {
      check = planOnce(signal).then((pl) =>
        checkSequence(
          rt,
          job,
          pl,
          { prompt: p, sequence: s, ...(pass.positions === undefined ? {} : { positions: pass.positions }) },
          signal,
        ),
      )
      checks.set(pass.key, check)
      check.catch(() => checks.delete(pass.key))
    }
    return check
  }
}

export function generationReplay(
  rt: ExecutorRuntime,
  job: GenerateJob,
  source: ClaimedSequencesSource,
  committedRoot: Hex,
  options: GenerationReplayOptions = {},
): ReplayExecutor {
  const maxNew = job.spec.maxNewTokens
  const planned = options.sampled === undefined ? undefined : positionsByPrompt(options.sampled, maxNew)
  let claimed: Promise<Claimed> | undefined
  const judge = passCache(rt, job, planned)
  const load = async (): Promise<Claimed> => {
    const sequences = await source.claimedSequences()
    const faults = sequences.map((s, p) => {
      const f = sequenceFault(s, job.spec)
      return f === undefined ? undefined : `prompt ${p} ${f}`
    })
    const fault = faults.find((f) => f !== undefined)
    const claimed: Claimed = { sequences, fault, rootHolds: Promise.resolve(false), dataHashes: undefined }
    // the root is rebuilt on this thread while a worker prefills: the pass does not need it,
    // and a sequence that fails it is refused before any verdict is read
    if (fault === undefined) {
      claimed.rootHolds = afterPosts().then(() => {
        const dataHashes = generationLeaves(sequences, maxNew)
        claimed.dataHashes = dataHashes
        return MerkleTree.fromDataHashes(dataHashes).root.toLowerCase() === committedRoot.toLowerCase()
      })
    }
    return claimed
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
    const own = c.dataHashes?.[index] ?? leafDataHash(s, p, i)
    if (own.toLowerCase() !== leaf.toLowerCase()) return { match: false, replayed: own }
    // posted before the root is hashed, so the two overlap; read only if the root holds
    const check = i < s.tokens.length ? judge(p, i, s, signal) : undefined
    check?.catch(() => undefined)
    if (!(await c.rootHolds)) return { match: false, replayed: ZERO_DIGEST }
    // a padding leaf after a valid stop: the root check already vouched for the stop
    if (!check) return { match: true, replayed: own }
    const r = await check
    const at = r.positions.indexOf(i)
    if (at < 0) throw new ExecutorError('EXECUTOR_RUN_FAILED', `the check pass did not judge position ${i}`)
    // an accepted token stands as committed (the check hashed no row for it); a rejected one is
    // answered with the leaf of the verifier's own logits, the claim a challenge makes
    if (r.accepted[at] === true) return { match: true, replayed: own }
    const digest = r.digests[at]
    if (digest === undefined)
      throw new ExecutorError(
        'EXECUTOR_RUN_FAILED',
        `the check pass gave no digest for rejected position ${i}`,
      )
    return { match: false, replayed: generationLeaf(p, i, s.tokens[i]!, digest) }
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
