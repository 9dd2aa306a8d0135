/**
 * What the node's API carries, as JSON: the wire types are @ocn/protocol's api module (the
 * node's API server declares its answers with the same types). Amounts arrive as decimal
 * strings; this client turns the ones it reads into bigints where it says so (`Balances`).
 */
import type {
  ApiBid,
  ApiJob,
  ApiJson,
  JobResultFile,
  JobState,
  NodeStatus as NodeStatusValues,
  OfferSummary,
  PeerSummary,
  SubmitJobInput,
} from '@ocn/protocol/api'

export {
  type ApiEventName,
  type ApiEvents,
  type Balances,
  type DecimalString,
  type GenerateRequest,
  type InferenceJobInput,
  isApiJobId,
  isJobState,
  isResultFileName,
  isUploadId,
  type JobHistoryEntry,
  type JobKind,
  type JobResults,
  type JobState,
  jobStates,
  type NodeRole,
  type ProviderSettlement,
  type ProviderStanding,
  type ProviderSummary,
  type StakeResult,
  type SubmitJobInput,
  settledJobStates,
  type TrainingJobInput,
  type UploadStatus,
  type VerificationMode,
  type VerifierReward,
  type VerifierSummary,
} from '@ocn/protocol/api'

/** One job as the node records it (its JobRecord in JSON). */
export type Job = ApiJob
export type Bid = ApiBid
export type NodeStatus = ApiJson<NodeStatusValues>
export type Peer = PeerSummary
export type Offer = ApiJson<OfferSummary>
export type ResultFile = JobResultFile
/** One job to put on the market (the name this client had before the types moved to @ocn/protocol). */
export type SubmitJobRequest = SubmitJobInput
export type InferenceJobRequest = Extract<SubmitJobInput, { kind: 'inference' }>
export type TrainingJobRequest = Extract<SubmitJobInput, { kind: 'training' }>

/** What following a job yields: its record each time the node writes it. */
export type JobEvent = { type: 'snapshot'; job: Job } | { type: 'update'; job: Job; previous: JobState }
