import { NodeError, type NodeErrorOptions } from '../core/errors.js'

export type AttributionErrorCode =
  /** the request is unusable: bad manifest, method, tensors, or checkpoints that do not fit the spec */
  | 'ATTRIBUTION_INPUT_INVALID'
  /** a checkpoint state does not hash to the committed checkpoint hash */
  | 'ATTRIBUTION_CHECKPOINT_MISMATCH'
  /** ONNX Runtime failed while computing gradients */
  | 'ATTRIBUTION_RUN_FAILED'
  /** the computation ran past its wall-clock limit; its process was killed */
  | 'ATTRIBUTION_TIMEOUT'
  /** the caller aborted through its AbortSignal */
  | 'ATTRIBUTION_ABORTED'
  /** the attribution process died (out of memory, crash) */
  | 'ATTRIBUTION_WORKER_CRASHED'

export type AttributionErrorOptions = NodeErrorOptions

/** Proof of Attribution failures: @ocn/node's base error with the codes above. */
export class AttributionError extends NodeError<AttributionErrorCode> {
  override name = 'AttributionError'
}

/** What crosses the process boundary. */
export interface SerializedAttributionError {
  code: AttributionErrorCode
  shortMessage: string
  details?: string | undefined
}

export function serializeAttributionError(error: unknown): SerializedAttributionError {
  if (error instanceof AttributionError) {
    return { code: error.code, shortMessage: error.shortMessage, details: error.details }
  }
  const e = error as { code?: unknown; shortMessage?: unknown; message?: unknown }
  // executor and protocol errors mean the inputs did not fit (bad tensors, bad manifest)
  const input =
    typeof e?.code === 'string' && /^(EXECUTOR_INPUT|EXECUTOR_SPEC|EXECUTOR_FORMAT|INVALID_)/.test(e.code)
  return {
    code: input ? 'ATTRIBUTION_INPUT_INVALID' : 'ATTRIBUTION_RUN_FAILED',
    shortMessage: typeof e?.shortMessage === 'string' ? e.shortMessage : String(e?.message ?? error),
    details: typeof e?.message === 'string' ? e.message : undefined,
  }
}
