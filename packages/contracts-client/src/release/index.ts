// Gated model releases (ModelRegistry review and objections) and the ModelMonitor.
export { modelMonitorAbi, modelMonitorBytecode } from '../generated/abis.js'
export * from './actions.js'
export * from './params.js'
