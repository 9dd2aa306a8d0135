import { setMaxListeners } from 'node:events'
import { ExecutorError } from './errors.js'

export interface RunOptions {
  signal?: AbortSignal
  /** overrides the executor's jobTimeoutMs for this job */
  timeoutMs?: number
}

export interface JobSignal {
  signal: AbortSignal
  /** stops the timer and detaches from the caller's signal; call once the job settles */
  done: () => void
}

/** A signal that fires on the caller's abort or the job's wall-clock limit. */
export function jobSignal(o: RunOptions, defaultTimeoutMs: number): JobSignal {
  const controller = new AbortController()
  // every micro-batch task of the job listens on this one signal
  setMaxListeners(0, controller.signal)
  const ms = o.timeoutMs ?? defaultTimeoutMs
  const timer = setTimeout(
    () => controller.abort(new ExecutorError('EXECUTOR_TIMEOUT', `the job ran longer than ${ms} ms`)),
    ms,
  )
  const onAbort = () => controller.abort(o.signal?.reason)
  if (o.signal?.aborted) onAbort()
  o.signal?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer)
      o.signal?.removeEventListener('abort', onAbort)
    },
  }
}
