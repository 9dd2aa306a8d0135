import { NodeError } from '@ocn/node'

export type DevnetErrorCode =
  | 'DEVNET_CHAIN_FAILED'
  | 'DEVNET_NODE_FAILED'
  | 'DEVNET_NODE_TIMEOUT'
  | 'DEVNET_ABORTED'
  | 'DEVNET_OPTIONS_INVALID'
  | 'DEVNET_PHASE_FAILED'

/** The devnet could not be brought up or could not run its workload. */
export class DevnetError extends NodeError<DevnetErrorCode> {
  override name = 'DevnetError'
}
