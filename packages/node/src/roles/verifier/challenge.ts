/**
 * Challenging a result: the bond is approved at the amount the market asks now
 * (governance may have changed it since deployment) and the challenge names the replayed
 * hash of the disputed leaf, for the arbiter to rule on.
 */
import { approveToken, challenge, getJob, getMarketParams } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import type { VerifierContext } from './context.js'

/** A leaf the provider got wrong (or would not serve) and this verifier's replay of it. */
export interface ChallengeEvidence {
  index: number
  replayed: Hex
}

export async function challengeLeaf(
  ctx: VerifierContext,
  jobId: Hex,
  evidence: ChallengeEvidence,
): Promise<void> {
  const { chain, state } = ctx.components
  const market = ctx.market()
  const now = await getJob(chain.client, { jobMarket: market, jobId })
  if (now.status !== 'committed') return ctx.reconcile(await state.requireJob(jobId))
  const { hash } = await chain.serialize(async () => {
    await approveToken(chain.client, {
      token: chain.deployment.addresses.token,
      spender: market,
      amount: (
        await getMarketParams(chain.client, {
          jobMarket: market,
          stakeManager: chain.deployment.addresses.stakeManager,
        })
      ).minChallengeBond,
    })
    return challenge(chain.client, {
      jobMarket: market,
      jobId,
      leafIndex: BigInt(evidence.index),
      claimedDataHash: evidence.replayed,
    })
  })
  await state.transitionJob(jobId, 'challenged', { txHash: hash, note: `leaf ${evidence.index} disputed` })
  ctx.metrics.challenges.inc()
  ctx.log.warn({ jobId, leaf: evidence.index }, 'challenged a faked result')
}
