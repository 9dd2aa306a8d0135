// Rebuilding a compact batch's records from its award's logs (compactBatchesFromLogs), with no
// chain: logs that cannot be the award's (job data of a broken length, fewer JobAwarded events
// than jobs, records that do not hash to the batch id) are a typed error, never a wrong record.
import {
  encodeAbiParameters,
  encodeEventTopics,
  getAbiItem,
  type Hex,
  keccak256,
  type Log,
  toHex,
} from 'viem'
import { describe, expect, it } from 'vitest'
import { ContractsClientError, compactBatchesFromLogs, jobMarketAbi } from '../src/index.js'

const market = '0x00000000000000000000000000000000000000aa' as const
const batchEvent = getAbiItem({ abi: jobMarketAbi, name: 'CompactBatchAwarded' })

function batchLog(batchId: Hex, jobs: Hex): Log {
  const topics = encodeEventTopics({
    abi: [batchEvent],
    eventName: 'CompactBatchAwarded',
    args: { batchId, requester: market },
  }) as [Hex, ...Hex[]]
  const data = encodeAbiParameters(
    [{ type: 'uint32' }, { type: 'uint16' }, { type: 'uint32' }, { type: 'bytes' }],
    [1, 0, 600, jobs],
  )
  return {
    address: market,
    topics,
    data,
    blockHash: null,
    blockNumber: null,
    logIndex: null,
    transactionHash: null,
    transactionIndex: null,
    removed: false,
  } as unknown as Log
}

describe('compactBatchesFromLogs', () => {
  const batchId = keccak256(toHex('a batch'))

  it('refuses job data of a broken length, and more jobs than JobAwarded events', () => {
    for (const jobs of [`0x${'01'.repeat(6)}`, `0x${'01'.repeat(7)}`] as Hex[]) {
      const err = (() => {
        try {
          compactBatchesFromLogs([batchLog(batchId, jobs)], market)
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(err).toBeInstanceOf(ContractsClientError)
      expect((err as ContractsClientError).message).toContain(`cannot rebuild compact batch ${batchId}`)
    }
  })

  it('reads nothing from another contract, and no batch from a transaction without one', () => {
    const foreign = {
      ...batchLog(batchId, '0x'),
      address: '0x00000000000000000000000000000000000000bb',
    } as Log
    expect(compactBatchesFromLogs([foreign], market)).toEqual([])
    expect(compactBatchesFromLogs([], market)).toEqual([])
  })
})
