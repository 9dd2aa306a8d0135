/**
 * Where this verifier reaches a job's provider. The directory of peers lives in memory and
 * learns providers from their capability ads (every half TTL), so a restarted node may not hear
 * a provider for minutes: the peer is also kept on the job record.
 */
import type { VerifierJobDetail } from '../../state/job-detail.js'
import type { VerifierContext } from './context.js'

/**
 * The provider's peer as gossip says it, or as this node's record kept it from before a
 * restart (the directory lives in memory; the provider's ads may take a while to come again).
 * A peer the directory knows and the record does not yet is written to the record.
 */
export async function knownProviderPeer(
  ctx: VerifierContext,
  jobId: string,
  detail: VerifierJobDetail,
): Promise<string | undefined> {
  const { directory, state } = ctx.components
  const heard = directory.providerPeer(detail.award.provider)
  if (heard === undefined) {
    if (detail.providerPeer !== undefined)
      directory.rememberProvider(detail.award.provider, detail.providerPeer)
    return detail.providerPeer
  }
  if (heard !== detail.providerPeer)
    await state.updateJob(jobId, { detail: { ...detail, providerPeer: heard } })
  return heard
}
