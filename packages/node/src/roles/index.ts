export {
  ATTRIBUTION_RESULT_FILE,
  attributionLeafIndex,
  attributionRequestFor,
  attributionResultProblem,
  parseJobDatanet,
} from './attribution.js'
export { RoleError, type RoleErrorCode } from './errors.js'
export type { RequesterRole, SubmitJobParams, SubmitJobResult } from './interface.js'
export { describeModelStatus, type ModelPolicyKey, requireModelRegistry, unapprovedStatus } from './models.js'
export {
  defaultRoleOptions,
  type ProviderRoleOptions,
  type RequesterRoleOptions,
  type RoleOptions,
  type VerifierRoleOptions,
} from './options.js'
export {
  createProviderRole,
  type FaultContext,
  honestFaultPlan,
  type InferenceOutputs,
  type ProviderFaultPlan,
  type ProviderRole,
  type ProviderRoleExtras,
  type Tampered,
  type TrainingCheckpoints,
} from './provider/index.js'
export {
  checkOfferArtifacts,
  PREBID_REASONS,
  type PrebidOutcome,
  type PrebidReason,
  PrebidRejection,
} from './provider/prebid.js'
export {
  bidRisk,
  createRequesterRole,
  expectedCost,
  NO_BID_REOFFER_NOTE,
  type RequesterRoleHandle,
} from './requester/index.js'
export {
  type AwardedJob,
  createPeerDirectory,
  findAwardedJob,
  loadJobAssets,
  type PeerDirectory,
  type RoleComponents,
} from './shared.js'
export { createVerifierRole, type VerifierRole } from './verifier/index.js'
export {
  defaultZkDir,
  type RegisterZkVerifierParameters,
  type RegisterZkVerifierResult,
  registerZkVerifier,
} from './zk.js'
