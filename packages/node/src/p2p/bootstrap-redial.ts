/**
 * Dials the bootstrap list again while the host has no connection at all. libp2p's bootstrap
 * module dials its list once, at start; a node whose every dial failed then (the seeds not up
 * yet, or a machine so busy that Noise over the links outlasted the dial timeout) stayed alone
 * for good, since no other node knew its address: 2 of 27 daemons of the testnet's load
 * benchmark on two shared cores. A node with any connection is left to gossipsub's peer
 * exchange and the DHT.
 */
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../core/logger.js'

/** What the redial needs of the libp2p host. */
export interface RedialHost {
  getConnections(): readonly unknown[]
  dial(address: ReturnType<typeof multiaddr>, options?: { signal?: AbortSignal }): Promise<unknown>
}

export const BOOTSTRAP_REDIAL_MS = 5_000

/** Starts the redial timer (unref'd); returns its stop. No list, no timer. */
export function startBootstrapRedial(
  host: RedialHost,
  list: readonly string[],
  log: Logger,
  intervalMs = BOOTSTRAP_REDIAL_MS,
): () => void {
  if (list.length === 0) return () => {}
  const controller = new AbortController()
  let dialing = false
  const redial = async () => {
    if (dialing || host.getConnections().length > 0) return
    dialing = true
    log.info({ seeds: list.length }, 'no peer connected: dialling the bootstrap list again')
    try {
      // one at a time: a starved machine answers one dial sooner than several at once
      for (const address of list) {
        if (controller.signal.aborted || host.getConnections().length > 0) return
        await host.dial(multiaddr(address), { signal: controller.signal }).catch((err: unknown) => {
          log.debug({ address, err }, 'bootstrap redial failed')
        })
      }
    } finally {
      dialing = false
    }
  }
  const timer = setInterval(() => void redial(), intervalMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    controller.abort()
  }
}
