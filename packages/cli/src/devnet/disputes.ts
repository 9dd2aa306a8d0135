/**
 * The devnet summary's account of the dispute game, read back from the chain alone: every
 * DisputeCourt dispute with its job, challenger, leaf, the jurors of each round and their
 * revealed votes, the outcome, and who gained and lost how much (from the court's and the
 * JobMarket's events), so a reader can see a cheater convicted by a jury and follow the money.
 */
import {
  CourtRuling,
  type Deployment,
  disputeCourtAbi,
  jobMarketAbi,
  type ProtocolReadClient,
} from '@ocn/contracts-client'
import type { Address, Hex } from 'viem'
import { getContractEvents, readContract } from 'viem/actions'

export interface DevnetJuror {
  name: string
  address: Address
  /** the revealed vote, or 'none' (not revealed: penalized) */
  vote: 'guilty' | 'notGuilty' | 'none'
}

export interface DevnetDispute {
  disputeId: bigint
  jobId: Hex
  /** the workload job's name, when the job is one of the workload's */
  job: string | null
  challenger: string
  challengerAddress: Address
  /** the disputed leaf (null: the challenge was never revealed) */
  leaf: number | null
  rounds: { round: number; jurors: DevnetJuror[] }[]
  outcome: 'guilty' | 'notGuilty' | 'notProven' | 'expired' | 'conceded' | 'open'
  /** this dispute slashed the provider */
  convicted: boolean
  /** OPEN (wei) each party gained (positive) or lost (negative) through this dispute */
  money: { name: string; address: Address; wei: bigint; why: string }[]
}

const RULING_NAMES: Record<number, DevnetDispute['outcome']> = {
  [CourtRuling.guilty]: 'guilty',
  [CourtRuling.notGuilty]: 'notGuilty',
  [CourtRuling.notProven]: 'notProven',
}

/** Reads every dispute of the deployment's court. `names` maps lowercased addresses to node names. */
export async function readDisputes(
  client: ProtocolReadClient,
  deployment: Deployment,
  names: ReadonlyMap<string, string>,
  jobNames: ReadonlyMap<string, string>,
): Promise<DevnetDispute[]> {
  const court = deployment.addresses.disputeCourt
  if (court === undefined) return []
  const fromBlock = deployment.deployBlock
  const courtLogs = await getContractEvents(client, { address: court, abi: disputeCourtAbi, fromBlock })
  const marketLogs = await getContractEvents(client, {
    address: deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    eventName: 'ProviderConvicted',
    fromBlock,
  })
  const nameOf = (a: Address) => names.get(a.toLowerCase()) ?? a
  const disputes = new Map<bigint, DevnetDispute>()
  for (const log of courtLogs) {
    const args = log.args as Record<string, unknown>
    const id = args.disputeId as bigint | undefined
    if (log.eventName === 'ChallengeCommitted' && id !== undefined) {
      const jobId = args.jobId as Hex
      disputes.set(id, {
        disputeId: id,
        jobId,
        job: jobNames.get(jobId.toLowerCase()) ?? null,
        challenger: nameOf(args.challenger as Address),
        challengerAddress: args.challenger as Address,
        leaf: null,
        rounds: [],
        outcome: 'open',
        convicted: false,
        money: [],
      })
      continue
    }
    const d = id === undefined ? undefined : disputes.get(id)
    if (d !== undefined) applyCourtEvent(d, log.eventName, args, nameOf)
  }
  for (const log of marketLogs) {
    const { jobId, challenger, penalty, challengerReward } = log.args
    const d = [...disputes.values()].find((x) => x.jobId === jobId && x.convicted)
    if (d === undefined || penalty === undefined || challenger === undefined) continue
    const job = await readContract(client, {
      address: deployment.addresses.jobMarket,
      abi: jobMarketAbi,
      functionName: 'getJob',
      args: [jobId as Hex],
    })
    d.money.push({
      name: nameOf(job.provider),
      address: job.provider,
      wei: -penalty,
      why: 'slashed collateral',
    })
    d.money.push({
      name: nameOf(challenger),
      address: challenger,
      wei: challengerReward ?? 0n,
      why: 'challenger reward',
    })
  }
  return [...disputes.values()]
}

/** Folds one court event into its dispute's record. */
function applyCourtEvent(
  d: DevnetDispute,
  eventName: string,
  args: Record<string, unknown>,
  nameOf: (a: Address) => string,
): void {
  const round = Number(args.round ?? 0)
  switch (eventName) {
    case 'ChallengeRevealed':
      d.leaf = Number(args.leafIndex)
      return
    case 'ChallengeExpired':
      d.outcome = 'expired'
      d.money.push({
        name: d.challenger,
        address: d.challengerAddress,
        wei: -(args.bondToTreasury as bigint),
        why: 'bond of an unrevealed challenge',
      })
      return
    case 'ChallengeConceded':
      d.outcome = 'conceded'
      d.money.push({
        name: d.challenger,
        address: d.challengerAddress,
        wei: -(args.fee as bigint),
        why: 'concession fee (challenge withdrawn before its jury)',
      })
      return
    case 'JuryDrawn':
      d.rounds.push({
        round,
        jurors: (args.jurors as Address[]).map((a) => ({ name: nameOf(a), address: a, vote: 'none' })),
      })
      return
    case 'VoteRevealed': {
      const juror = d.rounds
        .find((r) => r.round === round)
        ?.jurors.find((j) => j.address.toLowerCase() === (args.juror as Address).toLowerCase())
      if (juror !== undefined)
        juror.vote = Number(args.choice) === CourtRuling.guilty ? 'guilty' : 'notGuilty'
      return
    }
    case 'DisputeExecuted':
      d.outcome = RULING_NAMES[Number(args.ruling)] ?? 'open'
      d.convicted = args.convicted as boolean
      if ((args.challengerLoss as bigint) > 0n)
        d.money.push({
          name: d.challenger,
          address: d.challengerAddress,
          wei: -(args.challengerLoss as bigint),
          why: 'false challenge',
        })
      return
    case 'JurorPaid':
      if ((args.amount as bigint) === 0n) return
      d.money.push({
        name: nameOf(args.juror as Address),
        address: args.juror as Address,
        wei: args.amount as bigint,
        why: 'coherent juror',
      })
      return
    case 'JurorPenalized':
      d.money.push({
        name: nameOf(args.juror as Address),
        address: args.juror as Address,
        wei: -(args.amount as bigint),
        why: 'incoherent or silent juror',
      })
      return
  }
}

/** A cheater's job ended in a guilty ruling of a drawn jury that slashed it. */
export function cheaterConvictedByJury(
  disputes: readonly DevnetDispute[],
  cheaters: ReadonlySet<string>,
  providerOf: ReadonlyMap<string, string>,
): boolean {
  return disputes.some(
    (d) =>
      d.outcome === 'guilty' &&
      d.convicted &&
      d.rounds.some((r) => r.jurors.some((j) => j.vote === 'guilty')) &&
      cheaters.has((providerOf.get(d.jobId.toLowerCase()) ?? '').toLowerCase()),
  )
}
