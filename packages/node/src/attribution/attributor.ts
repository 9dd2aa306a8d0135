/**
 * Proof of Attribution off the event loop: each computation runs in a child process of its
 * own (dist/attribution/worker.js), killed on timeout or abort.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { AttributionRequest } from './compute.js'
import { AttributionError, type SerializedAttributionError } from './errors.js'
import { type AttributionOptions, defaultAttributionOptions } from './options.js'
import type { AttributionResult } from './result.js'

export interface AttributorInit {
  /** the compiled worker entry; defaults to worker.js beside this module */
  workerUrl?: URL
  options?: Partial<AttributionOptions>
}

export interface AttributionRunOptions {
  signal?: AbortSignal
  /** overrides options.timeoutMs for this run */
  timeoutMs?: number
}

export interface AttributionVerdict {
  /** the recomputed result hashes the same as the claimed one */
  valid: boolean
  recomputed: AttributionResult
}

export interface Attributor {
  /** Computes each contributor's influence and the committed result. */
  compute(request: AttributionRequest, options?: AttributionRunOptions): Promise<AttributionResult>
  /** Replays a claimed result: recomputes it from the same inputs and compares hashes. */
  verify(
    claimed: AttributionResult,
    request: AttributionRequest,
    options?: AttributionRunOptions,
  ): Promise<AttributionVerdict>
}

type Reply = { ok: true; value: AttributionResult } | { ok: false; error: SerializedAttributionError }

export function createAttributor(init: AttributorInit = {}): Attributor {
  const options: AttributionOptions = { ...defaultAttributionOptions, ...init.options }
  const workerPath = fileURLToPath(init.workerUrl ?? new URL('./worker.js', import.meta.url))

  function compute(request: AttributionRequest, run: AttributionRunOptions = {}): Promise<AttributionResult> {
    if (run.signal?.aborted) {
      return Promise.reject(
        new AttributionError('ATTRIBUTION_ABORTED', 'attribution aborted', { cause: run.signal.reason }),
      )
    }
    const timeoutMs = run.timeoutMs ?? options.timeoutMs
    return new Promise<AttributionResult>((resolve, reject) => {
      const child = fork(workerPath, [], {
        serialization: 'advanced',
        execArgv: [`--max-old-space-size=${options.memoryMb}`],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      })
      let settled = false
      const finish = (error: Error | undefined, value?: AttributionResult) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        run.signal?.removeEventListener('abort', onAbort)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        if (error) reject(error)
        else resolve(value!)
      }
      const timer = setTimeout(
        () =>
          finish(new AttributionError('ATTRIBUTION_TIMEOUT', `attribution ran longer than ${timeoutMs} ms`)),
        timeoutMs,
      )
      const onAbort = () =>
        finish(
          new AttributionError('ATTRIBUTION_ABORTED', 'attribution aborted', { cause: run.signal?.reason }),
        )
      run.signal?.addEventListener('abort', onAbort, { once: true })
      child.once('message', (reply: Reply) => {
        if (reply.ok) finish(undefined, reply.value)
        else
          finish(
            new AttributionError(reply.error.code, reply.error.shortMessage, {
              details: reply.error.details,
            }),
          )
      })
      child.once('error', (cause) =>
        finish(
          new AttributionError('ATTRIBUTION_WORKER_CRASHED', 'the attribution process failed', { cause }),
        ),
      )
      child.once('exit', (code, sig) =>
        finish(
          new AttributionError(
            'ATTRIBUTION_WORKER_CRASHED',
            'the attribution process exited without a result',
            {
              details: `exit code ${code}, signal ${sig}`,
            },
          ),
        ),
      )
      child.send(request)
    })
  }

  return {
    compute,
    async verify(claimed, request, run) {
      const recomputed = await compute(request, run)
      return { valid: recomputed.resultHash === claimed.resultHash, recomputed }
    },
  }
}
