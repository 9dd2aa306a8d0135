/**
 * The verifier's part in the DisputeCourt beyond its own challenges: it sits in the juror
 * pool, serves the seats it is drawn for (jury.ts) and keeps every dispute it hears of moving
 * (keeper.ts). Seats run in the background, one task per seat. A restart resumes first
 * thing what it had sealed (resume): its challenges still to reveal and its votes still to
 * reveal, from the job records. A seat whose JuryDrawn event came before a crash but whose
 * vote was never written is found again on the keeper's pass over the voting rounds.
 */
import type { ProtocolEvent } from '@ocn/contracts-client'
import { verifierDetail } from '../../state/job-detail.js'
import type { VerifierContext } from './context.js'
import { joinJuryPool, pendingSeats, serveSeat } from './jury.js'
import { createCourtKeeper } from './keeper.js'

/** How long after a failed attempt to join the pool the verifier tries again. */
const JOIN_RETRY_MS = 15_000

export interface CourtDuty {
  /** restarts the seats whose vote is on a record but not revealed (a restart calls it first) */
  resume(): Promise<void>
  start(): Promise<void>
  onEvents(events: ProtocolEvent[]): void
  tick(): Promise<void>
  stop(): Promise<void>
  /** a seat served or a dispute kept: the chain is polled promptly meanwhile */
  busy(): boolean
}

export function createCourtDuty(ctx: VerifierContext): CourtDuty {
  const seats = new Map<string, Promise<void>>()
  // a voting round this node sits on, with no vote on its record yet: a seat the node lost
  const keeper = createCourtKeeper(ctx, async (disputeId, dispute, round) => {
    if (!round.jurors.some((j) => j.toLowerCase() === ctx.me)) return
    const job = await ctx.components.state.getJob(dispute.jobId)
    const voted =
      job?.role === 'verifier' &&
      (verifierDetail(job).votes ?? []).some((v) => v.disputeId === disputeId && v.round === round.index)
    if (!voted) startSeat(disputeId, round.index)
  })
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

  async function resume(): Promise<void> {
    for (const job of await ctx.components.state.listJobs({ role: 'verifier' }))
      for (const vote of pendingSeats(job)) startSeat(vote.disputeId, vote.round)
  }

  return {
    resume,
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
      await resume()
      await keeper.tick()
    },
    async stop() {
      await Promise.allSettled([...seats.values()])
    },
    busy: () => seats.size > 0 || keeper.openDisputes > 0,
  }
}
