/**
 * A court transaction this node sent before it was killed: its hash is on the challenge or
 * vote record (written the moment it was sent), and a restarted node asks the chain what became
 * of it before it sends anything again. Sending again while the first is still pending would
 * commit a second challenge (a second bond, one of the two left unrevealed and forfeited) or
 * waste a vote commit that reverts.
 */
import type { Hex } from 'viem'
import { awaitIntent, intentOutcome, type OcnChainClient } from '../../chain/index.js'
import type { ChainAction } from '../../state/records.js'

/** How long a restarted node waits for a transaction it sent before the crash to be mined. */
export const SENT_TX_WAIT_MS = 15_000

/** `landed`: mined (successfully); `pending`: still in flight; `lost`: reverted or dropped, send again. */
export type SentTxOutcome = 'landed' | 'pending' | 'lost'

export async function sentTxOutcome(
  client: OcnChainClient,
  action: ChainAction,
  txHash: Hex,
  waitMs = SENT_TX_WAIT_MS,
): Promise<SentTxOutcome> {
  const intent = { action, recordedAt: 0, txHash }
  await awaitIntent(client, intent, waitMs)
  const outcome = await intentOutcome(client, intent)
  if (outcome === 'mined') return 'landed'
  return outcome === 'pending' ? 'pending' : 'lost'
}
