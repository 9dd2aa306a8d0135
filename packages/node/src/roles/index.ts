export { type ArbiterDecision, type ArbiterRole, createArbiterRole } from './arbiter.js'
export {
  ATTRIBUTION_RESULT_FILE,
  attributionLeafIndex,
  attributionRequestFor,
  attributionResultProblem,
  forgeAttributionResult,
  parseJobDatanet,
} from './attribution.js'
export { RoleError, type RoleErrorCode } from './errors.js'
export type { RequesterRole, SubmitJobParams, SubmitJobResult } from './interface.js'
export { describeModelStatus, type ModelPolicyKey, requireModelRegistry, unapprovedStatus } from './models.js'
export { defaultRoleOptions, type RoleOptions } from './options.js'
export { cheatIndices, corruptMicroBatches } from './provider/cheats.js'
export { createProviderRole, type ProviderRole } from './provider/index.js'
export {
  checkOfferArtifacts,
  PREBID_REASONS,
  type PrebidOutcome,
  type PrebidReason,
  PrebidRejection,
} from './provider/prebid.js'
export { createRequesterRole, effectivePrice, type RequesterRoleHandle } from './requester.js'
export {
  type AwardedJob,
  createPeerDirectory,
  findAwardedJob,
  loadJobAssets,
  type PeerDirectory,
  type RoleComponents,
} from './shared.js'
export { createVerifierRole, type VerifierRole } from './verifier.js'
