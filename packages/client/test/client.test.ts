/**
 * @ocn/client against a real node API server (@ocn/node's createApiServer over a real
 * state store), with no devnet: every call, typed errors, following a job to settlement,
 * cancellation, and hash-checked downloads. Staking answers from a stand-in provider
 * behind the same ApiProviders interface (the chain part is the devnet's to test).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import {
  type ApiProviders,
  type ApiServer,
  createApiServer,
  createSilentLogger,
  createStateStore,
  type StateStore,
  type StreamedTokens,
} from '@ocn/node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ClientError,
  createOcnClient,
  type JobEvent,
  NodeApiError,
  type SubmitJobInput,
  type TokenStreamEvent,
} from '../src/index.js'

const TOKEN = 't'.repeat(43)
const OUTPUT = new TextEncoder().encode('the outputs of job 0xaa01')
const sha256 = (bytes: Uint8Array) => `0x${createHash('sha256').update(bytes).digest('hex')}`

let dir: string
let store: StateStore
let server: ApiServer
let announcedHash: string
let staked: bigint[]
let deposited: bigint[]
/** what the stand-in requester read from the files of each job submitted */
let submitted: Record<string, string>[]
const tokenListeners = new Set<(e: StreamedTokens) => void>()

function providers(state: StateStore): ApiProviders {
  return {
    status: async () => ({
      version: 't',
      roles: ['requester'],
      startedAt: 1,
      uptimeMs: 2,
      services: {},
      jobs: {},
    }),
    jobs: (query) => state.listJobs(query),
    job: (id) => state.getJob(id),
    bids: (query) => state.listBids(query.jobId),
    onJobWritten: (listener) => state.onJobWritten(listener),
    onTokens: (listener) => {
      tokenListeners.add(listener)
      return () => tokenListeners.delete(listener)
    },
    balances: async () => ({
      address: '0xab',
      native: 10n ** 18n,
      token: 2n ** 70n,
      staked: 5n,
      locked: 1n,
      unbonding: 2n ** 65n + 1n,
      unbondingReadyAt: 1_900_000_000n,
      market: 2n ** 66n + 5n,
      payoutToBalance: true,
    }),
    ...roleSummaries,
    jobResults: async (id) =>
      id === '0xaa01'
        ? {
            jobId: id,
            state: 'finalized',
            files: [{ name: 'outputs.safetensors', bytes: OUTPUT.length, hash: announcedHash }],
          }
        : undefined,
    openJobResult: async (id, name) =>
      id === '0xaa01' && name === 'outputs.safetensors'
        ? (async function* () {
            yield OUTPUT
          })()
        : undefined,
    submitJob: async (request) => {
      submitted.push({
        model: `${basename(request.modelPath)}:${await readFile(request.modelPath, 'utf8')}`,
        inputs: `${basename(request.inputsPath)}:${await readFile(request.inputsPath, 'utf8')}`,
      })
      return { jobId: '0xaa02' }
    },
    stake: async ({ amount }) => {
      staked.push(amount)
      return {
        transaction: '0xfeed',
        balances: { address: '0xab', native: 1n, token: 0n, staked: amount, locked: 0n },
      }
    },
    // a node that takes deposits but (here) no withdrawals: POST /withdraw answers 503
    deposit: async ({ amount }) => {
      deposited.push(amount)
      return {
        transaction: '0xd0',
        balances: { address: '0xab', native: 1n, token: 0n, staked: 0n, locked: 0n, market: amount },
      }
    },
  }
}

