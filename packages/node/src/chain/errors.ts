import { NodeError } from '../core/errors.js'

export type ChainServiceErrorCode =
  | 'CHAIN_DEPLOYMENT_MISSING'
  | 'CHAIN_DEPLOYMENT_INVALID'
  | 'CHAIN_DEPLOYMENT_MISMATCH'
  | 'CHAIN_UNREACHABLE'
  | 'CHAIN_NOT_STARTED'
  | 'CHAIN_NO_MODEL_REGISTRY'
  | 'CHAIN_TIMEOUT'
  | 'CHAIN_INSUFFICIENT_FUNDS'

/** The daemon's chain service could not do what it was asked (deployment, RPC endpoint). */
export class ChainServiceError extends NodeError<ChainServiceErrorCode> {
  override name = 'ChainServiceError'
}
