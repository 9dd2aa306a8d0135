export { type ArbiterDecision, type ArbiterRole, createArbiterRole } from './arbiter/index.js'
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
export {
  checkOfferArtifacts,
  PREBID_REASONS,
  type PrebidOutcome,
  type PrebidReason,
  PrebidRejection,
} from './prebid.js'
export { cheatIndices, corruptMicroBatches, createProviderRole, type ProviderRole } from './provider.js'
export { createRequesterRole, effectivePrice, type RequesterRoleHandle } from './requester/index.js'
export {
  type AwardedJob,
  createPeerDirectory,
  findAwardedJob,
  loadJobAssets,
  type PeerDirectory,
  type RoleComponents,
} from './shared.js'
export { createVerifierRole, type VerifierRole } from './verifier/index.js'
