/**
 * The devnet's phases, in the order they run. Governance must stay last: it hands the
 * deployer's admin role to the timelock, and the phases before it still use that role.
 */
import { attributionPhase } from './attribution-phase.js'
import { channelsPhase } from './channels-phase.js'
import { governancePhase } from './governance-phase.js'
import type { DevnetPhase } from './phase.js'
import { zkPhase } from './zk-phase.js'

export const devnetPhases: readonly DevnetPhase[] = [
  zkPhase,
  attributionPhase,
  channelsPhase,
  governancePhase,
]

export const devnetPhaseNames = (): string[] => devnetPhases.map((p) => p.name)
