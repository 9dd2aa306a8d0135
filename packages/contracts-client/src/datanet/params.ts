import { parseEther } from 'viem'

/** DatanetRegistry.Params: the governed datanet parameters (durations in seconds). */
export interface DatanetParameters {
  /** OPEN burned (sent to the registry's BURN_SINK) to create a datanet; at most 1e6 OPEN */
  creationBurn: bigint
  /** OPEN a contributor locks per contribution; 1 wei to 1e6 OPEN */
  contributionStake: bigint
  /** seconds an accepted contribution's stake stays locked; at most 365 days */
  stakeLockPeriod: number
  /** seconds a contribution ranked harmful can be challenged; 1 hour to 90 days */
  challengePeriod: number
  /** a negative score whose magnitude reaches this share of the largest is harmful; 1 to 10000 bps */
  harmThresholdBps: number
  /** the challenger's share of a slashed stake, basis points; the rest goes to the model's pool */
  challengerShareBps: number
  /** curators a curated datanet may have; 1 to 32 */
  maxCurators: number
}

/**
 * Devnet defaults: creating a datanet burns 100 OPEN, a contribution stakes 50 OPEN for a day;
 * a contribution whose influence is negative at a tenth of the largest magnitude or more can be
 * slashed for a day after the attribution is recorded, a fifth to the challenger.
 */
export const defaultDatanetParameters: DatanetParameters = {
  creationBurn: parseEther('100'),
  contributionStake: parseEther('50'),
  stakeLockPeriod: 24 * 3600,
  challengePeriod: 24 * 3600,
  harmThresholdBps: 1_000,
  challengerShareBps: 2_000,
  maxCurators: 8,
}

/** Contribution status as DatanetRegistry.ContributionStatus stores it. */
export const ContributionStatus = ['none', 'pending', 'accepted', 'withdrawn', 'slashed'] as const
export type ContributionStatusName = (typeof ContributionStatus)[number]
