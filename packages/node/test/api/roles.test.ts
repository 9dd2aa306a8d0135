/**
 * The role views' routes (`GET /provider`, `GET /providers`, `GET /verifier`) on a real API
 * server over a real state store, with the providers the daemon builds (role-summaries.ts);
 * the verifier's rewards are written by its real event handler (roles/verifier/rewards.ts)
 * from protocol events as the chain feed delivers them. The JobMarket record comes from a
 * stand-in chain reader (reading it from anvil is the e2e console test's part).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ProtocolEvent } from '@ocn/contracts-client'
import type { Address, Hex } from 'viem'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type ApiProviders, type ApiServer, createApiServer } from '../../src/api/index.js'
import type { ChainService, RoleService } from '../../src/api/services.js'
import { defaultNodeConfig } from '../../src/config/options.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { addServiceProviders } from '../../src/daemon/providers.js'
import { createMetricsFactory, createMetricsRegistry } from '../../src/metrics/index.js'
import { onRewardEvents } from '../../src/roles/verifier/rewards.js'
import { createStateStore, type StateStore } from '../../src/state/index.js'
import type { AwardedJob } from '../../src/state/job-detail.js'
import { getJson } from './helpers.js'

const ME = '0x00000000000000000000000000000000000000aa' as Address
const PROVIDER = '0x00000000000000000000000000000000000000bb' as Address
const OPEN = 10n ** 18n

let dir: string
let store: StateStore
let server: ApiServer
let base: string

const award = (jobId: Hex): AwardedJob => ({
  jobId,
  requester: '0x00000000000000000000000000000000000000cc',
  provider: PROVIDER,
  price: 3n * OPEN,
  collateral: 6n * OPEN,
  modelHash: `0x${'11'.repeat(32)}`,
  inputHash: `0x${'22'.repeat(32)}`,
  specHash: `0x${'33'.repeat(32)}`,
  kind: 0,
  verification: 0,
  deadline: 10_000n,
  sampleCount: 16,
  microBatchSize: 1,
  blockNumber: 5n,
})

/** A protocol event as the chain feed delivers it (only the fields the handler reads). */
function event(eventName: string, args: Record<string, unknown>, blockNumber: bigint, logIndex: number) {
  return { eventName, args, blockNumber, logIndex, transactionHash: `0x${'ee'.repeat(32)}` } as ProtocolEvent
}

async function seed(state: StateStore): Promise<void> {
  const job = (
    id: string,
    role: 'provider' | 'verifier',
    jobState: 'finalized' | 'slashed' | 'executing',
  ) => ({
    id,
    role,
    state: jobState,
    kind: 'inference' as const,
    verification: 'replay' as const,
    price: 2n * OPEN,
    collateral: 4n * OPEN,
  })
  await state.createJob({
    ...job('0xp1', 'provider', 'finalized'),
    detail: { role: 'provider', offer: '0x', requesterPeerId: 'p' },
  })
  await state.createJob({
    ...job('0xp2', 'provider', 'slashed'),
    detail: { role: 'provider', offer: '0x', requesterPeerId: 'p' },
  })
  await state.createJob({
    ...job('0xp3', 'provider', 'executing'),
    detail: { role: 'provider', offer: '0x', requesterPeerId: 'p' },
  })
  const report = { checkedIndices: [1, 2], leafCount: 16, samples: 2, costMs: 1, mismatches: [] }
  await state.createJob({
    ...job('0x01', 'verifier', 'slashed'),
    detail: {
      role: 'verifier',
      award: award('0x01'),
      report: { ...report, passed: false, detectionProbability: 0.5 },
      challenge: { index: 2, replayed: '0x12', salt: `0x${'99'.repeat(32)}`, disputeId: 7n, revealed: true },
    },
  })
  await state.createJob({
    ...job('0x02', 'verifier', 'finalized'),
    detail: {
      role: 'verifier',
      award: award('0x02'),
      report: { ...report, passed: true, detectionProbability: 0.25 },
      votes: [
        { disputeId: 8n, round: 0n, choice: 1, salt: `0x${'98'.repeat(32)}`, reason: 'r', revealed: true },
      ],
    },
  })
}

async function start(providers: ApiProviders): Promise<void> {
  server = createApiServer(
    { port: 0 },
    { providers, logger: createSilentLogger(), metrics: createMetricsFactory(createMetricsRegistry()) },
  )
  await server.start()
  base = server.url!
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-api-roles-'))
  store = createStateStore({ path: join(dir, 'state'), sync: false })
  await store.open()
  await seed(store)
  const config = defaultNodeConfig({})
  const chain = {
    providerRecord: async (address: string) =>
      address === PROVIDER.toLowerCase()
        ? { completed: 3, slashed: 1, noShows: 0, totalEarned: 5n * OPEN + 1n }
        : { completed: 0, slashed: 0, noShows: 0, totalEarned: 0n },
  } as Pick<ChainService, 'providerRecord'> as ChainService
  const roles = [{ role: 'provider' }, { role: 'verifier' }] as RoleService[]
  const providers: ApiProviders = {
    status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
    jobs: (query) => store.listJobs(query),
    job: (id) => store.getJob(id),
    bids: (query) => store.listBids(query.jobId),
  }
  const keys = { info: { address: PROVIDER, peerId: 'p' } } as Parameters<typeof addServiceProviders>[2]
  addServiceProviders(providers, { roles, chain }, keys, { config, state: store })
  await start(providers)
})

