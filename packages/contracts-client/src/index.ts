export * from './actions/index.js'
export * from './attribution/index.js'
export * from './channels/index.js'
export * from './compact/index.js'
export * from './court/index.js'
export * from './datanet/index.js'
export * from './deploy.js'
export * from './devChain.js'
export * from './errors.js'
export {
  accessManagerAbi,
  accessManagerBytecode,
  disputeCourtAbi,
  disputeCourtBytecode,
  jobMarketAbi,
  jobMarketBytecode,
  jobMarketExtensionAbi,
  jobMarketExtensionBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  openTokenAbi,
  openTokenBytecode,
  stakeManagerAbi,
  stakeManagerBytecode,
  zkVerifierRegistryAbi,
  zkVerifierRegistryBytecode,
} from './generated/abis.js'
export * from './governance/index.js'
export * from './release/index.js'
export * from './types.js'
export * from './watcher.js'
