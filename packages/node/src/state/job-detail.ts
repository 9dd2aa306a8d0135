/**
 * What each role keeps about a job beyond the common record fields: typed per role and
 * tagged with the role, so a role reads its own detail through its accessor below and never
 * casts. The store persists these as they are (bigints stay exact through the codec).
 */
import type { Address, Hex } from 'viem'
import { StateError } from './errors.js'

/** The terms of an awarded job, as the JobAwarded event recorded them. */
export interface AwardedJob {
  jobId: Hex
  requester: Address
  provider: Address
  price: bigint
  collateral: bigint
  modelHash: Hex
  inputHash: Hex
  specHash: Hex
  kind: number
  verification: number
  deadline: bigint
  sampleCount: number
  microBatchSize: number
  blockNumber: bigint
}

/** What the requester learned when it fetched and checked a job's results. */
export interface RequesterResults {
  outputHash: Hex
  /** training jobs: the trained model's content hash */
  modelHash?: Hex
  /** training jobs whose result is not an ONNX model: its file name (LoRA: adapters.safetensors) */
  modelFile?: string
  leafCount: number
  /** every micro-batch of the outputs file hashes to its committed leaf */
  verified: boolean
  mismatchedLeaves: number[]
  /** zk jobs: the output file is the provider's proof JSON (output vector included) */
  zk?: boolean
  /** training jobs that name attribution: content hash of the AttributionResult JSON */
  attributionHash?: Hex
  /** generate jobs: the generated tokens per prompt, checked against every committed leaf */
  tokens?: number[][]
  /**
   * generate jobs: the prompts whose tokens streamed by the provider while it decoded differ
   * from the committed ones (the committed tokens are the authority); absent when none streamed
   */
  streamMismatches?: number[]
}

export interface RequesterJobDetail {
  role: 'requester'
  /** the signed offer's wire bytes */
  offer: Hex
  providerPeerId?: string
  reofferOf?: string
  /** set on a job that died (no usable bid, failed award, no-show, expiry) and was offered again */
  reofferedAs?: string
  /** a dead job whose automatic re-offer is due at this time (ms); the tick re-offers it after a restart */
  reofferDueAt?: number
  /** providers whose bids this offer does not take: the no-shows of the rounds before it */
  excludedProviders?: string[]
  /** when the awarded provider counts as a no-show if it has not committed (ms): award + ETA + grace */
  noShowAt?: number
  biddingClosesAt: number
  /** generate jobs: the tokens the provider streamed so far per prompt (a preview; written throttled) */
  streamed?: number[][]
  results?: RequesterResults
}

export interface ProviderJobDetail {
  role: 'provider'
  /** the signed offer's wire bytes */
  offer: Hex
  requesterPeerId: string
  /** the committed leaves (one per micro-batch, or per checkpoint segment for training) */
  dataHashes?: Hex[]
  outputHash?: Hex
  /** devnet fault injection only: the micro-batches this provider corrupted */
  cheatedIndices?: number[]
  /** generate jobs: the tokens picked so far per prompt, written as they stream (throttled) */
  generated?: number[][]
  /** what the JobMarket paid this provider at settlement (JobFinalized's payout: the price less the fee and any attribution share) */
  payout?: bigint
}

export interface VerificationReport {
  checkedIndices: number[]
  /** the leaf count the job's terms fix (the sample is drawn from it) */
  leafCount: number
  /** the leaf count the provider committed; another than `leafCount` is a fault */
  committedLeafCount?: number
  samples: number
  /** probability that this check catches a provider that faked one micro-batch */
  detectionProbability: number
  passed: boolean
  mismatches: Array<{ index: number; reason: string; claimed?: Hex; replayed?: Hex; error?: string }>
  /** re-execution time */
  costMs: number
  /** the verifier's signature over the commitment its private sample was drawn from */
  sampleSignature?: Hex
  /** set when the provider did not serve its leaves */
  unserved?: string
  /** the leaf challenged and the hash this verifier replayed for it */
  challenged?: { index: number; replayed: Hex }
}

