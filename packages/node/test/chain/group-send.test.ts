/**
 * The group sender's rules, with a send that records what it was asked (no chain: a unit
 * test): the first request goes alone and at once, the ones that queue behind it go together
 * up to `max`; a batch refused before it is sent is split; a batch that failed after it was
 * sent is not sent again request by request.
 */
import { describe, expect, it } from 'vitest'
import { GroupSender } from '../../src/chain/group-send.js'

interface Recorder {
  groups: number[][]
  sender: GroupSender<number, string>
}

/** A sender whose `send` answers after a turn of the event loop, failing as `fail` says. */
function recorder(
  max: number,
  fail: (group: readonly number[]) => 'before' | 'after' | undefined = () => undefined,
): Recorder {
  const groups: number[][] = []
  const sender = new GroupSender<number, string>({
    max,
    async send(group, sent) {
      groups.push([...group])
      await new Promise((resolve) => setTimeout(resolve, 5))
      const failure = fail(group)
      if (failure === 'before') throw new Error(`refused ${group.join(',')}`)
      sent()
      if (failure === 'after') throw new Error(`reverted ${group.join(',')}`)
      return `tx ${group.join(',')}`
    },
  })
  return { groups, sender }
}

describe('group sender', () => {
  it('sends the first request alone and at once, and the ones queued behind it together, up to max', async () => {
    const { groups, sender } = recorder(2)
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => sender.submit(n)))
    expect(groups).toEqual([[1], [2, 3], [4, 5]])
    expect(results).toEqual(['tx 1', 'tx 2,3', 'tx 2,3', 'tx 4,5', 'tx 4,5'])
  })

  it('with max 1, or a max that is not a positive whole number, a transaction per request', async () => {
    for (const max of [1, 0, Number.NaN, 2.5]) {
      const { groups, sender } = recorder(max)
      await Promise.all([1, 2, 3].map((n) => sender.submit(n)))
      expect(groups).toEqual([[1], [2], [3]])
    }
  })

  it('splits a batch refused before it was sent: each request gets its own answer', async () => {
    const { groups, sender } = recorder(8, (group) => (group.includes(3) ? 'before' : undefined))
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((n) => sender.submit(n)))
    expect(groups).toEqual([[1], [2, 3, 4], [2], [3], [4]])
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'tx 1',
      'tx 2',
      'refused 3',
      'tx 4',
    ])
  })

  it('answers every request of a batch that failed after it was sent with that failure, and sends nothing more', async () => {
    const { groups, sender } = recorder(8, (group) => (group.length > 1 ? 'after' : undefined))
    const outcomes = await Promise.allSettled([1, 2, 3].map((n) => sender.submit(n)))
    expect(groups).toEqual([[1], [2, 3]])
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([
      'tx 1',
      'reverted 2,3',
      'reverted 2,3',
    ])
  })

  it('keeps going after a failure: a request submitted later is sent', async () => {
    const { sender } = recorder(4, (group) => (group.includes(1) ? 'before' : undefined))
    await expect(sender.submit(1)).rejects.toThrow('refused 1')
    await expect(sender.submit(2)).resolves.toBe('tx 2')
  })
})
