/** Creating datanets and naming their curators. */
import type { Address, Hex } from 'viem'
import { parseEventLogs } from 'viem'
import { readContract, simulateContract } from 'viem/actions'
import { datanetRegistryAbi } from '../generated/abis.js'
import { simulate, submit } from '../internal.js'
import type { ProtocolReadClient, ProtocolWalletClient, WriteOptions, WriteResult } from '../types.js'

export interface CreateDatanetParameters extends WriteOptions {
  datanetRegistry: Address
  /** curated: contributions wait for a curator; open: accepted at once */
  curated: boolean
  /** reputation a contributor needs to submit (curated datanets only; ignored for open ones) */
  minReputation?: bigint
  /** hash of the datanet's off-chain description */
  metadataHash: Hex
}

/** Creates a datanet, burning the governed `creationBurn` OPEN (approve the registry first). */
export async function createDatanet(
  client: ProtocolWalletClient,
  { datanetRegistry, curated, minReputation = 0n, metadataHash, gas }: CreateDatanetParameters,
): Promise<WriteResult & { datanetId: bigint }> {
  const { request, result } = await simulate('createDatanet', () =>
    simulateContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'createDatanet',
      args: [curated, minReputation, metadataHash],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  const written = await submit(client, request, 'createDatanet')
  // the id from the event: another creation may have landed between simulation and mining
  const [created] = parseEventLogs({
    abi: datanetRegistryAbi,
    eventName: 'DatanetCreated',
    logs: written.receipt.logs,
  })
  return { ...written, datanetId: created?.args.datanetId ?? result }
}

export interface SetDatanetCuratorParameters extends WriteOptions {
  datanetRegistry: Address
  datanetId: bigint
  curator: Address
  enabled: boolean
}

/** The creator of a curated datanet adds or removes a curator (at most the governed `maxCurators`). */
export async function setDatanetCurator(
  client: ProtocolWalletClient,
  { datanetRegistry, datanetId, curator, enabled, gas }: SetDatanetCuratorParameters,
): Promise<WriteResult> {
  const { request } = await simulate('setCurator', () =>
    simulateContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'setCurator',
      args: [datanetId, curator, enabled],
      account: client.account,
      ...(gas === undefined ? {} : { gas }),
    }),
  )
  return submit(client, request, 'setCurator')
}

export interface DatanetRecord {
  datanetId: bigint
  creator: Address
  curated: boolean
  curatorCount: number
  contributionCount: number
  /** contributions accepted into the manifest, in order */
  acceptedCount: number
  minReputation: bigint
  metadataHash: Hex
}

/** The registry's record of a datanet, or undefined when there is none. */
export async function getDatanet(
  client: ProtocolReadClient,
  { datanetRegistry, datanetId }: { datanetRegistry: Address; datanetId: bigint },
): Promise<DatanetRecord | undefined> {
  const d = await simulate('getDatanet', () =>
    readContract(client, {
      address: datanetRegistry,
      abi: datanetRegistryAbi,
      functionName: 'getDatanet',
      args: [datanetId],
    }),
  )
  if (d.creator === '0x0000000000000000000000000000000000000000') return undefined
  return { datanetId, ...d }
}
