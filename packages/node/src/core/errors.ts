import { OcnError, type OcnErrorOptions } from '@ocn/protocol'

/**
 * The base error of @ocn/node, in the viem spirit: a stable `code` callers can switch on,
 * a one-line `shortMessage` a user can act on, optional `details`, and the `cause` chain.
 * Each subsystem (config, keys, state, api, chain, executor, p2p, roles, daemon) subclasses
 * it with its own code set, in its own `errors.ts`.
 */
export type NodeErrorOptions = OcnErrorOptions

export class NodeError<TCode extends string = string> extends OcnError<TCode> {
  override name = 'NodeError'
}

export function isNodeError(error: unknown): error is NodeError {
  return error instanceof NodeError
}
