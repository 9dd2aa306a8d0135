/**
 * The base error of @ocn/node, in the viem spirit: a stable `code` callers can switch on,
 * a one-line `shortMessage` a user can act on, optional `details`, and the `cause` chain.
 * Subsystems (config, keys, state, api, cli, daemon) subclass it with their own code sets.
 */
export interface NodeErrorOptions {
  details?: string | undefined
  cause?: unknown
}

export class NodeError<TCode extends string = string> extends Error {
  override name = 'NodeError'
  readonly code: TCode
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(code: TCode, shortMessage: string, options: NodeErrorOptions = {}) {
    const lines = [shortMessage]
    if (options.details !== undefined && options.details !== '') lines.push('', `Details: ${options.details}`)
    super(lines.join('\n'), options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.shortMessage = shortMessage
    this.details = options.details
  }
}

export function isNodeError(error: unknown): error is NodeError {
  return error instanceof NodeError
}

export type DaemonErrorCode = 'DAEMON_ALREADY_STARTED' | 'DAEMON_ROLE_UNAVAILABLE' | 'DAEMON_START_FAILED'

export class DaemonError extends NodeError<DaemonErrorCode> {
  override name = 'DaemonError'
}
