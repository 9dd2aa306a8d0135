// The AttributionPool: fees for a model split among its data contributors by committed weights.
import { toFunctionSelector } from 'viem'

export { attributionPoolAbi, attributionPoolBytecode } from '../generated/abis.js'
export * from './claimAttribution.js'
export * from './deployAttributionPool.js'
export * from './depositAttributionFees.js'
export * from './getAttributionPool.js'
export * from './getAttributionRound.js'
export * from './setAttributionWeights.js'
export * from './settleAttributionRound.js'

/** Selectors of the pool's restricted functions, for AccessManager.setTargetFunctionRole. */
export const attributionPoolSelectors = {
  setWeights: toFunctionSelector('setWeights(bytes32,bytes32,bytes32)'),
} as const
