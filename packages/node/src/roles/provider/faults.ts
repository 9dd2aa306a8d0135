/**
 * The seams where a provider's results could be tampered with before they are committed: one
 * per result kind. The honest provider passes every result through its fault plan, which by
 * default hands it back unchanged; the devnet passes a plan that cheats (devnet/faults.ts),
 * so verification has a cheater to catch while the honest code has no cheating branch.
 */
import type { Hex } from 'viem'
import type { AttributionResult } from '../../attribution/result.js'
import type { Logger } from '../../core/logger.js'
import type { NamedTensors } from '../../executor/tensor.js'

/** The job a seam is called for, and where it may say what it did. */
export interface FaultContext {
  jobId: Hex
  log: Logger
}

/** An inference job's outputs and leaves (one per micro-batch), as they are about to be committed. */
export interface InferenceOutputs {
  outputs: NamedTensors
  dataHashes: Hex[]
  samples: number
  microBatchSize: number
}

/** A training job's checkpoint states and their leaves, as they are about to be committed. */
export interface TrainingCheckpoints {
  states: Uint8Array[]
  checkpointHashes: Hex[]
}

/** What a seam hands back: the result to commit, and the leaves it changed (none when honest). */
export type Tampered<T> = T & { tampered: number[] }

export interface ProviderFaultPlan {
  tamperInference(at: FaultContext, result: InferenceOutputs): Tampered<InferenceOutputs>
  tamperTraining(at: FaultContext, result: TrainingCheckpoints): Tampered<TrainingCheckpoints>
  tamperAttribution(at: FaultContext, result: AttributionResult): AttributionResult
  /**
   * Called right after a commit transaction is sent and its hash recorded, before its
   * receipt (the devnet's chaos test crashes the process here). Honest plans have none.
   */
  afterCommitSent?(at: FaultContext, txHash: Hex): void | Promise<void>
}

/** Every result as it was computed. */
export const honestFaultPlan: ProviderFaultPlan = {
  tamperInference: (_at, result) => ({ ...result, tampered: [] }),
  tamperTraining: (_at, result) => ({ ...result, tampered: [] }),
  tamperAttribution: (_at, result) => result,
}