afterEach(async () => {
  await server.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('role view routes', () => {
  it('GET /provider: terms from the config, the record with its ranking risk, settlements oldest first', async () => {
    const { status, json } = await getJson(`${base}/provider`)
    expect(status).toBe(200)
    expect(json.address).toBe(PROVIDER)
    expect(json.priceFloorPerSample).toBe((OPEN / 10_000n).toString())
    expect(json.maxConcurrentJobs).toBe(2)
    expect(json.running).toBe(1)
    // (1 + 2 × 1 slash) / (1 + 3 completed)
    expect(json.standing).toEqual({
      address: PROVIDER,
      completed: 3,
      slashed: 1,
      noShows: 0,
      totalEarned: (5n * OPEN + 1n).toString(),
      risk: 0.75,
    })
    expect(json.settlements.map((s: { jobId: string }) => s.jobId)).toEqual(['0xp1', '0xp2'])
    expect(json.settlements[0]).toMatchObject({
      state: 'finalized',
      earned: (2n * OPEN).toString(),
      slashedCollateral: '0',
    })
    expect(json.settlements[1]).toMatchObject({
      state: 'slashed',
      earned: '0',
      slashedCollateral: (4n * OPEN).toString(),
    })
  })

  it('GET /providers: records of the addresses asked for; refuses a bad list', async () => {
    const other = '0x00000000000000000000000000000000000000dd'
    const { status, json } = await getJson(`${base}/providers?addresses=${PROVIDER},${other}`)
    expect(status).toBe(200)
    expect(json.standings.map((s: { completed: number; risk: number }) => [s.completed, s.risk])).toEqual([
      [3, 0.75],
      [0, 1],
    ])
    for (const bad of ['', 'addresses=0x12', `addresses=${Array(33).fill(other).join(',')}`]) {
      const refused = await getJson(`${base}/providers?${bad}`)
      expect(refused.status).toBe(400)
      expect(refused.json.error.code).toBe('API_BAD_REQUEST')
    }
  })

  it('GET /verifier: checks, challenges, seats, and the rewards its event handler recorded once each, to the wei', async () => {
    const ctx = { components: { state: store }, me: ME } as Parameters<typeof onRewardEvents>[0]
    const events = [
      event(
        'ProviderConvicted',
        { jobId: '0x01', challenger: ME, penalty: 4n * OPEN, challengerReward: OPEN + 7n, juryReward: 1n },
        20n,
        3,
      ),
      event('JurorPaid', { disputeId: 8n, juror: ME, amount: 123n }, 21n, 0),
      event('JurorPenalized', { disputeId: 8n, juror: ME, amount: 5n }, 21n, 1),
      // another juror's payment and an unknown dispute are not this node's
      event('JurorPaid', { disputeId: 8n, juror: PROVIDER, amount: 999n }, 21n, 2),
      event('JurorPaid', { disputeId: 99n, juror: ME, amount: 999n }, 21n, 3),
    ]
    await onRewardEvents(ctx, events)
    // the feed delivers at least once: a replay records nothing twice
    await onRewardEvents(ctx, events)
    const { status, json } = await getJson(`${base}/verifier`)
    expect(status).toBe(200)
    expect(json.checks).toBe(2)
    expect(json.mismatches).toBe(1)
    expect(json.meanDetectionProbability).toBe(0.375)
    expect(json.challenges).toEqual({ raised: 1, convicted: 1, abandoned: 0, open: 0 })
    expect(json.jury).toEqual({ seats: 1, revealed: 1 })
    expect(json.rewards.challenger).toBe((OPEN + 7n).toString())
    expect(json.rewards.jurorFees).toBe('123')
    expect(json.rewards.jurorPenalties).toBe('5')
    expect(
      json.rewards.entries.map((e: { kind: string; disputeId?: string }) => [e.kind, e.disputeId]),
    ).toEqual([
      ['juror', '8'],
      ['juror-penalty', '8'],
      ['challenger', '7'],
    ])
    // no sealed salt leaves the node
    const raw = JSON.stringify(json)
    expect(raw).not.toContain('99'.repeat(32))
    expect(raw).not.toContain('salt')
  })

  it('answers 503 for a role the node does not run', async () => {
    await server.stop()
    await start({
      status: async () => ({ version: 't', roles: [], startedAt: 1, uptimeMs: 1, services: {}, jobs: {} }),
      jobs: (query) => store.listJobs(query),
      job: (id) => store.getJob(id),
      bids: (query) => store.listBids(query.jobId),
    })
    for (const path of ['/provider', '/verifier', `/providers?addresses=${PROVIDER}`]) {
      const { status, json } = await getJson(`${base}${path}`)
      expect(status).toBe(503)
      expect(json.error.code).toBe('API_SERVICE_UNAVAILABLE')
    }
  })
})
