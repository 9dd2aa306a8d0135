/**
 * The devnet's accounting of replaced offers: every awarded one is booked (escrow still held,
 * or paid to a late provider), one never awarded is not, and a chain read that keeps failing
 * fails the summary instead of leaving a paid award out of the money checks.
 */
import type { Address } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  type AwardOnChain,
  bookReplacedAwards,
  type ReplacedAwardMoney,
  readReplacedAwards,
} from '../../src/devnet/replaced-awards.js'

const provider = '0x00000000000000000000000000000000000000a1' as Address
const none: AwardOnChain = {
  status: 'none',
  provider: '0x0000000000000000000000000000000000000000',
  price: 0n,
}

type Job = ReplacedAwardMoney & { name: string }

function chain(awards: Record<string, AwardOnChain>) {
  return async (id: string) => awards[id] ?? none
}

describe('replaced offers in the devnet accounting', () => {
  it('books escrowed awards as held, paid ones as late-paid, and skips offers never awarded or refunded', async () => {
    const jobs: Job[] = [
      { name: 'training-1', superseded: ['0x01', '0x02', '0x03'] },
      { name: 'inference-2', superseded: ['0x04', '0x05'] },
      { name: 'inference-3' },
    ]
    const read = chain({
      '0x01': { status: 'finalized', provider, price: 2_400n },
      '0x02': { status: 'awarded', provider, price: 100n },
      '0x03': { status: 'expired', provider, price: 7n },
      '0x04': { status: 'committed', provider, price: 50n },
      '0x05': { status: 'providerSlashed', provider, price: 9n },
    })
    const awards = await readReplacedAwards(jobs, read, 1)
    expect(awards.map((a) => [a.job.name, a.id, a.status])).toEqual([
      ['training-1', '0x01', 'finalized'],
      ['training-1', '0x02', 'awarded'],
      ['training-1', '0x03', 'expired'],
      ['inference-2', '0x04', 'committed'],
      ['inference-2', '0x05', 'providerSlashed'],
    ])
    bookReplacedAwards(jobs, awards)
    expect(jobs[0]).toMatchObject({ escrowHeld: 100n, latePaid: [{ id: '0x01', provider, price: 2_400n }] })
    expect(jobs[1]).toMatchObject({ escrowHeld: 50n })
    expect(jobs[1]!.latePaid).toBeUndefined()
    expect(jobs[2]!.escrowHeld).toBeUndefined()
  })

  it('books from the latest read alone when it is booked again', async () => {
    const jobs: Job[] = [{ name: 'training-1', superseded: ['0x01'] }]
    bookReplacedAwards(
      jobs,
      await readReplacedAwards(jobs, chain({ '0x01': { status: 'awarded', provider, price: 5n } }), 1),
    )
    bookReplacedAwards(
      jobs,
      await readReplacedAwards(jobs, chain({ '0x01': { status: 'finalized', provider, price: 5n } }), 1),
    )
    expect(jobs[0]!.escrowHeld).toBeUndefined()
    expect(jobs[0]!.latePaid).toEqual([{ id: '0x01', provider, price: 5n }])
  })

  it('retries a failed read, and fails with what to check when the chain keeps failing', async () => {
    const jobs: Job[] = [{ name: 'training-1', superseded: ['0x01'] }]
    let calls = 0
    const flaky = async () => {
      if (++calls < 3) throw new Error('fetch failed')
      return { status: 'finalized', provider, price: 1n }
    }
    expect(await readReplacedAwards(jobs, flaky, 1)).toHaveLength(1)
    const down = async (): Promise<AwardOnChain> => {
      throw new Error('fetch failed')
    }
    await expect(readReplacedAwards(jobs, down, 1)).rejects.toMatchObject({
      code: 'DEVNET_CHAIN_FAILED',
      message: expect.stringContaining('0x01'),
    })
  })
})
