/**
 * Gossipsub peer-scoring parameters for the OCN topics. The reasoning for each number is
 * in docs/network.md ("Peer scoring"); in short:
 *
 * - Invalid messages (P4) dominate: -100 per topic weight times the square of the count,
 *   so 1 bad message costs 100 (an honest peer relaying one stale offer survives), 6 cost
 *   3600 and cross the graylist threshold (-2500). The counter decays to ~1% in ten
 *   minutes, so a reformed peer is heard again.
 * - Positive scores are capped (topicScoreCap 50), so a peer cannot bank goodwill by
 *   relaying first and then flood invalid messages.
 * - Mesh delivery-rate penalties (P3) are off: offers and ads are sparse and bursty, and
 *   P3 would punish honest mesh peers during quiet periods.
 * - IP colocation (P6) is on for the internet; one-host devnets whitelist 127.0.0.1.
 */
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { CAPABILITIES_TOPIC, OFFERS_TOPIC } from './options.js'

export const scoreThresholds: PeerScoreThresholds = {
  /** below this we stop gossiping (IHAVE/IWANT) with the peer */
  gossipThreshold: -500,
  /** below this we do not publish our own messages to the peer */
  publishThreshold: -1000,
  /** below this every RPC from the peer is ignored */
  graylistThreshold: -2500,
  /** only well-behaved peers' peer exchange is trusted */
  acceptPXThreshold: 20,
  /** mesh median below this triggers opportunistic grafting */
  opportunisticGraftThreshold: 5,
}

const decayInterval = 1000
/** factor per decayInterval that leaves `to` of a value after `seconds` */
const decayTo = (to: number, seconds: number) => to ** (1 / (seconds * (1000 / decayInterval)))

function topicParams(weight: number): TopicScoreParams {
  return {
    topicWeight: weight,
    // P1: a little credit for staying in the mesh, capped at +10 after ~10 minutes
    timeInMeshWeight: 0.1,
    timeInMeshQuantum: 6_000,
    timeInMeshCap: 100,
    // P2: credit for being first to deliver valid messages, capped
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: decayTo(0.01, 600),
    firstMessageDeliveriesCap: 20,
    // P3/P3b: off (sparse, bursty topics)
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: decayTo(0.01, 60),
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 60_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: decayTo(0.01, 60),
    // P4: the one that matters
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: decayTo(0.01, 600),
  }
}

/**
 * `appScore` is P5, the app-specific score: minus the penalty points a peer earned on our
 * streams (stalls) and in gossip beyond its ignore budget (peer-penalties.ts), weight 1.
 */
export function createScoreParams(
  ipColocationWhitelist: readonly string[],
  appScore: (peerId: string) => number = () => 0,
): Partial<PeerScoreParams> {
  return {
    topics: {
      [OFFERS_TOPIC]: topicParams(1),
      [CAPABILITIES_TOPIC]: topicParams(1),
    },
    topicScoreCap: 50,
    appSpecificScore: appScore,
    appSpecificWeight: 1,
    // P6: more than 3 peers on one IP starts costing (x - 3)^2 * -20
    IPColocationFactorWeight: -20,
    IPColocationFactorThreshold: 3,
    IPColocationFactorWhitelist: new Set(ipColocationWhitelist),
    // P7: broken promises (IWANT not answered) and GRAFT spam during backoff
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: decayTo(0.01, 600),
    decayInterval,
    decayToZero: 0.01,
    retainScore: 3_600_000,
  }
}
