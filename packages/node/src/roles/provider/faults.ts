/**
 * The seams where a provider's results could be tampered with before they are committed (one
 * per result kind) and where its answer to a spot check could be (which leaves it serves,
 * and how). The honest provider passes every result through its fault plan, which by
 * default hands it back unchanged; the devnet passes a plan that cheats (devnet/faults.ts),
 * so verification has a cheater to catch while the honest code has no cheating branch.
 */
import type { ResultRequest, ResultResponse } from '@ocn/protocol'
import type { Hex } from 'viem'
import type { AttributionResult } from '../../attribution/result.js'
import type { Logger } from '../../core/logger.js'
import type { GeneratedSequence } from '../../executor/executor.js'
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

/**
 * A generate job's sequences and their leaves (maxNewTokens per prompt, prompt-major), as
 * they are about to be committed.
 */
export interface GeneratedTokens {
  sequences: GeneratedSequence[]
  dataHashes: Hex[]
  maxNewTokens: number
}

/**
 * Where a spot-check answer is being made: the job, and the provider's artifact store, in
 * which a cheat may place what its answer points to (a training manifest, say).
 */
export interface AnswerContext extends FaultContext {
  /** stores bytes in the provider's artifact store, where peers can fetch them; their hash */
  publish(bytes: Uint8Array): Promise<Hex>
  /** reads an artifact from the provider's store */
  read(hash: Hex): Promise<Uint8Array>
}

/** What a seam hands back: the result to commit, and the leaves it changed (none when honest). */
export type Tampered<T> = T & { tampered: number[] }

export interface ProviderFaultPlan {
  tamperInference(at: FaultContext, result: InferenceOutputs): Tampered<InferenceOutputs>
  tamperTraining(at: FaultContext, result: TrainingCheckpoints): Tampered<TrainingCheckpoints>
  tamperAttribution(at: FaultContext, result: AttributionResult): AttributionResult
  /** optional: a plan without it leaves generated tokens as they were picked */
  tamperGeneration?(at: FaultContext, result: GeneratedTokens): Tampered<GeneratedTokens>
  /** the answer to a verifier's, juror's or requester's request for committed leaves */
  tamperAnswer(at: AnswerContext, request: ResultRequest, response: ResultResponse): Promise<ResultResponse>
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
  tamperGeneration: (_at, result) => ({ ...result, tampered: [] }),
  tamperAnswer: async (_at, _request, response) => response,
}
