export * from './answer-faults.js'
export * from './datanet.js'
export * from './devnet.js'
export * from './errors.js'
export * from './faults.js'
export * from './options.js'
export * from './phase.js'
export { devnetPhaseNames, devnetPhases } from './phases.js'
export {
  faultyNodeBinPath,
  type NodeProcess,
  type NodeReadyLine,
  ocnBinPath,
  spawnNode,
} from './processes.js'
export * from './workload.js'
