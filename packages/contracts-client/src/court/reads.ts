// Views of the DisputeCourt.
import type { Address, ContractFunctionReturnType, Hex } from 'viem'
import { readContract } from 'viem/actions'
import { disputeCourtAbi } from '../generated/abis.js'
import { simulate } from '../internal.js'
import type { ProtocolReadClient } from '../types.js'

type CourtView<F extends 'getDispute' | 'getRound' | 'params'> = ContractFunctionReturnType<
  typeof disputeCourtAbi,
  'view',
  F
>
/** A dispute as the court stores it (phase, ruling, terms copied at commit and reveal). */
export type CourtDispute = CourtView<'getDispute'>
/** One round: its jurors, deadlines and tallies (`guilty` of `revealed`). */
export type CourtRound = CourtView<'getRound'>
export type CourtParamsView = CourtView<'params'>

export interface GetCourtDisputeParameters {
  disputeCourt: Address
  disputeId: bigint
}

export async function getCourtDispute(
  client: ProtocolReadClient,
  { disputeCourt, disputeId }: GetCourtDisputeParameters,
): Promise<CourtDispute> {
  return simulate('getDispute', () =>
    readContract(client, {
      address: disputeCourt,
      abi: disputeCourtAbi,
      functionName: 'getDispute',
      args: [disputeId],
    }),
  )
}

export interface GetCourtRoundParameters extends GetCourtDisputeParameters {
  /** omitted: the latest round */
  round?: bigint
}

export async function getCourtRound(
  client: ProtocolReadClient,
  { disputeCourt, disputeId, round }: GetCourtRoundParameters,
): Promise<CourtRound & { index: bigint }> {
  return simulate('getRound', async () => {
    const index =
      round ??
      (await readContract(client, {
        address: disputeCourt,
        abi: disputeCourtAbi,
        functionName: 'roundCount',
        args: [disputeId],
      })) - 1n
    const r = await readContract(client, {
      address: disputeCourt,
      abi: disputeCourtAbi,
      functionName: 'getRound',
      args: [disputeId, index],
    })
    return { ...r, index }
  })
}

export interface GetJobDisputesParameters {
  disputeCourt: Address
  jobId: Hex
}

/** Every court dispute on a job, in commit order. */
export async function getJobDisputes(
  client: ProtocolReadClient,
  { disputeCourt, jobId }: GetJobDisputesParameters,
): Promise<readonly bigint[]> {
  return simulate('disputesOf', () =>
    readContract(client, {
      address: disputeCourt,
      abi: disputeCourtAbi,
      functionName: 'disputesOf',
      args: [jobId],
    }),
  )
}

export interface GetJurorParameters {
  disputeCourt: Address
  juror: Address
}

/** A juror's locked stake and its seats in open disputes (0, 0 when not in the pool). */
export async function getJuror(
  client: ProtocolReadClient,
  { disputeCourt, juror }: GetJurorParameters,
): Promise<{ stake: bigint; activeSeats: bigint }> {
  const [stake, activeSeats] = await simulate('jurorOf', () =>
    readContract(client, {
      address: disputeCourt,
      abi: disputeCourtAbi,
      functionName: 'jurorOf',
      args: [juror],
    }),
  )
  return { stake, activeSeats }
}

export async function getCourtParams(
  client: ProtocolReadClient,
  { disputeCourt }: { disputeCourt: Address },
): Promise<CourtParamsView> {
  return simulate('params', () =>
    readContract(client, { address: disputeCourt, abi: disputeCourtAbi, functionName: 'params' }),
  )
}
