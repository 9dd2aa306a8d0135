/**
 * The testnet's hosts without the devnet on them: namespaces on a bridge, shaped links, and
 * (without netem) a delaying relay in front of each host's p2p port. The testnet puts the
 * `ocn` daemons there; the gossip benchmark its own libp2p processes.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type NodeProcess, ocnBinPath, spawnNode } from '../devnet/processes.js'
import { TestnetError } from './errors.js'
import { removeLeftovers, spawnReaper } from './leftovers.js'
import { linkDelayMs, NODE_BEHIND_RELAY_PORT, P2P_PORT, type TestnetNames, testnetNames } from './names.js'
import type { TestnetLink } from './scenario.js'
import { createBridge, createNodeHost, netemAvailable, removeNetwork } from './topology.js'

export interface TestnetNetworkOptions {
  count: number
  link: TestnetLink
  /** Relay logs go to `<dir>/relays/<index>`. */
  dir: string
  step?: (message: string) => void
  signal?: AbortSignal
}

export interface TestnetNetwork {
  names: TestnetNames
  namespaces: string[]
  /** How link delay is applied: the kernel's netem, or the relays in user space. */
  delay: 'netem' | 'relay'
  /** The command that runs a program in host `index`'s namespace. */
  wrapper(index: number): string[]
  /** Host `index`'s announced p2p address, `/ip4/10.x.y.z/tcp/4100`: what the others dial. */
  dialAddress(index: number): string
  /** Where host `index`'s p2p listens: the dial address, or loopback behind its relay. */
  listenAddress(index: number): string
  /** Stops the relays and removes the namespaces (killing what still runs there) and the bridge; safe to call twice. */
  stop(): Promise<void>
}

/** Refuses to run without root: namespaces, links and qdiscs need CAP_NET_ADMIN. */
export function assertRoot(): void {
  if (process.getuid?.() !== 0)
    throw new TestnetError(
      'TESTNET_NEEDS_ROOT',
      'the testnet needs root (it creates network namespaces, links and qdiscs)',
      {
        details:
          'run it as root, e.g. `sudo npm run testnet -- --nodes 6`; `ocn devnet` runs without root on loopback',
      },
    )
}

/** The relay binary next to this module (dist/testnet -> dist/bin). */
function relayBinPath(): string {
  return join(ocnBinPath(), '..', 'link-relay.js')
}

/** What createTestnetNetwork has made so far: exactly what stop undoes. */
interface Made {
  names: TestnetNames
  namespaces: string[]
  relays: NodeProcess<{ status: string }>[]
}

function stopper(made: Made): () => Promise<void> {
  let stopped: Promise<void> | undefined
  return () => {
    stopped ??= (async () => {
      await Promise.all(made.relays.map((relay) => relay.stop(1_000)))
      await removeNetwork(made.namespaces, [made.names.bridge])
    })()
    return stopped
  }
}

/** One relay per host, in its namespace, with each link's delay by the dialler's address. */
async function startRelays(made: Made, options: TestnetNetworkOptions): Promise<void> {
  const { names } = made
  for (let index = 0; index < options.count; index++) {
    const delays: Record<string, number> = {}
    for (let other = 0; other < options.count; other++)
      if (other !== index) delays[names.nodeAddress(other)] = linkDelayMs(index, other, options.link.delayMs)
    const dataDir = join(options.dir, 'relays', String(index))
    await mkdir(dataDir, { recursive: true })
    const relay = await spawnNode<{ status: string }>({
      name: `relay ${index}`,
      dataDir,
      logPath: join(dataDir, 'relay.log'),
      entry: relayBinPath(),
      command: [],
      args: [
        '--listen',
        `${names.nodeAddress(index)}:${P2P_PORT}`,
        '--target',
        String(NODE_BEHIND_RELAY_PORT),
        '--delays',
        JSON.stringify(delays),
        '--default-delay',
        String(options.link.delayMs[0]),
      ],
      wrapper: ['ip', 'netns', 'exec', names.namespace(index)],
      timeoutMs: 15_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    made.relays.push(relay)
  }
}

/** A refusal to make a namespace or link (a container without CAP_NET_ADMIN) as its own error. */
function forbiddenOr(error: unknown): unknown {
  const details = error instanceof TestnetError ? (error.details ?? '') : ''
  if (/Operation not permitted|Permission denied/i.test(details))
    return new TestnetError(
      'TESTNET_NAMESPACES_FORBIDDEN',
      'this machine forbids network namespaces or links',
      {
        cause: error,
        details,
      },
    )
  return error
}

/** The namespaces, links and shapers of every host; the delay mode the kernel allows. */
async function buildHosts(made: Made, options: TestnetNetworkOptions): Promise<TestnetNetwork['delay']> {
  const { names } = made
  await createBridge(names).catch((error: unknown) => {
    throw forbiddenOr(error)
  })
  const delay = (await netemAvailable(names)) ? 'netem' : 'relay'
  const { delayMs, rateMbit } = options.link
  options.step?.(
    `building ${options.count} namespaces on ${names.bridge} (${names.subnet}.0/24), links ${rateMbit} Mbit/s, ` +
      `${delayMs[0]}-${delayMs[1]} ms one way (${delay === 'netem' ? 'netem' : 'delaying relays in user space: no netem here'})`,
  )
  for (let index = 0; index < options.count; index++) {
    made.namespaces.push(names.namespace(index))
    await createNodeHost(names, index, {
      rateMbit,
      // netem delays each host's egress: a link then takes the mean of its ends' delays each way
      ...(delay === 'netem'
        ? { netemDelayMs: (i: number) => Math.round(linkDelayMs(i, i, delayMs) / 2) }
        : {}),
    })
  }
  return delay
}

/**
 * Builds the hosts (root only): first removes what dead testnets left, then starts the
 * reaper that removes this one's if this process dies. On any failure what was made is removed.
 */
export async function createTestnetNetwork(options: TestnetNetworkOptions): Promise<TestnetNetwork> {
  assertRoot()
  const removed = await removeLeftovers()
  if (removed.length > 0) options.step?.(`removed leftovers of dead testnets: ${removed.join(', ')}`)
  const names = testnetNames()
  const made: Made = { names, namespaces: [], relays: [] }
  const stop = stopper(made)
  spawnReaper(names)
  try {
    const delay = await buildHosts(made, options)
    if (delay === 'relay') await startRelays(made, options)
    const dialAddress = (index: number) => `/ip4/${names.nodeAddress(index)}/tcp/${P2P_PORT}`
    return {
      names,
      namespaces: [...made.namespaces],
      delay,
      wrapper: (index) => ['ip', 'netns', 'exec', names.namespace(index)],
      dialAddress,
      // behind the relay the host listens on its namespace's loopback; the relay holds the address
      listenAddress: (index) =>
        delay === 'relay' ? `/ip4/127.0.0.1/tcp/${NODE_BEHIND_RELAY_PORT}` : dialAddress(index),
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
