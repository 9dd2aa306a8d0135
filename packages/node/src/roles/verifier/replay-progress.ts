/**
 * A spot check's replays as `verification` progress: each sampled leaf replayed counts one
 * of the sample, so the console and `ocn` show how far a check is (replays done / sampled).
 */
import type { ReplayExecutor } from '@ocn/prover'
import type { ProgressReport } from '../../core/progress.js'

export function replayWithProgress(
  replay: ReplayExecutor,
  progress: ProgressReport | undefined,
  job: { jobId: string; sampled: number },
): ReplayExecutor {
  if (progress === undefined) return replay
  let done = 0
  const report = () =>
    progress({
      jobId: job.jobId,
      stage: 'verification',
      unit: 'replays',
      done,
      total: job.sampled,
      ...(done >= job.sampled ? { finished: true } : {}),
    })
  const counted =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const result = await run(...args)
      done++
      report()
      return result
    }
  report()
  const matches = replay.matchesMicroBatch?.bind(replay)
  return {
    runMicroBatch: counted(replay.runMicroBatch.bind(replay)),
    runTrainingSegment: counted(replay.runTrainingSegment.bind(replay)),
    ...(matches === undefined ? {} : { matchesMicroBatch: counted(matches) }),
  }
}
