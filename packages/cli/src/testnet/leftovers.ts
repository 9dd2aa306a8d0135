/**
 * Nothing a testnet made may outlive it. A clean stop removes its things itself; for a
 * harness that dies (SIGKILL, a crash) a detached reaper removes them once its pid is gone,
 * and every new testnet first removes what harnesses no longer alive left behind.
 */
import { spawn } from 'node:child_process'
import { processAlive } from '@ocn/node'
import { ownerOf, type TestnetNames } from './names.js'
import { listTestnetThings, removeNetwork } from './topology.js'

/** Removes the namespaces and links of testnets whose harness is dead; returns their names. */
export async function removeLeftovers(): Promise<string[]> {
  const { namespaces, links } = await listTestnetThings()
  const dead = (name: string) => {
    const owner = ownerOf(name)
    return owner !== undefined && owner !== process.pid && !processAlive(owner)
  }
  const staleNamespaces = namespaces.filter(dead)
  const staleLinks = links.filter(dead)
  await removeNetwork(staleNamespaces, staleLinks)
  return [...staleNamespaces, ...staleLinks]
}

/**
 * Starts the reaper: a shell in its own session, out of this process's group (a Ctrl-C or a
 * kill of the group leaves it), that polls this process and, once it is gone, kills what runs
 * in its namespaces and deletes them and the bridge. It ends by itself after a clean stop.
 */
export function spawnReaper(names: TestnetNames): void {
  const script = [
    'while kill -0 "$OWNER" 2>/dev/null; do sleep 1; done',
    'for ns in $(ip netns list | cut -d" " -f1 | grep "^$PREFIX"); do',
    '  for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null; done',
    '  ip netns del "$ns" 2>/dev/null',
    'done',
    'ip link del "$BRIDGE" 2>/dev/null',
    'exit 0',
  ].join('\n')
  const child = spawn('/bin/sh', ['-c', script], {
    detached: true,
    stdio: 'ignore',
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      OWNER: String(names.owner),
      PREFIX: `${names.namespace(0).slice(0, -1)}`,
      BRIDGE: names.bridge,
    },
  })
  child.unref()
}
