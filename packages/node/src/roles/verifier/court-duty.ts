/**
 * The verifier's part in the DisputeCourt beyond its own challenges: it sits in the juror
 * pool, serves the seats it is drawn for (jury.ts) and keeps every dispute it hears of moving
 * (keeper.ts). Seats run in the background, one task per seat; a restart finds committed but
 * unrevealed votes on the job records and reveals them.
 */
import type { ProtocolEvent } from '@ocn/contracts-client'
import type { VerifierContext } from './context.js'
import { joinJuryPool, pendingSeats, serveSeat } from './jury.js'
import { createCourtKeeper } from './keeper.js'

/** How long after a failed attempt to join the pool the verifier tries again. */
const JOIN_RETRY_MS = 15_000

export interface CourtDuty {
  start(): Promise<void>
  onEvents(events: ProtocolEvent[]): void
  tick(): Promise<void>
  stop(): Promise<void>
}

export function createCourtDuty(ctx: VerifierContext): CourtDuty {
  const keeper = createCourtKeeper(ctx)
  const seats = new Map<string, Promise<void>>()
  let joined = false
  let lastJoinAttempt = 0

  function startSeat(disputeId: bigint, round: bigint): void {
    const key = `${disputeId}/${round}`
    if (seats.has(key)) return
    const run = serveSeat(ctx, disputeId, round)
      .catch((err: unknown) => ctx.log.warn({ disputeId, round, err }, 'jury duty failed; will retry'))
      .finally(() => seats.delete(key))
    seats.set(key, run)
  }

  async function join(): Promise<void> {
    if (joined || Date.now() - lastJoinAttempt < JOIN_RETRY_MS) return
    lastJoinAttempt = Date.now()
    joined = await joinJuryPool(ctx).catch((err: unknown) => {
      ctx.log.warn({ err }, 'joining the jury pool failed; will retry')
      return false
    })
  }

  return {
    async start() {
      await join()
      await keeper.recover()
    },
    onEvents(events) {
      for (const event of events) {
        if (event.eventName === 'ChallengeCommitted') keeper.track(event.args.disputeId)
        else if (event.eventName === 'JuryDrawn') {
          keeper.track(event.args.disputeId)
          const me = ctx.me
          if (event.args.jurors.some((j) => j.toLowerCase() === me))
            startSeat(event.args.disputeId, event.args.round)
        }
      }
    },
    async tick() {
      await join()
      for (const job of await ctx.components.state.listJobs({ role: 'verifier' }))
        for (const vote of pendingSeats(job)) startSeat(vote.disputeId, vote.round)
      await keeper.tick()
    },
    async stop() {
      await Promise.allSettled([...seats.values()])
    },
  }
}
