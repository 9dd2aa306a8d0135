import { OcnError } from '@ocn/protocol'
/**
 * The one error class of the p2p layer, with stable codes (Lodestar/viem style). Stream
 * handlers and fetchers throw only this; `cause` keeps the underlying libp2p or
 * protocol error.
 */
export const P2PErrorCode = {
  /** the service was used before start() or after stop() */
  NOT_STARTED: 'NOT_STARTED',
  /** the remote did not answer (or stalled) within the configured time */
  TIMEOUT: 'TIMEOUT',
  /** the caller aborted */
  ABORTED: 'ABORTED',
  /** could not open a stream to the peer */
  DIAL_FAILED: 'DIAL_FAILED',
  /** the remote sent something that is not a valid message for this protocol */
  PROTOCOL_VIOLATION: 'PROTOCOL_VIOLATION',
  /** a message or body was larger than its limit */
  TOO_LARGE: 'TOO_LARGE',
  /** the remote closed the stream before sending everything it announced */
  TRUNCATED: 'TRUNCATED',
  /** the bytes received do not hash to the content hash requested */
  HASH_MISMATCH: 'HASH_MISMATCH',
  /** no peer asked has the artifact */
  ARTIFACT_NOT_FOUND: 'ARTIFACT_NOT_FOUND',
  /** every peer asked failed, for different reasons (see `causes`) */
  ALL_PEERS_FAILED: 'ALL_PEERS_FAILED',
  /** the remote serves as many as it can now (every upload slot, or this peer's share, taken): ask again later */
  BUSY: 'BUSY',
  /** the remote answered with an error or refusal status */
  REMOTE_REFUSED: 'REMOTE_REFUSED',
  /** publishing to gossip failed, or a message we built is invalid */
  PUBLISH_FAILED: 'PUBLISH_FAILED',
} as const
export type P2PErrorCode = (typeof P2PErrorCode)[keyof typeof P2PErrorCode]

export interface P2PErrorOptions {
  details?: string
  cause?: unknown
  peer?: string
  /** per-peer failures, for ALL_PEERS_FAILED */
  causes?: readonly P2PError[]
}

export class P2PError extends OcnError<P2PErrorCode> {
  override readonly name = 'P2PError'
  readonly peer: string | undefined
  readonly causes: readonly P2PError[]

  constructor(code: P2PErrorCode, shortMessage: string, options: P2PErrorOptions = {}) {
    super(code, shortMessage, { details: options.details, cause: options.cause })
    if (options.peer !== undefined) this.message += `\nPeer: ${options.peer}`
    this.peer = options.peer
    this.causes = options.causes ?? []
  }
}

export function isP2PError(value: unknown, code?: P2PErrorCode): value is P2PError {
  return value instanceof P2PError && (code === undefined || value.code === code)
}
