/**
 * The testnet: the devnet (anvil, the protocol, funded and staked nodes, the workload) with
 * every `ocn` daemon on a host of its own (network.ts): its own network namespace and address
 * on a bridge, behind a shaped link with a per-link delay (netem where the kernel has it, a
 * delaying relay in user space otherwise). The nodes announce and dial those addresses,
 * bootstrap from a few seeds, and reach the one anvil on the bridge's host address. It needs
 * root. Whatever it creates is removed on stop, on Ctrl-C (the command stops it), and by a
 * detached reaper when the harness itself dies.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Devnet, type DevnetHooks, startDevnet } from '../devnet/devnet.js'
import type { DevnetOptions } from '../devnet/options.js'
import type { DevnetPlacement } from '../devnet/placement.js'
import { assertRoot, createTestnetNetwork, type TestnetNetwork } from './network.js'
import type { TestnetScenario } from './scenario.js'

/** The requester's bidding window on the testnet (see startTestnet). */
export const TESTNET_BIDDING_WINDOW_MS = 4_000

export interface TestnetOptions {
  scenario: TestnetScenario
  /** Workload and timing options passed on to the devnet (its nodes and placement are the testnet's). */
  devnet?: Partial<Omit<DevnetOptions, 'nodes' | 'placement' | 'dir' | 'keep'>>
  /** Where data dirs and logs go; a temporary dir, removed on stop, by default. */
  dir?: string
  keep?: boolean
  signal?: AbortSignal
}

export interface Testnet {
  devnet: Devnet
  network: TestnetNetwork
  /** Stops the nodes, relays and anvil and removes the namespaces, links and (temporary) dir; safe to call twice. */
  stop(): Promise<void>
}

/** The seeds: the first non-providers (they start first), then whoever comes next. */
export function seedIndexes(scenario: TestnetScenario): number[] {
  const order = scenario.nodes
    .map((plan, index) => ({ index, provider: plan.roles.includes('provider') }))
    .sort((a, b) => Number(a.provider) - Number(b.provider) || a.index - b.index)
  return order.slice(0, Math.min(scenario.seeds, scenario.nodes.length)).map((o) => o.index)
}

function placement(network: TestnetNetwork, scenario: TestnetScenario): DevnetPlacement {
  return {
    chainHost: network.names.hostAddress,
    site: (index) => ({
      listen: network.listenAddress(index),
      dial: network.dialAddress(index),
      apiHost: network.names.nodeAddress(index),
      wrapper: network.wrapper(index),
    }),
    seeds: seedIndexes(scenario),
  }
}

/** Brings the testnet up; on any failure everything already made is removed again. */
export async function startTestnet(options: TestnetOptions, hooks: DevnetHooks = {}): Promise<Testnet> {
  assertRoot()
  const step = (message: string) => hooks.onEvent?.({ type: 'step', message })
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ocn-testnet-')))
  await mkdir(dir, { recursive: true })
  const keepDir = options.keep === true || options.dir !== undefined
  let network: TestnetNetwork | undefined
  let devnet: Devnet | undefined
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      await devnet?.stop().catch(() => undefined)
      await network?.stop()
      if (!keepDir) await rm(dir, { recursive: true, force: true })
    })()
    return stopped
  }
  try {
    network = await createTestnetNetwork({
      count: options.scenario.nodes.length,
      link: options.scenario.link,
      dir,
      step,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    devnet = await startDevnet(
      {
        // A provider fetches a job's files over the delayed links before it bids: the devnet's
        // 800 ms window (half of it for that check) is loopback's.
        biddingWindowMs: TESTNET_BIDDING_WINDOW_MS,
        ...options.devnet,
        nodes: options.scenario.nodes,
        placement: placement(network, options.scenario),
        dir,
        keep: true,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      hooks,
    )
    return { devnet, network, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
