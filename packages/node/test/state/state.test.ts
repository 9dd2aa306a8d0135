import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type BidRecord,
  canTransition,
  createStateStore,
  decodeJson,
  encodeJson,
  IllegalTransitionError,
  type JobRecord,
  jobStates,
  jobTransitions,
  type NewJobRecord,
  type StateError,
  type StateStore,
  terminalJobStates,
} from '../../src/state/index.js'

const run = promisify(execFile)
let dir: string
let store: StateStore

function newJob(id: string, overrides: Partial<NewJobRecord> = {}): NewJobRecord {
  return {
    id,
    role: 'requester',
    state: 'offered',
    kind: 'inference',
    verification: 'replay',
    modelHash: `0x${'11'.repeat(32)}`,
    maxPrice: 10n ** 24n + 7n,
    ...overrides,
  }
}

function bid(jobId: string, bidId: string, price: bigint): BidRecord {
  return {
    jobId,
    bidId,
    provider: '0xprovider',
    price,
    collateral: price * 2n,
    status: 'received',
    receivedAt: 1,
  }
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (cause: unknown) => cause,
  )
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-state-'))
  store = createStateStore({ path: join(dir, 'state') })
  await store.open()
})

afterEach(async () => {
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('job state machine', () => {
  it('has terminal states exactly where money has moved', () => {
    expect([...terminalJobStates].sort()).toEqual(['finalized', 'slashed'])
    for (const from of jobStates) for (const to of jobTransitions[from]) expect(jobStates).toContain(to)
  })

  it('walks a job through the happy path with its history', async () => {
    await store.createJob(newJob('job-1'), { cursor: { blockNumber: 5n, updatedAt: 1 } })
    for (const state of ['bidding', 'awarded', 'executing', 'committed', 'finalized'] as const) {
      await store.transitionJob('job-1', state, {
        txHash: state === 'finalized' ? '0xabc' : (undefined as never),
      })
    }
    const job = await store.requireJob('job-1')
    expect(job.state).toBe('finalized')
    expect(job.history.map((entry) => entry.state)).toEqual([
      'offered',
      'bidding',
      'awarded',
      'executing',
      'committed',
      'finalized',
    ])
    expect(job.history.at(-1)?.txHash).toBe('0xabc')
    expect(job.maxPrice).toBe(10n ** 24n + 7n)
  })

  it('refuses every transition the table does not allow', async () => {
    for (const from of jobStates) {
      for (const to of jobStates) {
        const id = `job-${from}-${to}`
        await store.write({
          jobs: [
            { ...newJob(id), state: from, attempts: 1, createdAt: 1, updatedAt: 1, history: [] } as JobRecord,
          ],
        })
        const outcome = await store.transitionJob(id, to).then(
          (job) => job.state,
          (error: unknown) => error,
        )
        if (canTransition(from, to) || from === to) expect(outcome).toBe(to)
        else {
          expect(outcome).toBeInstanceOf(IllegalTransitionError)
          expect((outcome as IllegalTransitionError).code).toBe('STATE_ILLEGAL_TRANSITION')
          expect((await store.requireJob(id)).state).toBe(from)
        }
      }
    }
  })

  it('settles a job once even when two settlements race', async () => {
    await store.createJob(newJob('job-2', { state: 'committed' }))
    const outcomes = await Promise.allSettled([
      store.transitionJob('job-2', 'finalized'),
      store.transitionJob('job-2', 'finalized'),
      store.transitionJob('job-2', 'slashed'),
    ])
    // the second finalize finds the job finalized (a no-op); the slash is refused
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected'])
    const job = await store.requireJob('job-2')
    expect(
      job.history.filter((entry) => entry.state === 'finalized' || entry.state === 'slashed'),
    ).toHaveLength(1)
  })

  it('counts re-offers as new attempts', async () => {
    await store.createJob(newJob('job-3'))
    await store.transitionJob('job-3', 'expired')
    const again = await store.transitionJob('job-3', 'offered', { note: 're-offered' })
    expect(again.attempts).toBe(2)
    expect(again.history.at(-1)).toMatchObject({ state: 'offered', note: 're-offered' })
  })
})

describe('state store', () => {
  it('rejects duplicate and unknown jobs with typed errors', async () => {
    await store.createJob(newJob('job-4'))
    const duplicate = await failure(store.createJob(newJob('job-4')))
    expect((duplicate as StateError).code).toBe('STATE_JOB_EXISTS')
    const unknown = await failure(store.transitionJob('nope', 'bidding'))
    expect((unknown as StateError).code).toBe('STATE_JOB_NOT_FOUND')
    const invalid = await failure(store.createJob(newJob('a/b')))
    expect((invalid as StateError).code).toBe('STATE_INVALID_RECORD')
  })

  it('writes a transition, its bids and the chain cursor together', async () => {
    await store.createJob(newJob('job-5', { state: 'bidding' }))
    const winner = { ...bid('job-5', 'b1', 300n), status: 'accepted' as const }
    await store.transitionJob('job-5', 'awarded', {
      patch: { price: 300n, provider: '0xprovider' },
      bids: [winner, { ...bid('job-5', 'b2', 400n), status: 'rejected' }],
      cursor: { blockNumber: 2n ** 64n, updatedAt: 2 },
    })
    expect((await store.requireJob('job-5')).price).toBe(300n)
    expect((await store.listBids('job-5')).map((record) => [record.bidId, record.status])).toEqual([
      ['b1', 'accepted'],
      ['b2', 'rejected'],
    ])
    expect((await store.getChainCursor())?.blockNumber).toBe(2n ** 64n)
  })

  it('keeps the bids of one job apart from a job whose id extends it', async () => {
    await store.putBid(bid('job1', 'x', 1n))
    await store.putBid(bid('job10', 'y', 2n))
    expect((await store.listBids('job1')).map((record) => record.bidId)).toEqual(['x'])
    expect(await store.listBids()).toHaveLength(2)
  })

  it('filters jobs by state and role', async () => {
    await store.createJob(newJob('r1'))
    await store.createJob(newJob('p1', { role: 'provider', state: 'awarded' }))
    await store.createJob(newJob('p2', { role: 'provider', state: 'offered' }))
    expect((await store.listJobs({ role: 'provider' })).map((job) => job.id).sort()).toEqual(['p1', 'p2'])
    expect((await store.listJobs({ state: 'offered' })).map((job) => job.id).sort()).toEqual(['p2', 'r1'])
    expect(await store.listJobs({ limit: 1 })).toHaveLength(1)
  })

  it('survives close and reopen with exact bigints', async () => {
    await store.createJob(newJob('job-6'))
    await store.transitionJob('job-6', 'bidding')
    await store.putBid(bid('job-6', 'b', 2n ** 200n))
    await store.close()
    const reopened = createStateStore({ path: join(dir, 'state') })
    await reopened.open()
    try {
      expect((await reopened.requireJob('job-6')).state).toBe('bidding')
      expect((await reopened.listBids('job-6'))[0]?.price).toBe(2n ** 200n)
    } finally {
      await reopened.close()
    }
    store = createStateStore({ path: join(dir, 'state') })
    await store.open()
  })

  it('refuses a second process-local open of the same database', async () => {
    const second = createStateStore({ path: join(dir, 'state') })
    const error = await failure(second.open())
    expect((error as StateError).code).toBe('STATE_OPEN_FAILED')
  })

  it('fails clearly when used before open', async () => {
    const closed = createStateStore({ path: join(dir, 'other') })
    expect(((await failure(closed.getJob('x'))) as StateError).code).toBe('STATE_NOT_OPEN')
  })
})

describe('crash safety', () => {
  const distStore = fileURLToPath(new URL('../../dist/state/index.js', import.meta.url))

  it('keeps every acknowledged write after kill -9 of the writer', async () => {
    if (!existsSync(distStore))
      throw new Error('build @ocn/node first (npx tsc -p packages/node/tsconfig.json)')
    await store.close()
    const path = join(dir, 'state')
    // The child acknowledges each transition, then kills itself without closing the database.
    const script = `
      const { createStateStore } = await import(${JSON.stringify(distStore)})
      const store = createStateStore({ path: ${JSON.stringify(path)} })
      await store.open()
      await store.createJob({ id: 'crash', role: 'provider', state: 'offered', kind: 'training', verification: 'zk', price: 12345678901234567890123n })
      await store.transitionJob('crash', 'bidding')
      await store.transitionJob('crash', 'awarded', { cursor: { blockNumber: 99n, updatedAt: 1 } })
      process.stdout.write('acknowledged\\n')
      process.kill(process.pid, 'SIGKILL')
    `
    const outcome = await run(process.execPath, ['--input-type=module', '-e', script]).then(
      () => 'exited',
      (error: { signal?: string; stdout?: string }) => error,
    )
    expect(outcome).toMatchObject({ signal: 'SIGKILL', stdout: 'acknowledged\n' })

    store = createStateStore({ path })
    await store.open()
    const job = await store.requireJob('crash')
    expect(job.state).toBe('awarded')
    expect(job.price).toBe(12345678901234567890123n)
    expect((await store.getChainCursor())?.blockNumber).toBe(99n)
    // The restarted node continues from where it was, under the same rules.
    await expect(store.transitionJob('crash', 'bidding')).rejects.toBeInstanceOf(IllegalTransitionError)
    expect((await store.transitionJob('crash', 'executing')).state).toBe('executing')
  })
})

describe('bigint-safe JSON', () => {
  it('round-trips nested bigints and ordinary values', () => {
    fc.assert(
      fc.property(
        fc.record({
          a: fc.bigInt(),
          b: fc.array(fc.bigInt({ min: 0n, max: 2n ** 256n })),
          c: fc.string(),
          d: fc.integer(),
        }),
        (value) => {
          expect(decodeJson(encodeJson(value))).toEqual(value)
        },
      ),
    )
  })
})
