// The challenger's side of the DisputeCourt: commit a sealed challenge, reveal it, or let anyone
// expire one that was never revealed, or concede its own before a jury is drawn.
import { type Address, type Hex, parseEventLogs } from 'viem'
import { ContractRevertError } from '../errors.js'
import { disputeCourtAbi } from '../generated/abis.js'
import type { ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'
import { callCourt } from './courtCall.js'

export interface CommitChallengeParameters extends WriteOptions {
  disputeCourt: Address
  jobId: Hex
  /** from `challengeCommitment` */
  commitment: Hex
}

export interface CommitChallengeReturnType extends WriteResult {
  disputeId: bigint
}

/**
 * Commits a sealed challenge of a committed job. Pulls the challenge bond (needs an allowance to
 * the court) and locks `challengerStakeAtRisk` of the caller's free stake.
 */
export async function commitChallenge(
  client: ProtocolWalletClient,
  { disputeCourt, jobId, commitment, gas, onSent }: CommitChallengeParameters,
): Promise<CommitChallengeReturnType> {
  const result = await callCourt(client, disputeCourt, 'commitChallenge', [jobId, commitment], gas, onSent)
  const [event] = parseEventLogs({
    abi: disputeCourtAbi,
    eventName: 'ChallengeCommitted',
    logs: result.receipt.logs,
  })
  if (event === undefined) {
    throw new ContractRevertError({
      errorName: 'MissingEvent',
      args: ['ChallengeCommitted', result.hash],
      functionName: 'commitChallenge',
    })
  }
  return { ...result, disputeId: event.args.disputeId }
}

export interface RevealChallengeParameters extends WriteOptions {
  disputeCourt: Address
  disputeId: bigint
  leafIndex: bigint
  claimedDataHash: Hex
  salt: Hex
}

/** Opens the challenge (in a later block than its commitment, before the reveal deadline). */
export async function revealChallenge(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, leafIndex, claimedDataHash, salt, gas }: RevealChallengeParameters,
): Promise<WriteResult> {
  return callCourt(
    client,
    disputeCourt,
    'revealChallenge',
    [disputeId, leafIndex, claimedDataHash, salt],
    gas,
  )
}

export interface DisputeCallParameters extends WriteOptions {
  disputeCourt: Address
  disputeId: bigint
}

/** After the reveal deadline of an unrevealed challenge: bond to the treasury, stake unlocked. Anyone. */
export async function expireChallenge(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'expireChallenge', [disputeId], gas)
}

/**
 * The challenger withdraws its own challenge before any jury is drawn (sealed, or revealed while
 * the first draw block is not mined yet): `concessionFee` of the bond goes to the treasury, the
 * rest back to the challenger, its stake is unlocked. Reverts `JuryKnowable` once the draw block
 * is mined. A verifier concedes when the data it challenged as withheld turns up and checks out.
 */
export async function concedeChallenge(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas, onSent }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'concedeChallenge', [disputeId], gas, onSent)
}
