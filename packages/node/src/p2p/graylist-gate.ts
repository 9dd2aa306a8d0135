/**
 * Cuts graylisted peers off.
 *
 * gossipsub drops every RPC of a peer scored below the graylist threshold unread, but only
 * after the connection has decrypted, demultiplexed and decoded it: a flooder that keeps
 * sending after it was graylisted still costs each neighbour Noise, Yamux and protobuf work
 * for every message, for as long as it stays connected. On the testnet, with attackers at
 * 200 messages/s each, that work is what delays the honest offers long after every flooder
 * was graylisted (docs/network.md, "Scale").
 *
 * So a check every `checkIntervalMs` closes the connections of any connected peer below the
 * graylist threshold, and the host's connection gater refuses it, dialled or dialling, for
 * `banMs`. gossipsub keeps a disconnected peer's score (retainScore, an hour), so a peer that
 * returns when its ban ends while still graylisted is cut off again at the next check, and
 * one whose score has recovered is heard again. Peers the roles trust (a provider an awarded
 * job depends on, see peer-penalties.ts) are never cut off: their job's streams matter more
 * than their gossip standing.
 */

import { BoundedMap } from '../core/collections.js'
import type { Logger } from '../core/logger.js'
import { peerScore } from './gossip.js'
import type { OcnHost } from './host.js'
import type { P2PMetrics } from './metrics.js'
import type { PeerPenalties } from './peer-penalties.js'
import { scoreThresholds } from './scoring.js'

export interface GraylistGateOptions {
  /** how often connected peers' scores are read */
  checkIntervalMs: number
  /** how long a cut-off peer's connections are refused */
  banMs: number
  /** peers remembered as banned; a flood of fresh identities evicts the oldest */
  capacity: number
}

export const defaultGraylistGateOptions: GraylistGateOptions = {
  checkIntervalMs: 1_000,
  banMs: 300_000,
  capacity: 4096,
}

export class GraylistGate {
  private readonly banned: BoundedMap<string, number>
  private timer: ReturnType<typeof setInterval> | undefined
  private cutOffs = 0

  constructor(
    readonly options: GraylistGateOptions,
    private readonly penalties: PeerPenalties,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly metrics?: Pick<P2PMetrics, 'graylistCutOffs'>,
  ) {
    this.banned = new BoundedMap(options.capacity)
  }

  /** whether `peer`'s connections are refused now (the host's connection gater asks) */
  isBanned(peer: string): boolean {
    const until = this.banned.get(peer)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.banned.delete(peer)
    return false
  }

  /** refuses `peer`'s connections, both ways, for `banMs` from now */
  ban(peer: string): void {
    this.banned.set(peer, this.now() + this.options.banMs)
  }

  /** peers cut off since start (the same peer again after its ban counts again) */
  get cutOffCount(): number {
    return this.cutOffs
  }

  start(host: OcnHost): void {
    if (this.timer) return
    this.timer = setInterval(() => {
      this.check(host).catch((error) => this.log.debug({ err: error }, 'graylist check failed'))
    }, this.options.checkIntervalMs)
    this.timer.unref?.()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /** Cuts off every connected peer below the graylist threshold that the roles do not trust. */
  async check(host: OcnHost): Promise<string[]> {
    const cut: string[] = []
    for (const peer of host.getPeers()) {
      const id = peer.toString()
      // one already cut off may still be listed while its hang-up is under way (a check that
      // overlaps the last one): it is not cut off, or counted, twice
      if (this.isBanned(id) || this.penalties.isTrusted(id)) continue
      const score = peerScore(host, id)
      if (!(score < scoreThresholds.graylistThreshold)) continue
      this.ban(id)
      this.cutOffs++
      this.metrics?.graylistCutOffs.inc({})
      cut.push(id)
      this.log.warn({ peer: id, score, banMs: this.options.banMs }, 'graylisted peer cut off')
      await host.hangUp(peer).catch(() => {})
    }
    return cut
  }
}
