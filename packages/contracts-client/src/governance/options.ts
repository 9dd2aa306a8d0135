import { parseEther } from 'viem'

/** Settings of OpenGovernor and its timelock. All durations are seconds (OpenToken's clock). */
export interface GovernorSettings {
  /** seconds between a proposal and its vote snapshot (also when voting opens) */
  votingDelay: number
  /** seconds voting stays open */
  votingPeriod: number
  /** delegated OPEN needed (one second before proposing) to make a proposal */
  proposalThreshold: bigint
  /** share of the total supply at the snapshot that must vote For or Abstain, percent */
  quorumPercent: number
  /** seconds a passed proposal waits in the timelock before it can execute */
  timelockDelay: bigint
}

/**
 * Realistic defaults: a day before the snapshot (time to notice a proposal and delegate), a
 * week to vote, 4 % quorum, two days in the timelock (time to exit before a change applies).
 */
export const defaultGovernorSettings: GovernorSettings = {
  votingDelay: 24 * 3600,
  votingPeriod: 7 * 24 * 3600,
  proposalThreshold: parseEther('100000'),
  quorumPercent: 4,
  timelockDelay: 2n * 24n * 3600n,
}

/** Hard limits governance gives the council over one parameter. */
export interface CouncilBounds {
  min: bigint
  max: bigint
  /** seconds between two scheduled changes of this parameter */
  cooldown: number
  /** seconds from scheduling to earliest execution: governance's veto window */
  delay: number
}

/** The JobMarket setters delegated to the council, with their bounds. */
export interface CouncilParameterBounds {
  challengeWindow: CouncilBounds
  verifierMinStake: CouncilBounds
}

/**
 * Routine tier (short delay, narrow range, rate cap): the challenge window is tuned to the
 * network's latency (the challenge bond is the DisputeCourt's, governed there). Medium tier (delay longer than a full
 * vote, so governance can veto in time): the verifier minimum stake, because raising it can lock
 * existing verifiers out.
 */
export const defaultCouncilBounds: CouncilParameterBounds = {
  challengeWindow: { min: 300n, max: 24n * 3600n, cooldown: 24 * 3600, delay: 6 * 3600 },
  verifierMinStake: {
    min: parseEther('10'),
    max: parseEther('10000'),
    cooldown: 7 * 24 * 3600,
    delay: 11 * 24 * 3600,
  },
}

export interface GovernanceOptions {
  governor: GovernorSettings
  council: CouncilParameterBounds
}

export const defaultGovernanceOptions: GovernanceOptions = {
  governor: defaultGovernorSettings,
  council: defaultCouncilBounds,
}
