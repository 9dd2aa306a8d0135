import { NodeError } from '@ocn/node'

export type TestnetErrorCode =
  | 'TESTNET_NEEDS_ROOT'
  | 'TESTNET_NAMESPACES_FORBIDDEN'
  | 'TESTNET_NETWORK_FAILED'
  | 'TESTNET_SCENARIO_INVALID'
  | 'TESTNET_RELAY_FAILED'

/** The testnet could not build or tear down its network, or its scenario is unusable. */
export class TestnetError extends NodeError<TestnetErrorCode> {
  override name = 'TestnetError'
}
