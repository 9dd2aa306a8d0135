/** The gated release of a model (anchor, object, resolve, reinstate) and its dispute monitor. */
import type { OfferTerms } from '@ocn/protocol'
import type { Address, Hex } from 'viem'
import { readContract, simulateContract } from 'viem/actions'
import { modelMonitorAbi, modelRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

interface ModelWrite extends WriteOptions {
  modelRegistry: Address
  modelHash: Hex
}

/** The owner anchors (or replaces) a Proposed model's evaluation report hash; the review restarts. */
export async function anchorEvaluationReport(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, reportHash, gas }: ModelWrite & { reportHash: Hex },
): Promise<WriteResult> {
  const { request } = await simulate('anchorEvaluationReport', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'anchorEvaluationReport',
      args: [modelHash, reportHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'anchorEvaluationReport')
}

/** Anyone objects to a Proposed model, locking the governed bond (approve the registry first). */
export async function objectToModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, reasonHash, gas }: ModelWrite & { reasonHash: Hex },
): Promise<WriteResult> {
  const { request } = await simulate('objectToModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'objectToModel',
      args: [modelHash, reasonHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'objectToModel')
}

/** The curator role rules on the open objection: upheld deletes the proposal and refunds the objector. */
export async function resolveObjection(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, upheld, gas }: ModelWrite & { upheld: boolean },
): Promise<WriteResult> {
  const { request } = await simulate('resolveObjection', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'resolveObjection',
      args: [modelHash, upheld],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'resolveObjection')
}

/** The curator role puts a Suspended model back to Approved. */
export async function reinstateModel(
  client: ProtocolWalletClient,
  { modelRegistry, modelHash, gas }: ModelWrite,
): Promise<WriteResult> {
  const { request } = await simulate('reinstateModel', () =>
    simulateContract(client, {
      address: modelRegistry,
      abi: modelRegistryAbi,
      functionName: 'reinstateModel',
      args: [modelHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'reinstateModel')
}

export interface ModelReview {
  /** unix seconds the review ends (0: no evaluation report anchored) */
  reviewEndsAt: number
  /** the open objection, if any */
  objection?: { objector: Address; bond: bigint; reasonHash: Hex }
}

export async function getModelReview(
  client: ProtocolReadClient,
  { modelRegistry, modelHash }: { modelRegistry: Address; modelHash: Hex },
): Promise<ModelReview> {
  const [reviewEndsAt, o] = await simulate('getModelReview', () =>
    Promise.all([
      readContract(client, {
        address: modelRegistry,
        abi: modelRegistryAbi,
        functionName: 'reviewEndsAt',
        args: [modelHash],
      }),
      readContract(client, {
        address: modelRegistry,
        abi: modelRegistryAbi,
        functionName: 'getObjection',
        args: [modelHash],
      }),
    ]),
  )
  const open = o.objector !== '0x0000000000000000000000000000000000000000'
  return { reviewEndsAt, ...(open ? { objection: o } : {}) }
}

/** Anyone counts a Closed dispute against the model of its job (the offer hashes to the job id). */
export async function reportModelDispute(
  client: ProtocolWalletClient,
  {
    modelMonitor,
    offer,
    disputeId,
    gas,
  }: WriteOptions & { modelMonitor: Address; offer: OfferTerms; disputeId: bigint },
): Promise<WriteResult> {
  const { request } = await simulate('reportDispute', () =>
    simulateContract(client, {
      address: modelMonitor,
      abi: modelMonitorAbi,
      functionName: 'reportDispute',
      args: [offer, disputeId],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'reportDispute')
}

/** The monitor's count for a model in its current window. */
export async function getModelDisputeTally(
  client: ProtocolReadClient,
  { modelMonitor, modelHash }: { modelMonitor: Address; modelHash: Hex },
): Promise<{ windowStart: number; disputes: number; lost: number }> {
  return simulate('tallyOf', () =>
    readContract(client, {
      address: modelMonitor,
      abi: modelMonitorAbi,
      functionName: 'tallyOf',
      args: [modelHash],
    }),
  )
}