/**
 * This verifier's sealed challenge in the DisputeCourt. The salt is written before the commit
 * transaction is sent, so after a crash the node can still reveal (or knows it let the
 * challenge expire).
 */
export interface CourtChallengeRecord {
  index: number
  replayed: Hex
  /** 32 random bytes, secret until the reveal */
  salt: Hex
  /**
   * the evidence is that the provider did not serve the leaf: it is asked again until shortly
   * before the reveal deadline, and a provider that then serves it gets the challenge conceded
   * (`concessionFee` of the bond lost, instead of bond and stake to a false-challenge ruling)
   */
  unserved?: boolean
  /**
   * the concession intent, written before `concedeChallenge` is sent (`tx` as soon as it is):
   * a restarted node finishes or waits for the concession instead of revealing
   */
  concede?: { reason: string; tx?: Hex }
  /**
   * the commit transaction's hash, written as soon as it is sent (before its receipt): a node
   * restarted while it is pending waits for it instead of committing (and paying the bond) twice
   */
  commitTx?: Hex
  /** set once the commit transaction is mined */
  disputeId?: bigint
  revealed?: boolean
  /** the reveal deadline passed (or the window closed) before the reveal: given up knowingly */
  abandoned?: string
}

/** This node's seat as a juror in one round of a dispute on the job. */
export interface JurorVoteRecord {
  disputeId: bigint
  round: bigint
  /** CourtVote: 1 guilty, 2 not guilty; 0 abstained (no vote sent: the court takes jurorPenalty) */
  choice: number
  /** written before the commit transaction, so a restarted juror can still reveal */
  salt: Hex
  reason: string
  /** the commit transaction's hash once sent: a restart waits for it rather than sending again */
  commitTx?: Hex
  committed?: boolean
  revealed?: boolean
}

export interface VerifierJobDetail {
  role: 'verifier'
  award: AwardedJob
  /** the block of the result commitment (set once the job is committed) */
  commitBlock?: bigint
  /** the provider's libp2p peer as last heard: a restarted node asks it before its ads come again */
  providerPeer?: string
  report?: VerificationReport
  challenge?: CourtChallengeRecord
  votes?: JurorVoteRecord[]
  /** what the market and the court paid this verifier for the job (or took), from their events */
  rewards?: VerifierRewardRecord[]
}

/**
 * One payment to (or penalty of) this verifier: a `ProviderConvicted` naming it the challenger,
 * a `JurorPaid` or `JurorPenalized` naming it the juror. Keyed by its log's position, so an
 * event delivered again (after a restart) is recorded once.
 */
export interface VerifierRewardRecord {
  kind: 'challenger' | 'juror' | 'juror-penalty'
  amount: bigint
  disputeId?: bigint
  txHash?: Hex
  blockNumber: bigint
  logIndex: number
}

export type JobDetail = RequesterJobDetail | ProviderJobDetail | VerifierJobDetail

/** The part of a JobRecord the accessors read (records.ts imports this module, not the reverse). */
interface WithDetail {
  id: string
  detail?: JobDetail
}

function wrongDetail(job: WithDetail, role: JobDetail['role']): StateError {
  return new StateError('STATE_INVALID_RECORD', `job ${job.id} has no ${role} detail`, {
    details: job.detail === undefined ? 'the record has no detail' : `its detail is the ${job.detail.role}'s`,
  })
}

/** The requester's detail of a job it offered; throws STATE_INVALID_RECORD for any other record. */
export function requesterDetail(job: WithDetail): RequesterJobDetail {
  if (job.detail?.role !== 'requester') throw wrongDetail(job, 'requester')
  return job.detail
}

/** The provider's detail of a job it bid on; throws STATE_INVALID_RECORD for any other record. */
export function providerDetail(job: WithDetail): ProviderJobDetail {
  if (job.detail?.role !== 'provider') throw wrongDetail(job, 'provider')
  return job.detail
}

/** The verifier's detail of a job it watches; throws STATE_INVALID_RECORD for any other record. */
export function verifierDetail(job: WithDetail): VerifierJobDetail {
  if (job.detail?.role !== 'verifier') throw wrongDetail(job, 'verifier')
  return job.detail
}
