import { parseEther } from 'viem'

/** ModelRegistry.ReleaseParams: the gate a proposed model passes before approval. */
export interface ModelReleaseParameters {
  /** seconds from anchoring the evaluation report to the earliest approval; at most 90 days */
  minReviewPeriod: number
  /** OPEN an objector locks; at most 1e6 OPEN */
  objectionBond: bigint
}

/**
 * The review period exists so that anyone can object (with a bond) before a curator approves a
 * model: fetch the artifact, re-run the anchored evaluation, check the bound training job, whose
 * committed attribution will route the model's fees. An open objection blocks approval until it
 * is ruled on, so the period only has to cover noticing and objecting, not the ruling.
 */
const REVIEW_DAYS = 3

/**
 * Defaults: a 3-day review, so a reviewer who looks at new proposals once a day, or is away over
 * a weekend, still has time to object; longer than the governance timelock's 2 days, so a review
 * is never shorter than the notice governance itself gives. Devnets and tests that approve right
 * after proposing pass a short `modelRelease.minReviewPeriod` and wait it out (or advance anvil's
 * clock). Governance changes it with `setReleaseParams` (PARAMETERS role), 0 to 90 days. An
 * objection costs 10 OPEN.
 */
export const defaultModelReleaseParameters: ModelReleaseParameters = {
  minReviewPeriod: REVIEW_DAYS * 24 * 3600,
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
