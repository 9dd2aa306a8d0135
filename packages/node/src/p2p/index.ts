export {
  type ArtifactProtocol,
  type ArtifactProtocolComponents,
  type ArtifactProtocolInit,
  createArtifactProtocol,
  type FetchArtifactOptions,
} from './artifact-protocol.js'
export {
  type BidDecision,
  type BidHandler,
  type BidProtocol,
  type BidProtocolComponents,
  type BidProtocolInit,
  createBidProtocol,
} from './bid-protocol.js'
export { isP2PError, P2PError, P2PErrorCode } from './errors.js'
export {
  createGossipService,
  type GossipService,
  type GossipServiceComponents,
  type GossipServiceInit,
  peerScore,
  type ReceivedCapabilityAd,
  type ReceivedOffer,
  type Validation,
  type Verdict,
} from './gossip.js'
export { defaultGraylistGateOptions, GraylistGate, type GraylistGateOptions } from './graylist-gate.js'
export { createOcnHost, type HostComponents, type HostInit, type OcnHost, type OcnServices } from './host.js'
export { createP2PMetrics, type P2PMetrics } from './metrics.js'
export { createNetwork, type Network, type NetworkComponents, type NetworkInit } from './network.js'
export * from './options.js'
export { defaultPeerPenaltyOptions, PeerPenalties, type PeerPenaltyOptions } from './peer-penalties.js'
export {
  defaultRequesterFundsOptions,
  type Funds,
  type FundsReader,
  type FundsVerdict,
  RequesterFunds,
  type RequesterFundsOptions,
} from './requester-funds.js'
export {
  createResultProtocol,
  type ResultHandler,
  type ResultNoticeHandler,
  type ResultProtocol,
  type ResultProtocolComponents,
  type ResultProtocolInit,
} from './result-protocol.js'
export { createScoreParams, scoreThresholds } from './scoring.js'
export type { PeerTarget } from './streams.js'
export {
  createTokenStreamProtocol,
  defaultTokenStreamOptions,
  packTokenBatches,
  type TokenBatchHandler,
  type TokenStreamOptions,
  type TokenStreamProtocol,
} from './token-stream.js'
export {
  defaultUploadSlotOptions,
  type SlotRefusal,
  transferDeadlineMs,
  type UploadSlotOptions,
  UploadSlots,
} from './upload-slots.js'
