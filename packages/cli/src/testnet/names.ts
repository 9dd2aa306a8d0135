/**
 * The names and addresses of one testnet's namespaces, links and subnet. Every name starts
 * with a fixed prefix and carries the harness's process id, so that leftovers of a harness
 * that died can be told from a live testnet's things and removed (leftovers.ts).
 */

/** Namespaces are `ocntn-<pid>-<index>`. */
export const NAMESPACE_PREFIX = 'ocntn-'
/** Bridges are `octb<pid base 36>`, the host ends of the veth pairs `octv<pid base 36>x<index>` (≤ 15 characters). */
export const BRIDGE_PREFIX = 'octb'
export const VETH_PREFIX = 'octv'
/** The most nodes one testnet's /24 holds (addresses .10 to .249). */
export const MAX_TESTNET_NODES = 240
/** The port the nodes' libp2p is dialled on, in every namespace. */
export const P2P_PORT = 4100
/** The port a node listens on behind its delaying relay (on the namespace's loopback). */
export const NODE_BEHIND_RELAY_PORT = 4101

export interface TestnetNames {
  /** The harness's process id: things named after a dead one are leftovers. */
  owner: number
  bridge: string
  /** The first three octets of the subnet, `10.x.y`. */
  subnet: string
  /** The bridge's address on the host: anvil listens there. */
  hostAddress: string
  namespace(index: number): string
  hostVeth(index: number): string
  nodeAddress(index: number): string
}

export function testnetNames(owner: number = process.pid): TestnetNames {
  const tag = owner.toString(36)
  // One /24 per owner in 10.128.0.0/9, far from the 10.0.x.y ranges hosts usually use; the
  // testnet checks that no route of the host covers it before taking it.
  const subnet = `10.${128 + (Math.floor(owner / 256) % 100)}.${owner % 256}`
  return {
    owner,
    bridge: `${BRIDGE_PREFIX}${tag}`,
    subnet,
    hostAddress: `${subnet}.1`,
    namespace: (index) => `${NAMESPACE_PREFIX}${owner}-${index}`,
    hostVeth: (index) => `${VETH_PREFIX}${tag}x${index}`,
    nodeAddress: (index) => `${subnet}.${10 + index}`,
  }
}

/** The owner of a testnet namespace or link name, or undefined when it is not one. */
export function ownerOf(name: string): number | undefined {
  const ns = /^ocntn-(\d+)-\d+$/.exec(name)
  if (ns !== null) return Number(ns[1])
  // base 36 has an x too: the index is what follows the last one
  const link = /^octb([0-9a-z]+)$/.exec(name) ?? /^octv([0-9a-z]+)x\d+$/.exec(name)
  if (link !== null) return Number.parseInt(link[1]!, 36)
  return undefined
}

/**
 * The one-way delay of the link between nodes `a` and `b` (the same both ways), spread over
 * [min, max] by a fixed mix of the two indexes: a run can be repeated link for link.
 */
export function linkDelayMs(a: number, b: number, range: readonly [number, number]): number {
  const [low, high] = a < b ? [a, b] : [b, a]
  let h = (Math.imul(low + 1, 0x9e3779b1) ^ Math.imul(high + 1, 0x85ebca77)) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0
  return range[0] + (h % (range[1] - range[0] + 1))
}
