import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem'

/** A juror's vote: the provider cheated on the disputed leaf (1) or did not (2). */
export const CourtVote = { guilty: 1, notGuilty: 2 } as const
export type CourtVote = (typeof CourtVote)[keyof typeof CourtVote]

/** DisputeCourt rulings (RULING_* in the contract). */
export const CourtRuling = { none: 0, guilty: 1, notGuilty: 2, notProven: 3 } as const
export type CourtRuling = (typeof CourtRuling)[keyof typeof CourtRuling]

/** DisputeCourt.Phase */
export const CourtPhase = {
  none: 0,
  committed: 1,
  awaitingDraw: 2,
  voting: 3,
  ruled: 4,
  closed: 5,
} as const

export interface ChallengeCommitmentParameters {
  jobId: Hex
  challenger: Address
  leafIndex: bigint
  claimedDataHash: Hex
  /** 32 random bytes, kept secret until the reveal */
  salt: Hex
}

/**
 * The sealed challenge `commitChallenge` takes: keccak256(abi.encode(jobId, challenger,
 * leafIndex, claimedDataHash, salt)). It names the challenger, so a copy is useless to anyone else.
 */
export function challengeCommitment(c: ChallengeCommitmentParameters): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'bytes32' },
        { type: 'bytes32' },
      ],
      [c.jobId, c.challenger, c.leafIndex, c.claimedDataHash, c.salt],
    ),
  )
}

export interface VoteCommitmentParameters {
  disputeId: bigint
  round: bigint
  juror: Address
  choice: CourtVote
  salt: Hex
}

/** The sealed vote `commitVote` takes: keccak256(abi.encode(disputeId, round, juror, choice, salt)). */
export function voteCommitment(v: VoteCommitmentParameters): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'uint256' }, { type: 'uint256' }, { type: 'address' }, { type: 'uint8' }, { type: 'bytes32' }],
      [v.disputeId, v.round, v.juror, v.choice, v.salt],
    ),
  )
}
