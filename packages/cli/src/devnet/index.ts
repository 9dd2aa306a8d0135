export * from './answer-faults.js'
export * from './board.js'
export * from './conservation.js'
export * from './control.js'
export * from './datanet.js'
export * from './datanet-chain.js'
export * from './devnet.js'
export * from './errors.js'
export * from './faults.js'
// a foreign libp2p peer (public packages only) for the hostile-peer test and the soak benchmark
export * as hostilePeer from './hostile-peer.js'
export { type FollowedJob, readFollowingReoffers } from './jobs.js'
// a devnet node's API through @ocn/client, for the benchmarks and tests that drive a devnet
export { type DevnetNodeApi, devnetNodeApi } from './node-client.js'
export * from './options.js'
export * from './phase.js'
export { devnetPhaseNames, devnetPhases } from './phases.js'
export type { DevnetNodePlan, DevnetNodeSite, DevnetPlacement } from './placement.js'
export {
  faultyNodeBinPath,
  type NodeProcess,
  type NodeReadyLine,
  ocnBinPath,
  spawnNode,
} from './processes.js'
export * from './rss.js'
export * from './workload.js'
export * from './workload-generation.js'