const BIDDER = `0x${'b'.repeat(40)}`
const roleSummaries: Pick<ApiProviders, 'providerSummary' | 'providerStandings' | 'verifierSummary'> = {
  providerSummary: async () => ({
    address: BIDDER,
    standing: {
      address: BIDDER,
      completed: 4,
      slashed: 0,
      noShows: 1,
      totalEarned: 2n ** 64n + 3n,
      risk: 0.4,
    },
    priceFloorPerSample: 10n ** 14n,
    maxConcurrentJobs: 2,
    running: 1,
    devices: ['cpu'],
    collateral: { priceMultiple: 2, maxLockedFraction: 0.5 },
    settlements: [
      { jobId: '0xaa01', at: 5, state: 'finalized', earned: 2n ** 62n + 9n, slashedCollateral: 0n },
    ],
  }),
  providerStandings: async (addresses) =>
    addresses.map((address) => ({
      address,
      completed: 1,
      slashed: 2,
      noShows: 0,
      totalEarned: 7n,
      risk: 2.5,
    })),
  verifierSummary: async () => ({
    checks: 3,
    mismatches: 1,
    meanDetectionProbability: 0.9,
    challenges: { raised: 1, convicted: 1, abandoned: 0, open: 0 },
    jury: { seats: 2, revealed: 2 },
    rewards: {
      challenger: 2n ** 60n + 1n,
      jurorFees: 11n,
      jurorPenalties: 0n,
      entries: [
        { jobId: '0xaa01', disputeId: 3n, kind: 'challenger', amount: 2n ** 60n + 1n, blockNumber: 42n },
      ],
    },
  }),
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-client-'))
  store = createStateStore({ path: join(dir, 'state'), sync: false })
  await store.open()
  announcedHash = sha256(OUTPUT)
  staked = []
  deposited = []
  submitted = []
  await store.createJob({
    id: '0xaa01',
    role: 'requester',
    state: 'offered',
    kind: 'inference',
    verification: 'replay',
    maxPrice: 2n ** 80n,
  })
  server = createApiServer(
    { port: 0, token: TOKEN, uploadDir: join(dir, 'uploads'), maxUploadBytes: 64, maxUploadChunkBytes: 16 },
    { providers: providers(store), logger: createSilentLogger() },
  )
  await server.start()
})

