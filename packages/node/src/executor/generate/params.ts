/** The types a decoding task carries to a worker (kept apart so the worker protocol imports no code). */
import type { Hex } from 'viem'
import type { SamplingRule } from './sampling.js'

export interface DecoderLayout {
  layers: { pastKey: string; pastValue: string; presentKey: string; presentValue: string }[]
  /** whether the model takes position_ids (otherwise it derives positions itself) */
  positionIds: boolean
  heads: number
  headDim: number
  /** the fixed vocabulary size, when the signature states it */
  vocab: number | undefined
}

export interface DecodeParams {
  layout: DecoderLayout
  /** the prompt's token ids (padding already removed) */
  prompt: number[]
  /** the prompt's index in the job: part of each position's uniform number and leaf */
  promptIndex: number
  rule: SamplingRule
  seed: string
  maxNewTokens: number
  stopTokens: number[]
}

/** The verifier's check of one prompt's claimed tokens (decode.ts checkDecoded). */
export interface CheckParams extends DecodeParams {
  tokens: number[]
  tieTolerance: number
  /** the generated positions to judge (the verifier's sample); all of them when absent */
  positions?: number[]
}

/**
 * Per judged position (in `positions` order): the verdict, and for a rejected token the digest
 * of the verifier's own logits row (what a challenge claims the leaf should be). An accepted
 * position has none: nothing reads it, and hashing every sampled row of a large vocabulary
 * was a fixed share of a check's cost (64 rows of a 32 000-token vocabulary are 8 MB).
 */
export interface CheckedPositions {
  positions: number[]
  accepted: boolean[]
  digests: (Hex | undefined)[]
}

export interface Decoded {
  /** the generated tokens, a stop token included as the last one */
  tokens: number[]
  /** per generated token: the digest of the logits that chose it */
  digests: Hex[]
}
