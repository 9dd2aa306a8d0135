/**
 * The testnet's network: a bridge on the host with the host's address, and per node a
 * network namespace joined to it by a veth pair, each end's egress shaped with `tc tbf` (or
 * `netem`, delay included, where the kernel has it). Traffic between the namespaces crosses
 * the bridge and its shapers; nothing is routed anywhere else (the namespaces have no
 * default route).
 */
import { TestnetError } from './errors.js'
import { NAMESPACE_PREFIX, type TestnetNames } from './names.js'
import { sh, shQuiet } from './shell.js'

export interface LinkShape {
  /** Bandwidth of each node's link, each way. */
  rateMbit: number
  /** With netem: this node's egress delay (the link's delay in user space otherwise). */
  netemDelayMs?: (index: number) => number
}

/** The shaping of one end of a link: netem with its delay where asked for, tbf otherwise. */
function shaper(rateMbit: number, delayMs: number | undefined): string[] {
  if (delayMs !== undefined) return ['netem', 'delay', `${delayMs}ms`, 'rate', `${rateMbit}mbit`]
  // a burst of ~10 ms at the rate (at least 32 KiB); queued packets wait up to 50 ms
  const burst = Math.max(32 * 1024, Math.round((rateMbit * 1e6) / 8 / 100))
  return ['tbf', 'rate', `${rateMbit}mbit`, 'burst', String(burst), 'latency', '50ms']
}

/** Refuses an address range a route of this host already covers (it would shadow it). */
async function checkSubnetFree(names: TestnetNames): Promise<void> {
  const routes = await sh('ip', ['-4', '-o', 'route', 'show'])
  const [a, b, c] = names.subnet.split('.')
  const clash = routes
    .split('\n')
    .find((line) => line.startsWith(`${a}.${b}.${c}.`) || line.startsWith(`${a}.${b}.0.0/16`))
  if (clash !== undefined)
    throw new TestnetError('TESTNET_NETWORK_FAILED', `the testnet's subnet ${names.subnet}.0/24 is in use`, {
      details: `route: ${clash.trim()}; run the testnet from another process (the subnet follows its pid)`,
    })
}

export async function createBridge(names: TestnetNames): Promise<void> {
  await checkSubnetFree(names)
  await sh('ip', ['link', 'add', names.bridge, 'type', 'bridge'])
  await sh('ip', ['addr', 'add', `${names.hostAddress}/24`, 'dev', names.bridge])
  await sh('ip', ['link', 'set', names.bridge, 'up'])
}

/** Namespace `index`, its veth pair on the bridge, its address and both shapers. */
export async function createNodeHost(names: TestnetNames, index: number, shape: LinkShape): Promise<void> {
  const ns = names.namespace(index)
  const veth = names.hostVeth(index)
  const inside = (...args: string[]) => sh('ip', ['netns', 'exec', ns, ...args])
  await sh('ip', ['netns', 'add', ns])
  await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
  await sh('ip', ['link', 'set', veth, 'master', names.bridge, 'up'])
  await inside('ip', 'addr', 'add', `${names.nodeAddress(index)}/24`, 'dev', 'eth0')
  await inside('ip', 'link', 'set', 'eth0', 'up')
  await inside('ip', 'link', 'set', 'lo', 'up')
  const delay = shape.netemDelayMs?.(index)
  await sh('tc', ['qdisc', 'add', 'dev', veth, 'root', ...shaper(shape.rateMbit, delay)])
  await inside('tc', 'qdisc', 'add', 'dev', 'eth0', 'root', ...shaper(shape.rateMbit, delay))
}

/** Whether this kernel has the netem qdisc (tried on a scratch namespace's loopback). */
export async function netemAvailable(names: TestnetNames): Promise<boolean> {
  const scratch = `${NAMESPACE_PREFIX}${names.owner}-probe`
  await sh('ip', ['netns', 'add', scratch])
  try {
    await sh('ip', [
      'netns',
      'exec',
      scratch,
      'tc',
      'qdisc',
      'add',
      'dev',
      'lo',
      'root',
      'netem',
      'delay',
      '1ms',
    ])
    return true
  } catch {
    return false
  } finally {
    await shQuiet('ip', ['netns', 'del', scratch])
  }
}

/** The process ids running inside a namespace. */
export async function namespacePids(ns: string): Promise<number[]> {
  const out = await sh('ip', ['netns', 'pids', ns]).catch(() => '')
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isSafeInteger(pid) && pid > 0)
}

/**
 * Removes namespaces (killing what still runs in them: deleting a namespace's name does not
 * end its processes) and links. Deleting a namespace deletes the veth pairs with an end in it.
 */
export async function removeNetwork(namespaces: readonly string[], links: readonly string[]): Promise<void> {
  for (const ns of namespaces) {
    for (const pid of await namespacePids(ns)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await shQuiet('ip', ['netns', 'del', ns])
  }
  for (const link of links) await shQuiet('ip', ['link', 'del', link])
}

/** The testnet namespaces and links on this host, whoever made them. */
export async function listTestnetThings(): Promise<{ namespaces: string[]; links: string[] }> {
  const nsOut = await sh('ip', ['netns', 'list']).catch(() => '')
  const namespaces = nsOut
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(NAMESPACE_PREFIX))
  const linkOut = await sh('ip', ['-o', 'link', 'show'])
  const links = linkOut
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith('octb') || name.startsWith('octv'))
  return { namespaces, links }
}
