/**
 * The verifier side of an inference job: single micro-batches re-run on demand, compared by
 * hash, or by value within the profile's tolerance against the provider's shipped outputs.
 */
import type { ReplayExecutor } from '@ocn/prover'
import { compareOutputs } from './compare.js'
import { ExecutorError } from './errors.js'
import { outputsDataHash } from './hashing.js'
import { type InferenceJob, type InferencePlan, planInference, runMicroBatch } from './inference.js'
import type { ExecutorRuntime } from './runtime.js'
import type { NamedTensors } from './tensor.js'

export interface ClaimedOutputsSource {
  claimedOutputs(index: number): Promise<NamedTensors>
}

export function inferenceReplay(
  rt: ExecutorRuntime,
  job: InferenceJob,
  source: ClaimedOutputsSource | undefined,
): ReplayExecutor {
  // planned once, by the first replayed micro-batch, and shared by the rest
  let planned: Promise<InferencePlan> | undefined
  const replayOne = async (index: number, signal: AbortSignal) => {
    planned ??= planInference(rt, job, signal)
    const plan = await planned
    if (!Number.isInteger(index) || index < 0 || index >= plan.microBatches) {
      throw new ExecutorError(
        'EXECUTOR_SPEC_INVALID',
        `micro-batch ${index} is outside 0..${plan.microBatches - 1}`,
      )
    }
    return runMicroBatch(rt, job, plan, index, signal)
  }
  const comparison = job.spec.profile.comparison
  const replay: ReplayExecutor = {
    async runMicroBatch(index, o = {}) {
      const { signal, done } = rt.jobSignal(o)
      try {
        return (await replayOne(index, signal)).dataHash
      } finally {
        done()
      }
    },
    async runTrainingSegment() {
      throw new ExecutorError('EXECUTOR_SPEC_INVALID', 'an inference job has no training segments')
    },
  }
  if (comparison !== 'bit-exact' && source) {
    replay.matchesMicroBatch = async (index, claimed, o = {}) => {
      const { signal, done } = rt.jobSignal(o)
      try {
        const claimedOutputs = await source.claimedOutputs(index)
        const r = await replayOne(index, signal)
        // the shipped outputs must be the committed ones before their values count
        if (outputsDataHash(claimedOutputs).toLowerCase() !== claimed.toLowerCase()) {
          return { match: false, replayed: r.dataHash }
        }
        return {
          match: compareOutputs(claimedOutputs, r.outputs, comparison).match,
          replayed: r.dataHash,
        }
      } finally {
        done()
      }
    }
  }
  return replay
}
