// The juror's side of the DisputeCourt: join or leave the pool, commit and reveal votes.
import type { Address, Hex } from 'viem'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import type { CourtVote } from './commitments.js'
import { callCourt } from './courtCall.js'

export interface JoinJuryParameters extends WriteOptions {
  disputeCourt: Address
  /** OPEN of free stake to lock as juror stake (the total must reach `jurorMinStake`) */
  amount: bigint
}

/** Locks free stake as juror stake and enters the juror pool (or adds to it). */
export async function joinJury(
  client: ProtocolWalletClient,
  { disputeCourt, amount, gas }: JoinJuryParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'joinJury', [amount], gas)
}

export interface LeaveJuryParameters extends WriteOptions {
  disputeCourt: Address
}

/** Leaves the pool and unlocks the juror stake; refused while the juror sits in an open dispute. */
export async function leaveJury(
  client: ProtocolWalletClient,
  { disputeCourt, gas }: LeaveJuryParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'leaveJury', [], gas)
}

export interface CommitVoteParameters extends WriteOptions {
  disputeCourt: Address
  disputeId: bigint
  /** from `voteCommitment` */
  commitment: Hex
}

/** A drawn juror's sealed vote, before the round's commit deadline. */
export async function commitVote(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, commitment, gas, onSent }: CommitVoteParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'commitVote', [disputeId, commitment], gas, onSent)
}

export interface RevealVoteParameters extends WriteOptions {
  disputeCourt: Address
  disputeId: bigint
  choice: CourtVote
  salt: Hex
}

/** Opens the sealed vote once the commit phase is over (or all committed), before the reveal deadline. */
export async function revealVote(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, choice, salt, gas }: RevealVoteParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'revealVote', [disputeId, choice, salt], gas)
}
