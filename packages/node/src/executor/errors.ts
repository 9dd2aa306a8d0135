import { NodeError, type NodeErrorOptions } from '../core/errors.js'

/**
 * Executor failures. Every error a job can end with is an ExecutorError with a stable code,
 * so the daemon can map it to a job outcome (and a requester sees what to fix).
 */
export type ExecutorErrorCode =
  /** the job spec JSON is malformed or out of range */
  | 'EXECUTOR_SPEC_INVALID'
  /** the model is larger than the executor's limit */
  | 'EXECUTOR_MODEL_TOO_LARGE'
  /** ONNX Runtime refused the model (corrupt, unsupported op, bad graph) */
  | 'EXECUTOR_MODEL_INVALID'
  /** inputs do not match the model (names, dtypes, ranks, sample counts) */
  | 'EXECUTOR_INPUT_MISMATCH'
  /** a tensor has more elements than the executor's limit */
  | 'EXECUTOR_TENSOR_TOO_LARGE'
  /** a tensor file (safetensors / .npy) is malformed */
  | 'EXECUTOR_FORMAT_INVALID'
  /** the job ran past its wall-clock limit; its workers were replaced */
  | 'EXECUTOR_TIMEOUT'
  /** a worker died (out of memory, crash); it was replaced */
  | 'EXECUTOR_WORKER_CRASHED'
  /** the requested device/execution provider is not available on this host */
  | 'EXECUTOR_DEVICE_UNAVAILABLE'
  /** ONNX Runtime failed while running a model that had loaded */
  | 'EXECUTOR_RUN_FAILED'
  /** the caller aborted through its AbortSignal */
  | 'EXECUTOR_ABORTED'
  /** the executor is not started or is stopping */
  | 'EXECUTOR_NOT_RUNNING'

export type ExecutorErrorOptions = NodeErrorOptions

/** The executor's errors: @ocn/node's base error with the codes above. */
export class ExecutorError extends NodeError<ExecutorErrorCode> {
  override name = 'ExecutorError'
}

export function isExecutorError(error: unknown): error is ExecutorError {
  return error instanceof ExecutorError
}

/** What crosses the worker boundary: errors are structured-cloned as plain objects. */
export interface SerializedExecutorError {
  code: ExecutorErrorCode
  shortMessage: string
  details?: string | undefined
}

export function serializeError(error: unknown, fallback: ExecutorErrorCode): SerializedExecutorError {
  if (error instanceof ExecutorError)
    return { code: error.code, shortMessage: error.shortMessage, details: error.details }
  const message = error instanceof Error ? error.message : String(error)
  return { code: fallback, shortMessage: firstLine(message), details: message }
}

export function deserializeError(e: SerializedExecutorError): ExecutorError {
  return new ExecutorError(e.code, e.shortMessage, { details: e.details })
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s
  return line.length > 300 ? `${line.slice(0, 300)}...` : line
}

/** What an executor error says is wrong with the job itself. */
export type ExecutorVerdict = 'model-invalid' | 'inputs-mismatch' | 'spec-invalid' | 'inputs-invalid'

/**
 * The verdict an executor check gives on a job, or undefined when the error is this node's
 * own trouble (a timeout, a crashed worker, a missing device) and says nothing about the job.
 */
export function executorVerdict(error: unknown): ExecutorVerdict | undefined {
  switch ((error as { code?: unknown } | null)?.code) {
    case 'EXECUTOR_MODEL_INVALID':
    case 'EXECUTOR_MODEL_TOO_LARGE':
      return 'model-invalid'
    case 'EXECUTOR_INPUT_MISMATCH':
    case 'EXECUTOR_TENSOR_TOO_LARGE':
      return 'inputs-mismatch'
    case 'EXECUTOR_SPEC_INVALID':
      return 'spec-invalid'
    case 'EXECUTOR_FORMAT_INVALID':
      return 'inputs-invalid'
    default:
      return undefined
  }
}
