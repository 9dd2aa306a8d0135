import { OcnError, type OcnErrorOptions } from '@ocn/protocol'
/**
 * The base error of @ocn/node, in the viem spirit: a stable `code` callers can switch on,
 * a one-line `shortMessage` a user can act on, optional `details`, and the `cause` chain.
 * Subsystems (config, keys, state, api, cli, daemon) subclass it with their own code sets.
 */
export type NodeErrorOptions = OcnErrorOptions

export class NodeError<TCode extends string = string> extends OcnError<TCode> {
  override name = 'NodeError'
}

export function isNodeError(error: unknown): error is NodeError {
  return error instanceof NodeError
}

export type DaemonErrorCode = 'DAEMON_ALREADY_STARTED' | 'DAEMON_ROLE_UNAVAILABLE' | 'DAEMON_START_FAILED'

export class DaemonError extends NodeError<DaemonErrorCode> {
  override name = 'DaemonError'
}
