import { describe, expect, it } from 'vitest'
import { prebidWaitMs } from '../../src/roles/provider/prebid-gate.js'
import {
  collectionExtensionMs,
  type ExtensionInput,
  LATE_BID_MEMORY_MS,
  LateBids,
} from '../../src/roles/requester/late-bids.js'

/** The testnet's offer at its close: 4 s window, 20 s award grace, so 20 s left to the bidding end. */
function atClose(extra: Partial<ExtensionInput> = {}): ExtensionInput {
  return {
    lateBidsSeen: true,
    extendedBefore: false,
    chainNow: 1_000n,
    biddingEnds: 1_020n,
    awardGraceMs: 20_000,
    awardMarginSeconds: 2n,
    ...extra,
  }
}

describe('bid collection on a slow network (re-offer decisions)', () => {
  it('collects on after a close without a usable bid only when bids have lately come late', () => {
    // 18 s until the last award: half of it (but at least half the grace, 10 s) stays for the award
    expect(collectionExtensionMs(atClose())).toBe(8_000)
    // no evidence of a slow network: the round fails and is re-offered as before
    expect(collectionExtensionMs(atClose({ lateBidsSeen: false }))).toBe(0)
    // once per offer: a second empty close re-offers
    expect(collectionExtensionMs(atClose({ extendedBefore: true }))).toBe(0)
  })

  it('keeps half of what is left for the award, and never extends into too little time', () => {
    // a long grace: half of the 58 s left collects, half awards
    expect(collectionExtensionMs(atClose({ biddingEnds: 1_060n, awardGraceMs: 20_000 }))).toBe(29_000)
    // the award grace (10 s of it) outweighs half of a short remainder: only 1 s is left to collect
    expect(collectionExtensionMs(atClose({ biddingEnds: 1_013n }))).toBe(1_000)
    expect(collectionExtensionMs(atClose({ biddingEnds: 1_012n }))).toBe(0)
    // the bidding end already passed (a starved requester closed late)
    expect(collectionExtensionMs(atClose({ biddingEnds: 999n }))).toBe(0)
  })

  it('remembers a late bid for a while', () => {
    const late = new LateBids()
    expect(late.seenRecently(1_000)).toBe(false)
    late.note(1_000)
    expect(late.seenRecently(1_000 + LATE_BID_MEMORY_MS)).toBe(true)
    expect(late.seenRecently(1_001 + LATE_BID_MEMORY_MS)).toBe(false)
  })
})

describe('the wait for the check before a bid', () => {
  it('lasts half of what is left before the bidding end, at least provider.prebidTimeoutMs', () => {
    const now = 1_000_000
    // the testnet's offer heard 1 s after publishing: 23 s to its bidding end, 11.5 s of them to check
    expect(prebidWaitMs(1_023n, now, 2_000)).toBe(11_500)
    // a short offer: the configured minimum
    expect(prebidWaitMs(1_002n, now, 2_000)).toBe(2_000)
    // an offer already past its bidding end gets the minimum too (the bid will be refused anyway)
    expect(prebidWaitMs(900n, now, 1_000)).toBe(1_000)
    // never longer than the check itself may run
    expect(prebidWaitMs(10_000n, now, 1_000)).toBe(60_000)
  })
})
