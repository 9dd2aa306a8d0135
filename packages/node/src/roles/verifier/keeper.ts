/**
 * Keeper duties of the DisputeCourt that any node may do and somebody must: expire a
 * challenge never revealed, draw the jury once its draw block is mined, rule once the votes
 * are in (or their deadline passed), execute once no appeal can come. Every verifier keeps
 * the disputes it hears of; the cheap reads come first and a transaction is sent only when a
 * stage is due, one at a time through chain.serialize. Several keepers may race for the same
 * stage: the loser's simulation reverts before any gas is spent, and the dispute simply moves on.
 *
 * Open disputes are found on the chain (ChallengeCommitted events), so a restart finds them again.
 */
import {
  type CourtDispute,
  CourtPhase,
  type CourtRound,
  disputeCourtAbi,
  drawJury,
  executeDispute,
  expireChallenge,
  getCourtDispute,
  getCourtRound,
  ruleDispute,
} from '@ocn/contracts-client'
import type { CourtContext } from './context.js'

/** A dispute in its voting phase, with its current round (the jury duty looks for its seats). */
export type OnVoting = (
  disputeId: bigint,
  dispute: CourtDispute,
  round: CourtRound & { index: bigint },
) => void | Promise<void>

/** A keeper's step on one dispute: what it sent, or that the dispute is closed. */
export type KeeperStep = 'closed' | 'waiting' | 'expired' | 'drawn' | 'ruled' | 'executed'

export interface CourtKeeper {
  /** follows a dispute until it is closed */
  track(disputeId: bigint): void
  /** the disputes opened before this node started */
  recover(): Promise<void>
  /** one pass over the open disputes */
  tick(): Promise<void>
  /** disputes followed and not yet closed */
  readonly openDisputes: number
}

export function createCourtKeeper(ctx: CourtContext, onVoting?: OnVoting): CourtKeeper {
  const open = new Set<bigint>()
  return {
    track: (disputeId) => void open.add(disputeId),
    get openDisputes() {
      return open.size
    },
    async recover() {
      const { chain } = ctx.components
      const logs = await chain.client.getContractEvents({
        address: ctx.court(),
        abi: disputeCourtAbi,
        eventName: 'ChallengeCommitted',
        fromBlock: chain.deployment.deployBlock,
      })
      for (const l of logs) if (l.args.disputeId !== undefined) open.add(l.args.disputeId)
    },
    async tick() {
      // in commit order: an earlier dispute on the same job must close before a later one executes
      for (const disputeId of [...open].sort((a, b) => (a < b ? -1 : 1))) {
        try {
          const step = await keepDispute(ctx, disputeId, onVoting)
          if (step === 'closed') open.delete(disputeId)
          else if (step !== 'waiting') ctx.log.info({ disputeId, step }, 'court keeper')
        } catch (err) {
          // usually another keeper took the same step first; the next tick reads the new phase
          ctx.log.debug({ disputeId, err }, 'court keeper step not taken')
        }
      }
    },
  }
}

/** Takes the one step dispute `disputeId` is due for, if any; `onVoting` sees a voting round. */
export async function keepDispute(
  ctx: CourtContext,
  disputeId: bigint,
  onVoting?: OnVoting,
): Promise<KeeperStep> {
  const { chain } = ctx.components
  const disputeCourt = ctx.court()
  const d = await getCourtDispute(chain.client, { disputeCourt, disputeId })
  const send = (step: KeeperStep, call: typeof drawJury) =>
    chain.serialize(() => call(chain.client, { disputeCourt, disputeId })).then(() => step)
  switch (d.phase) {
    case CourtPhase.committed:
      return (await chain.chainTime()) > BigInt(d.revealEnds) ? send('expired', expireChallenge) : 'waiting'
    case CourtPhase.awaitingDraw: {
      const round = await getCourtRound(chain.client, { disputeCourt, disputeId })
      return (await chain.blockNumber()) > round.drawBlock ? send('drawn', drawJury) : 'waiting'
    }
    case CourtPhase.voting: {
      const round = await getCourtRound(chain.client, { disputeCourt, disputeId })
      await onVoting?.(disputeId, d, round)
      const allRevealed = round.revealed >= round.jurors.length
      return allRevealed || (await chain.chainTime()) > BigInt(round.revealEnds)
        ? send('ruled', ruleDispute)
        : 'waiting'
    }
    case CourtPhase.ruled: {
      const final = d.isFinal || d.rounds >= d.maxRounds
      return final || (await chain.chainTime()) >= BigInt(d.appealEnds)
        ? send('executed', executeDispute)
        : 'waiting'
    }
    case CourtPhase.none:
      return 'waiting'
    default:
      return 'closed'
  }
}
