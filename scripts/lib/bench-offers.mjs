/**
 * The job offer every gossip benchmark publishes (bench-gossip, its testnet worker and
 * bench-gossip-validation): one shape, so their figures are for the same message. The offer
 * is signed as a requester signs it, over the benchmark's fixed market domain.
 */
import { contentHashOf, offerTypedData } from '@ocn/protocol'

export const BENCH_DOMAIN = {
  chainId: 31337,
  verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
}
export const BENCH_SPEC = new TextEncoder().encode('{"bench":true}')
const MODEL_HASH = contentHashOf(new TextEncoder().encode('model'))
const INPUT_HASH = contentHashOf(new TextEncoder().encode('input'))
const SPEC_HASH = contentHashOf(BENCH_SPEC)

/**
 * A signed offer of `requester` ({account, peerId, binding}) with a fresh `salt`, open for
 * bids for 10 minutes; `overrides` replace terms (an expired offer, say), and `signer` signs
 * in the requester's place (a forgery when it is another key).
 */
export async function benchOffer(requester, { salt, overrides = {}, signer = requester.account }) {
  const now = BigInt(Math.floor(Date.now() / 1000))
  const terms = {
    requester: requester.account.address,
    modelHash: MODEL_HASH,
    inputHash: INPUT_HASH,
    specHash: SPEC_HASH,
    kind: 0,
    verification: 0,
    maxPrice: 10n ** 18n,
    minCollateral: 10n ** 17n,
    biddingEnds: now + 600n,
    deadline: now + 3600n,
    sampleCount: 100,
    microBatchSize: 10,
    salt,
    ...overrides,
  }
  return {
    version: 1,
    chainId: BENCH_DOMAIN.chainId,
    market: BENCH_DOMAIN.verifyingContract,
    terms,
    requesterPeerId: requester.peerId,
    requesterBinding: requester.binding,
    signature: await signer.signTypedData(offerTypedData(BENCH_DOMAIN, terms)),
    modelBytes: 5,
    inputBytes: 5,
    spec: BENCH_SPEC,
  }
}
