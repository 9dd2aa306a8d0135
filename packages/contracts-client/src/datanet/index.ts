// The DatanetRegistry: datanets, staked contributions, attribution from finalized jobs.
export { datanetRegistryAbi, datanetRegistryBytecode } from '../generated/abis.js'
export * from './attribution.js'
export * from './claims.js'
export * from './contributions.js'
export * from './datanets.js'
export * from './params.js'
