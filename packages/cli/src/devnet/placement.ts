/**
 * Which nodes the devnet runs (by default from its options; a testnet scenario lists them) and
 * where they run. Without a placement every node listens on loopback in this
 * process's network; the testnet (src/testnet) gives each node its own network namespace,
 * address and delaying link, and anvil an address those namespaces reach.
 */
import type { NodeRole } from '@ocn/node'
import type { CheatingFaultPlanOptions } from './faults.js'

/** One node of the devnet: what it does, stakes and charges, and how it cheats. */
export interface DevnetNodePlan {
  name: string
  roles: NodeRole[]
  extraRoles: string[]
  cheater: boolean
  stake: boolean
  /** OPEN staked when `stake` is set; the options' stakeOpen when absent. */
  stakeAmount?: bigint
  priceFloor?: bigint
  /** The cheater's fault plan; the options' cheatFraction when absent. */
  faults?: CheatingFaultPlanOptions
}

/** One node's place on the network. */
export interface DevnetNodeSite {
  /** Multiaddr the node listens on. */
  listen: string
  /** Multiaddr the others dial (and the node announces); the listen address when they are equal. */
  dial: string
  /** Where its local API listens: an address this process reaches. */
  apiHost: string
  /** The command the node runs under (`ip netns exec <ns>`); none on loopback. */
  wrapper?: readonly string[]
}

export interface DevnetPlacement {
  /** Address anvil binds, reachable by every node. */
  chainHost: string
  site(index: number): DevnetNodeSite
  /** Indexes of the nodes every other node bootstraps from. */
  seeds: readonly number[]
}
