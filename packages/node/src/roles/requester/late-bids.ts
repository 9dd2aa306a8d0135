/**
 * Bid collection on a slow network. A requester closes bid collection after
 * requester.biddingWindowMs; on a loaded network an offer reaches the providers seconds late
 * and their check of the job's files takes seconds more, so every bid can arrive after the
 * close. Each such round used to end "no usable bid" and spend a re-offer (a new offer: new
 * gossip, new checks at every provider, the same lateness again), until the job failed.
 *
 * The offer's signed terms allow an award until their bidding end, an award grace after the
 * close. So when bids have lately come after a close (the network is slow: the evidence, not a
 * guess) and a round closes without a usable bid, collection stays open for the first half of
 * what is left before the bidding end; the first usable bid then starts the award at once, and
 * the other half is the award's. On a network where bids come in time nothing changes: no
 * late bid, no extension, the re-offer rules as before.
 */

/** How long a late bid counts as evidence that the network is slow. */
export const LATE_BID_MEMORY_MS = 10 * 60_000

/** An extension shorter than this cannot gather a bid and award it: re-offer instead. */
export const MIN_EXTENSION_MS = 1_000

/** When this requester last refused a bid because its collection had closed. */
export class LateBids {
  private lastAt: number | undefined

  note(now: number = Date.now()): void {
    this.lastAt = now
  }

  seenRecently(now: number = Date.now()): boolean {
    return this.lastAt !== undefined && now - this.lastAt <= LATE_BID_MEMORY_MS
  }
}

export interface ExtensionInput {
  /** bids came after a close lately (LateBids.seenRecently) */
  lateBidsSeen: boolean
  /** collection of this job was extended before: once per offer */
  extendedBefore: boolean
  /** chain time now and the offer's bidding end, seconds */
  chainNow: bigint
  biddingEnds: bigint
  /** requester.awardGraceMs: the time between the close and the bidding end, for the award */
  awardGraceMs: number
  /** seconds before the bidding end after which no award is sent (award.ts AWARD_MARGIN_SECONDS) */
  awardMarginSeconds: bigint
}

/**
 * How many more milliseconds to collect bids on a job whose collection closed without a
 * usable bid; 0: none (fail the round and re-offer). Half of the time left before the last
 * award stays for the award itself, and never less than half the award grace.
 */
export function collectionExtensionMs(input: ExtensionInput): number {
  if (!input.lateBidsSeen || input.extendedBefore) return 0
  const untilLastAwardMs = Number(input.biddingEnds - input.awardMarginSeconds - input.chainNow) * 1000
  const keepForAward = Math.max(untilLastAwardMs / 2, input.awardGraceMs / 2)
  const extension = Math.floor(untilLastAwardMs - keepForAward)
  return extension >= MIN_EXTENSION_MS ? extension : 0
}
