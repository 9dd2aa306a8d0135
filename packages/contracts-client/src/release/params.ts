import { parseEther } from 'viem'

/** ModelRegistry.ReleaseParams: the gate a proposed model passes before approval. */
export interface ModelReleaseParameters {
  /** seconds from anchoring the evaluation report to the earliest approval; at most 90 days */
  minReviewPeriod: number
  /** OPEN an objector locks; at most 1e6 OPEN */
  objectionBond: bigint
}

/**
 * Devnet defaults: no review wait, so the devnet and the tests that approve a model right after
 * proposing it keep working; a real network sets `minReviewPeriod` by governance
 * (`setReleaseParams`, PARAMETERS role). An objection costs 10 OPEN.
 */
export const defaultModelReleaseParameters: ModelReleaseParameters = {
  minReviewPeriod: 0,
  objectionBond: parseEther('10'),
}

/** ModelMonitor.Params: when a model's lost disputes suspend it. */
export interface ModelMonitorParameters {
  /** seconds a counting window lasts; 1 hour to 365 days */
  window: number
  /** suspend when more than this share of the window's disputes were lost; below 10000 bps */
  maxLostBps: number
  /** disputes a window must count before the share is judged; at least 1 */
  minDisputes: number
}

/** Devnet defaults: over a day, a model is suspended once at least 3 disputes of which over half lost. */
export const defaultModelMonitorParameters: ModelMonitorParameters = {
  window: 24 * 3600,
  maxLostBps: 5_000,
  minDisputes: 3,
}
