/**
 * Fair shares of a node's artifact upload slots. Before these, eight requests from one
 * reader that never read its replies held every slot for as long as the connection lived,
 * and every other provider was answered `busy` (issue 13). Now:
 *
 * - one peer holds at most `maxPerPeer` uploads at once (a trusted peer `maxPerTrustedPeer`);
 * - untrusted peers together hold at most `total - reservedForTrusted`, so the providers
 *   the requester awarded always find a slot, whatever strangers do;
 * - a slot is held only while its upload runs, and every upload has a deadline, so a slot
 *   always comes back.
 */

export interface UploadSlotOptions {
  /** uploads served at once */
  total: number
  /** slots only trusted peers (awarded providers) may take */
  reservedForTrusted: number
  /** uploads one untrusted peer may hold at once */
  maxPerPeer: number
  /** uploads one trusted peer may hold at once */
  maxPerTrustedPeer: number
}

export const defaultUploadSlotOptions: UploadSlotOptions = {
  total: 8,
  reservedForTrusted: 2,
  maxPerPeer: 2,
  maxPerTrustedPeer: 4,
}

/** why no slot: every slot is taken (`busy`), or this peer already has its share (`peer-share`) */
export type SlotRefusal = 'busy' | 'peer-share'

export class UploadSlots {
  private readonly byPeer = new Map<string, number>()
  private untrusted = 0
  private all = 0

  constructor(readonly options: UploadSlotOptions = defaultUploadSlotOptions) {}

  /** takes a slot for `peer`, or says why not; call the returned release exactly once */
  acquire(peer: string, trusted: boolean): { release: () => void } | SlotRefusal {
    const { total, reservedForTrusted, maxPerPeer, maxPerTrustedPeer } = this.options
    const held = this.byPeer.get(peer) ?? 0
    if (held >= (trusted ? maxPerTrustedPeer : maxPerPeer)) return 'peer-share'
    if (this.all >= total) return 'busy'
    if (!trusted && this.untrusted >= total - reservedForTrusted) return 'busy'
    this.byPeer.set(peer, held + 1)
    this.all++
    if (!trusted) this.untrusted++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        const left = (this.byPeer.get(peer) ?? 1) - 1
        if (left <= 0) this.byPeer.delete(peer)
        else this.byPeer.set(peer, left)
        this.all--
        if (!trusted) this.untrusted--
      },
    }
  }

  /** uploads running now, and how many peers hold them */
  usage(): { uploads: number; untrusted: number; peers: number } {
    return { uploads: this.all, untrusted: this.untrusted, peers: this.byPeer.size }
  }
}

/**
 * The total time an upload or download of `size` bytes may take: the header's time plus the
 * bytes at the slowest rate we serve. A reader slower than that is treated as stalled.
 */
export function transferDeadlineMs(
  size: number,
  options: { requestTimeoutMs: number; minTransferBytesPerSecond: number },
): number {
  return options.requestTimeoutMs + Math.ceil((size / options.minTransferBytesPerSecond) * 1000)
}
