/**
 * Asking the provider again for a leaf this verifier challenged because it was not served
 * (challenge.ts calls it until shortly before the reveal deadline): a provider back from a
 * restart that now serves its leaf, proven against its committed root and matching this
 * verifier's replay, would have the challenge ruled false, so the challenger withdraws it.
 */
import { getJob } from '@ocn/contracts-client'
import type { Hex } from 'viem'
import { verifierDetail } from '../../state/job-detail.js'
import { fetchLeafClaims, provenAgainst } from '../leaf-claims.js'
import { loadJobAssets } from '../shared.js'
import type { Recheck } from './challenge.js'
import type { VerifierContext } from './context.js'
import { UNREPLAYABLE } from './evidence.js'
import { knownProviderPeer } from './provider-peer.js'

export function recheckOf(ctx: VerifierContext, jobId: Hex): Recheck {
  return async (c) => {
    const { state, chain, directory, network } = ctx.components
    const detail = verifierDetail(await state.requireJob(jobId))
    const providerPeer = await knownProviderPeer(ctx, jobId, detail)
    if (providerPeer === undefined) return 'unserved'
    const { resultRoot } = await getJob(chain.client, { jobMarket: ctx.market(), jobId })
    const peers = [providerPeer, directory.requesterPeer(jobId)].filter((p): p is string => p !== undefined)
    const assets = await loadJobAssets(ctx.components, detail.award, peers)
    const fetched = await fetchLeafClaims(network, providerPeer, {
      jobId,
      assets,
      indices: [c.index],
      committedRoot: resultRoot,
    })
    if (!fetched.served) return 'unserved'
    // served, but not from its committed root or without a proof: the jurors convict that
    const leaf = fetched.sameRoot ? provenAgainst(resultRoot, fetched.claims).get(c.index) : undefined
    if (leaf === undefined) return 'differs'
    const contradicts = c.replayed !== UNREPLAYABLE && leaf.toLowerCase() !== c.replayed.toLowerCase()
    return contradicts ? 'differs' : 'answered'
  }
}
