// The stages of a DisputeCourt dispute anyone may drive (draw, rule, execute) and the appeal.
import type { ProtocolWalletClient, WriteResult } from '../types.js'
import type { DisputeCallParameters } from './challenger.js'
import { callCourt } from './courtCall.js'

/** Draws the current round's jury once its draw block is mined (or re-targets a stale one). Anyone. */
export async function drawJury(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'drawJury', [disputeId], gas)
}

/** Rules the current round after its reveal deadline or once every juror revealed. Anyone. */
export async function ruleDispute(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'rule', [disputeId], gas)
}

/**
 * Appeals the ruling (the losing party only, within the appeal period): pulls the doubled bond
 * (needs an allowance to the court) and draws a jury of 2n+1.
 */
export async function appealDispute(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'appeal', [disputeId], gas)
}

/** Applies the final ruling once no appeal can come any more: slashes, pays, unlocks. Anyone. */
export async function executeDispute(
  client: ProtocolWalletClient,
  { disputeCourt, disputeId, gas }: DisputeCallParameters,
): Promise<WriteResult> {
  return callCourt(client, disputeCourt, 'execute', [disputeId], gas)
}
