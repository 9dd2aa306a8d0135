/**
 * The errors of @ocn/client, in the viem spirit (a base class with a stable `code`, a
 * one-line `shortMessage`, optional `details` and the `cause` chain; `walk` finds a cause).
 * A node's error answer keeps the node's own code (`API_BAD_REQUEST`, `API_UNAUTHORIZED`,
 * ...) so callers can switch on it without parsing messages.
 */
export type ClientErrorCode =
  /** the node could not be reached (down, wrong URL, network) */
  | 'CLIENT_UNREACHABLE'
  /** no answer within the call's time limit */
  | 'CLIENT_TIMEOUT'
  /** the caller's AbortSignal aborted the call */
  | 'CLIENT_ABORTED'
  /** the answer was too large, not JSON, or not the shape this client expects */
  | 'CLIENT_BAD_RESPONSE'
  /** a downloaded file's hash is not the one the node announced */
  | 'CLIENT_HASH_MISMATCH'
  /** the caller's input was refused before anything was sent */
  | 'CLIENT_INVALID_INPUT'
  /** the job event stream ended (or was cut) before the job settled */
  | 'CLIENT_STREAM_ENDED'

export interface OcnClientErrorOptions {
  details?: string | undefined
  cause?: unknown
}

export class OcnClientError<TCode extends string = string> extends Error {
  override name = 'OcnClientError'
  readonly code: TCode
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(code: TCode, shortMessage: string, options: OcnClientErrorOptions = {}) {
    const lines = [shortMessage, ...(options.details === undefined ? [] : [`Details: ${options.details}`])]
    super(lines.join('\n'), options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
  }

  /** This error or the first in its cause chain for which `match` holds (the last one without). */
  walk(match?: (error: unknown) => boolean): unknown {
    let current: unknown = this
    for (let depth = 0; depth < 32; depth++) {
      if (match?.(current)) return current
      const next = current instanceof Error ? current.cause : undefined
      if (next === undefined) return match === undefined ? current : undefined
      current = next
    }
    return undefined
  }
}

/** A failure on the client's side of the call. */
export class ClientError extends OcnClientError<ClientErrorCode> {
  override name = 'ClientError'
}

/** The node answered with an error: `code` is the node's (`API_*`), `status` the HTTP status. */
export class NodeApiError extends OcnClientError<string> {
  override name = 'NodeApiError'
  readonly status: number
  /** For a rejected job, the requester's own code (`EXECUTOR_FORMAT_INVALID`, ...). */
  readonly reason: string | undefined

  constructor(status: number, code: string, message: string, reason?: string) {
    super(code, message, {
      details: reason === undefined ? `HTTP ${status}` : `HTTP ${status}, reason ${reason}`,
    })
    this.status = status
    this.reason = reason
  }
}

export function isOcnClientError(error: unknown): error is OcnClientError {
  return error instanceof OcnClientError
}
