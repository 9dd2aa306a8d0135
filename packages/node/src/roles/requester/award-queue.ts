/**
 * Group award: every award of the requester goes through one GroupSender
 * (chain/group-send.ts), so awards that become ready while another is on its way share the
 * next transaction as one `awardBatch`: one base fee, one escrow `transferFrom` of the summed
 * prices, one stake lock per run of a provider's bids and one registry check per run of a
 * model's offers (~145 000 gas for a job awarded alone, ~71 000 a job in a batch of 32). The
 * batch is ordered by provider, then model, so those runs are as long as they can be.
 * `awardBatch` is all or nothing: a batch refused before it is sent (a provider short of free
 * stake, a revoked model, funds that cover the awards one by one but not together) is split,
 * and each award is sent alone with its own answer, which the award loop handles as it always
 * did (the next bid, or the model refused).
 */
import { award, awardBatch } from '@ocn/contracts-client'
import type { Bid, JobOffer } from '@ocn/protocol'
import type { Hex } from 'viem'
import { GroupSender } from '../../chain/group-send.js'
import { observeSettlement } from '../metrics.js'
import { prepareBatchEscrow } from './allowance.js'
import { jobMarket, type RequesterContext } from './context.js'

/** One job's award: its offer and the bid chosen for it. */
export interface AwardRequest {
  jobId: string
  offer: Pick<JobOffer, 'terms'>
  bid: Pick<Bid, 'terms' | 'signature'>
}

/** What the award's transaction did: its hash, and where each job's price came from. */
export interface AwardSent {
  hash: Hex
  sources: ReadonlyMap<string, 'market' | 'wallet'>
}

/** The requester's award queue: up to requester.awardBatchMax awards a transaction. */
export function createAwardQueue(
  context: Pick<RequesterContext, 'chain' | 'keys' | 'log' | 'metrics'> & {
    options: Pick<RequesterContext['options'], 'awardBatchMax'>
  },
): GroupSender<AwardRequest, AwardSent> {
  return new GroupSender<AwardRequest, AwardSent>({
    max: context.options.awardBatchMax,
    send: (requests, sent) => sendAwards(context, requests, sent),
    onSplit: (requests, err) =>
      context.log.warn(
        { jobs: requests.map((r) => r.jobId), err },
        'an award batch was refused before it was sent; awarding its jobs one by one',
      ),
  })
}

async function sendAwards(
  context: Pick<RequesterContext, 'chain' | 'keys' | 'metrics'>,
  requests: readonly AwardRequest[],
  sent: () => void,
): Promise<AwardSent> {
  const { chain } = context
  const ordered = [...requests].sort(byProviderThenModel)
  // funds are read and the allowance topped up back to back with the award, so no other
  // transaction of this node spends them in between
  return chain.serialize(async () => {
    const sources = await prepareBatchEscrow(
      context,
      ordered.map((r) => r.bid.terms.price),
    )
    const onSent = async () => sent()
    const [one] = ordered
    const { hash, receipt } =
      ordered.length === 1 && one !== undefined
        ? await award(chain.client, {
            jobMarket: jobMarket(context),
            offer: one.offer.terms,
            bid: one.bid.terms,
            signature: one.bid.signature,
            onSent,
          })
        : await awardBatch(chain.client, {
            jobMarket: jobMarket(context),
            awards: ordered.map((r) => ({
              offer: r.offer.terms,
              bid: r.bid.terms,
              signature: r.bid.signature,
            })),
            onSent,
          })
    observeSettlement(context.metrics, 'award', ordered.length, receipt)
    return { hash, sources: new Map(ordered.map((r, i) => [r.jobId, sources[i] ?? 'wallet'])) }
  })
}

function byProviderThenModel(a: AwardRequest, b: AwardRequest): number {
  const provider = a.bid.terms.provider.toLowerCase().localeCompare(b.bid.terms.provider.toLowerCase())
  return provider !== 0 ? provider : a.offer.terms.modelHash.localeCompare(b.offer.terms.modelHash)
}