afterEach(async () => {
  await server.stop()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

describe('@ocn/client', () => {
  it('reads status, jobs, a job, bids and balances (bigints as bigints)', async () => {
    const client = createOcnClient({ url: server.url! })
    expect((await client.status()).roles).toEqual(['requester'])
    const jobs = await client.jobs({ role: 'requester' })
    expect(jobs.map((job) => job.id)).toEqual(['0xaa01'])
    expect((await client.job('0xaa01')).maxPrice).toBe((2n ** 80n).toString())
    expect(await client.bids('0xaa01')).toEqual([])
    const balances = await client.balances()
    expect(balances.token).toBe(2n ** 70n)
    expect(balances.locked).toBe(1n)
  })

  it("reads the role views: unbonding stake, the provider summary, bidders' records, the verifier's rewards (bigints)", async () => {
    const client = createOcnClient({ url: server.url! })
    const balances = await client.balances()
    expect(balances.unbonding).toBe(2n ** 65n + 1n)
    expect(balances.unbondingReadyAt).toBe(1_900_000_000n)
    expect(balances.market).toBe(2n ** 66n + 5n)
    expect(balances.payoutToBalance).toBe(true)
    const provider = await client.provider()
    expect(provider.priceFloorPerSample).toBe(10n ** 14n)
    expect(provider.standing?.totalEarned).toBe(2n ** 64n + 3n)
    expect(provider.standing?.risk).toBe(0.4)
    expect(provider.settlements[0]?.earned).toBe(2n ** 62n + 9n)
    const standings = await client.providerStandings([BIDDER])
    expect(standings).toEqual([
      { address: BIDDER, completed: 1, slashed: 2, noShows: 0, totalEarned: 7n, risk: 2.5 },
    ])
    const verifier = await client.verifier()
    expect(verifier.rewards.challenger).toBe(2n ** 60n + 1n)
    expect(verifier.rewards.jurorFees).toBe(11n)
    expect(verifier.rewards.entries[0]).toMatchObject({ disputeId: 3n, blockNumber: 42n, kind: 'challenger' })
    // bad addresses never reach the node
    await expect(client.providerStandings([])).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
    await expect(client.providerStandings(['0x12'])).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
  })

  it('throws typed errors: bad input before sending, the node code, an unreachable node', async () => {
    const client = createOcnClient({ url: server.url! })
    await expect(client.job('../status')).rejects.toThrow(ClientError)
    const missing = await client.job('0x99').catch((error: unknown) => error)
    expect(missing).toBeInstanceOf(NodeApiError)
    expect(missing).toMatchObject({ code: 'API_NOT_FOUND', status: 404, shortMessage: 'unknown job 0x99' })
    const peers = await client.peers().catch((error: unknown) => error)
    expect(peers).toMatchObject({ code: 'API_SERVICE_UNAVAILABLE', status: 503 })
    const closed = createOcnClient({ url: 'http://127.0.0.1:9', timeoutMs: 2_000 })
    await expect(closed.status()).rejects.toMatchObject({ code: 'CLIENT_UNREACHABLE' })
    await expect(client.stake(0n)).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
  })

  it('stakes with the token, and the node refuses a POST without it', async () => {
    const anonymous = createOcnClient({ url: server.url! })
    await expect(anonymous.stake(5n)).rejects.toMatchObject({ code: 'API_UNAUTHORIZED', status: 401 })
    const client = createOcnClient({ url: server.url!, token: TOKEN })
    const result = await client.stake(12n)
    expect(result).toMatchObject({ transaction: '0xfeed' })
    expect(result.balances.staked).toBe(12n)
    expect(staked).toEqual([12n])
    await expect(
      client.submit({ kind: 'inference', modelPath: '/no/such/model.onnx', inputsPath: '/no/such/inputs' }),
    ).rejects.toMatchObject({ code: 'API_BAD_REQUEST' })
  })

  it('deposits into the market balance with the token; a node without withdrawals answers 503', async () => {
    const anonymous = createOcnClient({ url: server.url! })
    await expect(anonymous.deposit(5n)).rejects.toMatchObject({ code: 'API_UNAUTHORIZED', status: 401 })
    const client = createOcnClient({ url: server.url!, token: TOKEN })
    const result = await client.deposit(2n ** 70n + 1n)
    expect(result).toMatchObject({ transaction: '0xd0' })
    expect(result.balances.market).toBe(2n ** 70n + 1n)
    expect(deposited).toEqual([2n ** 70n + 1n])
    await expect(client.withdraw(1n)).rejects.toMatchObject({ code: 'API_SERVICE_UNAVAILABLE', status: 503 })
    await expect(client.deposit(0n)).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
  })

  it('uploads bytes, a Blob and a stream in chunks with progress, and submits a job naming the uploads', async () => {
    const client = createOcnClient({ url: server.url!, token: TOKEN })
    const bytes = new TextEncoder().encode('m'.repeat(40))
    const progress: unknown[] = []
    const model = await client.upload(bytes, 'model.onnx', {
      chunkBytes: 16,
      onProgress: (p) => progress.push(p),
    })
    expect(model).toMatchObject({ name: 'model.onnx', bytes: 40, complete: true, hash: sha256(bytes) })
    expect(progress).toEqual([16, 32, 40].map((sent) => ({ name: 'model.onnx', sent, total: 40 })))
    const blob = await client.upload(new Blob(['inputs']), 'x.npy')
    expect(blob).toMatchObject({ bytes: 6, hash: sha256(new TextEncoder().encode('inputs')) })
    const parts = ['str', 'eam', 'ed']
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift()
        if (part === undefined) controller.close()
        else controller.enqueue(new TextEncoder().encode(part))
      },
    })
    expect(await client.upload(stream, 'y.npy', { chunkBytes: 5 })).toMatchObject({ bytes: 8 })
    await expect(
      client.submit({ kind: 'inference', modelUpload: model.uploadId, inputsUpload: blob.uploadId }),
    ).resolves.toEqual({ jobId: '0xaa02' })
    expect(submitted).toEqual([{ model: `model.onnx:${'m'.repeat(40)}`, inputs: 'x.npy:inputs' }])
  })

  it('refuses bad uploads with typed errors: the name, the size limit, the token, an abort, mixed file fields', async () => {
    const client = createOcnClient({ url: server.url!, token: TOKEN })
    await expect(client.upload(new Uint8Array(1), '../model.onnx')).rejects.toMatchObject({
      code: 'CLIENT_INVALID_INPUT',
    })
    const tooLarge = await client.upload(new Uint8Array(100), 'big.onnx', { chunkBytes: 16 }).catch((e) => e)
    expect(tooLarge).toBeInstanceOf(NodeApiError)
    expect(tooLarge).toMatchObject({
      code: 'API_PAYLOAD_TOO_LARGE',
      status: 413,
      shortMessage: 'an upload may be at most 64 bytes',
    })
    const anonymous = createOcnClient({ url: server.url! })
    await expect(anonymous.upload(new Uint8Array(1), 'a.onnx')).rejects.toMatchObject({ status: 401 })
    await expect(
      client.upload(new Uint8Array(1), 'a.onnx', { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'CLIENT_ABORTED' })
    const up = await client.upload(new Uint8Array(1), 'a.onnx')
    // requests the types refuse, sent anyway as JavaScript could
    const refused: unknown[] = [
      { kind: 'inference' as const, modelPath: '/m.onnx', modelUpload: up.uploadId, inputsPath: '/x' },
      { kind: 'inference' as const, modelUpload: 'up_nothex', inputsPath: '/x' },
      { kind: 'training' as const, modelUpload: up.uploadId, inputsPath: '/x' },
    ]
    for (const request of refused)
      await expect(client.submit(request as SubmitJobInput)).rejects.toMatchObject({
        code: 'CLIENT_INVALID_INPUT',
      })
    const expired = await client
      .submit({ kind: 'inference', modelUpload: `up_${'0'.repeat(32)}`, inputsUpload: up.uploadId })
      .catch((e) => e)
    expect(expired).toMatchObject({
      code: 'API_BAD_REQUEST',
      shortMessage: /modelUpload: no finished upload/,
    })
  })

  it('follows a job through its lifecycle and ends at settlement', async () => {
    const client = createOcnClient({ url: server.url! })
    const seen: JobEvent[] = []
    const following = (async () => {
      for await (const event of client.follow('0xaa01')) seen.push(event)
    })()
    // the follower has its snapshot once it has seen one event
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    for (const state of ['awarded', 'executing', 'committed', 'finalized'] as const) {
      await store.transitionJob('0xaa01', state)
    }
    await following
    expect(seen.map((event) => event.job.state)).toEqual([
      'offered',
      'awarded',
      'executing',
      'committed',
      'finalized',
    ])
    expect(seen[0]!.type).toBe('snapshot')
    expect(seen[4]).toMatchObject({ type: 'update', previous: 'committed' })
  })

  it('streams a generate job: the tokens on the record, then each tokens event once, then the committed tokens with the differing prompts flagged', async () => {
    const client = createOcnClient({ url: server.url! })
    const detail = { role: 'requester', offer: '0x', biddingClosesAt: 0 }
    await store.updateJob('0xaa01', { detail: { ...detail, streamed: [[1, 2]] } as never })
    const seen: TokenStreamEvent[] = []
    const streaming = (async () => {
      for await (const event of client.streamTokens('0xaa01')) seen.push(event)
    })()
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const emit = (e: Omit<StreamedTokens, 'jobId'>) => {
      for (const listener of tokenListeners) listener({ jobId: '0xaa01', ...e })
    }
    emit({ prompt: 0, from: 1, tokens: [2, 3] })
    emit({ prompt: 1, from: 0, tokens: [7] })
    emit({ prompt: 1, from: 5, tokens: [9] })
    while (seen.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    const results = { verified: true, tokens: [[1, 2, 3], [8]], streamMismatches: [] }
    await store.updateJob('0xaa01', { detail: { ...detail, results } as never })
    await streaming
    expect(seen).toEqual([
      { type: 'tokens', prompt: 0, from: 0, tokens: [1, 2] },
      { type: 'tokens', prompt: 0, from: 2, tokens: [3] },
      { type: 'tokens', prompt: 1, from: 0, tokens: [7] },
      { type: 'committed', tokens: [[1, 2, 3], [8]], verified: true, streamMismatches: [1] },
    ])
  })

  it('stops following when its AbortSignal aborts', async () => {
    const client = createOcnClient({ url: server.url! })
    const controller = new AbortController()
    const seen: string[] = []
    const following = (async () => {
      for await (const event of client.follow('0xaa01', { signal: controller.signal })) {
        seen.push(event.job.state)
        controller.abort()
      }
    })()
    await expect(following).rejects.toMatchObject({ code: 'CLIENT_ABORTED' })
    expect(seen).toEqual(['offered'])
  })

  it('downloads a result file and checks its hash', async () => {
    const client = createOcnClient({ url: server.url! })
    const file = await client.download('0xaa01', 'outputs.safetensors')
    expect(file.verified).toBe(true)
    expect(new TextDecoder().decode(file.bytes)).toBe('the outputs of job 0xaa01')
    announcedHash = `0x${'00'.repeat(32)}`
    await expect(client.download('0xaa01', 'outputs.safetensors')).rejects.toMatchObject({
      code: 'CLIENT_HASH_MISMATCH',
    })
    await expect(client.download('0xaa01', 'missing.bin')).rejects.toMatchObject({
      code: 'CLIENT_INVALID_INPUT',
    })
  })
})
