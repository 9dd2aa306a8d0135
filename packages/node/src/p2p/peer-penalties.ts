/**
 * What a node remembers about peers that misbehaved on its streams, and which peers the roles
 * vouch for. One instance per node, shared by every stream protocol and by gossipsub:
 *
 * - a peer that stalls a stream (holds it past its idle or total deadline) or floods
 *   requests gets penalty points; gossipsub reads them as the app-specific score (P5), so a
 *   staller loses its mesh standing and, past the graylist threshold, is not heard at all;
 * - for `refuseMs` after a penalty the peer's new requests are refused at once, so it cannot
 *   take a stream slot again the moment the deadline freed it;
 * - points decay (half every `halfLifeMs`), so a peer whose link was only slow is heard again;
 * - peers the roles trust (providers the requester awarded) get reserved upload slots.
 *
 * Both maps are bounded: a flood of fresh identities evicts the oldest entries, never grows memory.
 */
import { BoundedMap } from '../core/collections.js'

export interface PeerPenaltyOptions {
  /** points one stall costs; the app-specific score is minus the points */
  stallPoints: number
  /** how long a penalised peer's new requests are refused */
  refuseMs: number
  /** penalty points halve over this time */
  halfLifeMs: number
  /** peers remembered (penalised or trusted), each map */
  capacity: number
}

export const defaultPeerPenaltyOptions: PeerPenaltyOptions = {
  // two stalls (-2000) push a peer below gossipsub's publish threshold (-1000), three past graylist (-2500)
  stallPoints: 1000,
  refuseMs: 60_000,
  halfLifeMs: 300_000,
  capacity: 4096,
}

interface Penalty {
  points: number
  /** when `points` was last brought up to date (ms) */
  at: number
  refusedUntil: number
}

export class PeerPenalties {
  private readonly penalties: BoundedMap<string, Penalty>
  private readonly trusted: BoundedMap<string, number>

  constructor(
    readonly options: PeerPenaltyOptions = defaultPeerPenaltyOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.penalties = new BoundedMap(options.capacity)
    this.trusted = new BoundedMap(options.capacity)
  }

  /** adds `points` (default: one stall) and refuses the peer's requests for `refuseMs` */
  penalise(peer: string, points = this.options.stallPoints): void {
    const t = this.now()
    const current = this.decayed(peer, t)
    this.penalties.set(peer, { points: current + points, at: t, refusedUntil: t + this.options.refuseMs })
  }

  /** true while the peer's requests are refused after a penalty (trusted peers never are) */
  isRefused(peer: string): boolean {
    if (this.isTrusted(peer)) return false
    const entry = this.penalties.get(peer)
    return entry !== undefined && entry.refusedUntil > this.now()
  }

  /** the gossipsub app-specific score: minus the decayed penalty points, 0 for a clean peer */
  appScore(peer: string): number {
    const points = this.decayed(peer, this.now())
    return points === 0 ? 0 : -points
  }

  /** the roles vouch for `peer` until `untilMs` (an awarded provider, until its job ends) */
  trust(peer: string, untilMs: number): void {
    this.trusted.set(peer, untilMs)
  }

  untrust(peer: string): void {
    this.trusted.delete(peer)
  }

  isTrusted(peer: string): boolean {
    const until = this.trusted.get(peer)
    return until !== undefined && until > this.now()
  }

  /** entries held (penalised, trusted): bounded by `capacity` each */
  sizes(): { penalised: number; trusted: number } {
    return { penalised: this.penalties.size, trusted: this.trusted.size }
  }

  private decayed(peer: string, t: number): number {
    const entry = this.penalties.get(peer)
    if (entry === undefined) return 0
    const points = entry.points * 0.5 ** (Math.max(0, t - entry.at) / this.options.halfLifeMs)
    // below one point the peer is clean again
    return points < 1 ? 0 : points
  }
}
