/**
 * Idempotent transitions, chain intents and the per-job locks, on a real LevelDB store in a
 * temporary directory (no process, no socket: a unit test).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sendWithIntent } from '../../src/chain/intents.js'
import {
  createStateStore,
  IllegalTransitionError,
  JobLocks,
  type NewJobRecord,
  type StateStore,
} from '../../src/state/index.js'

let dir: string
let store: StateStore

function newJob(id: string, overrides: Partial<NewJobRecord> = {}): NewJobRecord {
  return { id, role: 'provider', state: 'executing', kind: 'inference', verification: 'replay', ...overrides }
}

/** The account queue of the chain service: one send after another. */
const serialQueue = {
  serialize<T>(send: () => Promise<T>): Promise<T> {
    return send()
  },
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-intents-'))
  store = createStateStore({ path: join(dir, 'state') })
  await store.open()
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('idempotent transitions', () => {
  it('a move to the state a job is already in changes nothing and still writes the cursor', async () => {
    await store.createJob(newJob('job-a', { state: 'committed' }))
    const before = await store.requireJob('job-a')
    const again = await store.transitionJob('job-a', 'committed', {
      note: 'seen again by the tick',
      cursor: { blockNumber: 9n, updatedAt: 1 },
    })
    expect(again).toEqual(before)
    expect(await store.requireJob('job-a')).toEqual(before)
    expect((await store.getChainCursor())?.blockNumber).toBe(9n)
  })

  it('an event and a tick racing to record the same commit both succeed, once in the history', async () => {
    await store.createJob(newJob('job-b'))
    const outcomes = await Promise.allSettled([
      store.transitionJob('job-b', 'committed', { note: 'event' }),
      store.transitionJob('job-b', 'committed', { note: 'tick' }),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled'])
    const job = await store.requireJob('job-b')
    expect(job.history.filter((h) => h.state === 'committed')).toHaveLength(1)
  })

  it('still refuses a move the state machine forbids', async () => {
    await store.createJob(newJob('job-c', { state: 'finalized' }))
    await expect(store.transitionJob('job-c', 'slashed')).rejects.toBeInstanceOf(IllegalTransitionError)
    expect(await store.transitionJob('job-c', 'finalized')).toMatchObject({ state: 'finalized' })
  })
})

describe('chain intents', () => {
  it('records the intent with its patch before the send and the hash once sent; the transition drops it', async () => {
    await store.createJob(newJob('job-d'))
    const seen: unknown[] = []
    const result = await sendWithIntent(
      { state: store, chain: serialQueue },
      {
        jobId: 'job-d',
        action: 'commit',
        patch: { resultRoot: '0xroot' },
        async send(onSent) {
          seen.push(await store.requireJob('job-d'))
          await onSent('0xfeed')
          seen.push(await store.requireJob('job-d'))
          return { hash: '0xfeed' }
        },
        afterSent: async () => {
          seen.push('after-sent')
        },
      },
    )
    expect(result.hash).toBe('0xfeed')
    expect(seen[0]).toMatchObject({ resultRoot: '0xroot', intent: { action: 'commit' } })
    expect((seen[0] as { intent: { txHash?: string } }).intent.txHash).toBeUndefined()
    // the fault seam runs once the hash is on the record, before the receipt is awaited
    expect(seen[1]).toBe('after-sent')
    expect(seen[2]).toMatchObject({ intent: { action: 'commit', txHash: '0xfeed' } })
    const committed = await store.transitionJob('job-d', 'committed', { txHash: '0xfeed' })
    expect(committed.intent).toBeUndefined()
    expect(committed.resultRoot).toBe('0xroot')
  })

  it('keeps the intent when the send fails, and across a reopen (what a restart reads)', async () => {
    await store.createJob(newJob('job-e'))
    await expect(
      sendWithIntent(
        { state: store, chain: serialQueue },
        {
          jobId: 'job-e',
          action: 'finalize',
          async send(onSent) {
            await onSent('0xbeef')
            throw new Error('reverted')
          },
        },
      ),
    ).rejects.toThrow('reverted')
    await store.close()
    await store.open()
    expect((await store.requireJob('job-e')).intent).toMatchObject({ action: 'finalize', txHash: '0xbeef' })
    expect((await store.updateJob('job-e', { intent: undefined })).intent).toBeUndefined()
    expect((await store.requireJob('job-e')).intent).toBeUndefined()
  })
})

describe('job locks', () => {
  it('runs the handlers of one job one after the other, of different jobs side by side, past a failure', async () => {
    const locks = new JobLocks()
    const order: string[] = []
    const step = (name: string, ms: number) => async () => {
      order.push(`${name}:start`)
      await new Promise((resolve) => setTimeout(resolve, ms))
      order.push(`${name}:end`)
      if (name === 'a1') throw new Error('a1 failed')
      return name
    }
    const outcomes = await Promise.allSettled([
      locks.run('a', step('a1', 20)),
      locks.run('a', step('a2', 1)),
      locks.run('b', step('b1', 5)),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    // a2 starts only after a1 ended, though it is shorter; b1 runs meanwhile
    expect(order.indexOf('a2:start')).toBeGreaterThan(order.indexOf('a1:end'))
    expect(order.indexOf('b1:end')).toBeLessThan(order.indexOf('a1:end'))
    await locks.settled()
  })
})
