/**
 * A generate job's streamed tokens between two real nodes on 127.0.0.1: the provider's pusher
 * (tokenPusher, what ProviderRun uses) sends over `/ocn/tokens/1.0.0` to the requester's
 * RequesterTokenStreams on a real StateStore and ArtifactStore. A job shorter than the push
 * interval sends its tokens only at close; the provider commits once close resolves, and the
 * requester's results are fetched right after, so close must resolve only once the requester
 * took them, and the record must carry them though its throttled write never ran.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contentHashOf, encodeJobOffer } from '@ocn/protocol'
import { bytesToHex, type Hex } from 'viem'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/core/logger.js'
import { packTokenBatches } from '../../src/p2p/index.js'
import { tokenPusher } from '../../src/roles/generation.js'
import type { RequesterContext } from '../../src/roles/requester/context.js'
import { RequesterTokenStreams } from '../../src/roles/requester/token-stream.js'
import { createStateStore, type StateStore } from '../../src/state/index.js'
import { requesterDetail } from '../../src/state/job-detail.js'
import { profile } from '../executor/helpers.js'
import { connect, signedOffer, startNode, stopNodes, type TestNode } from '../p2p/helpers.js'

const PROMPTS = 2
const MAX_NEW_TOKENS = 3
/** far longer than the job: nothing is pushed before close */
const PUSH_INTERVAL_MS = 60_000
/** the requester's throttled record write never runs during the test */
const WRITE_EVERY_MS = 60_000

let requester: TestNode
let provider: TestNode
let state: StateStore
let stateDir: string
let streams: RequesterTokenStreams
let nextJob = 1

beforeAll(async () => {
  requester = await startNode()
  provider = await startNode()
  await connect(provider, requester)
  stateDir = await mkdtemp(join(tmpdir(), 'ocn-token-delivery-'))
  state = createStateStore({ path: join(stateDir, 'state') })
  await state.open()
  // the path under test reads the job, its offer's spec and logs; an awarded job needs no chain
  const context = { state, store: requester.store, log: silentLogger } as unknown as RequesterContext
  streams = new RequesterTokenStreams(context, WRITE_EVERY_MS)
  requester.tokens.setTokenHandler((batch, from) => streams.onBatch(batch, from))
}, 60_000)

afterEach(() => {
  nextJob++
})

afterAll(async () => {
  requester?.tokens.setTokenHandler(undefined)
  await state?.close()
  await stopNodes([requester, provider].filter(Boolean))
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true })
})

/** The requester's record of a generate job awarded to `provider`'s peer. */
async function awardedGenerateJob(jobId: Hex): Promise<void> {
  const spec = new TextEncoder().encode(
    JSON.stringify({
      kind: 'generate',
      profile: profile(1),
      seed: 's',
      maxNewTokens: MAX_NEW_TOKENS,
      sampling: { temperature: 0 },
    }),
  )
  const { hash: specHash } = await requester.store.putBytes(spec)
  const offer = await signedOffer(requester.identity, {
    specHash,
    sampleCount: PROMPTS * MAX_NEW_TOKENS,
    microBatchSize: 1,
  })
  await state.createJob({
    id: jobId,
    role: 'requester',
    state: 'awarded',
    kind: 'inference',
    verification: 'replay',
    modelHash: offer.terms.modelHash,
    inputHash: offer.terms.inputHash,
    provider: provider.identity.account.address,
    detail: {
      role: 'requester',
      offer: bytesToHex(encodeJobOffer(offer)),
      providerPeerId: provider.peerId,
      biddingClosesAt: Date.now(),
    },
  })
}

/** The provider's push, as ProviderRun wires it: pack the runs, send each batch to the requester. */
function pusherFor(jobId: Hex, options: { intervalMs?: number; flushTimeoutMs?: number } = {}) {
  return tokenPusher(
    async (runs) => {
      for (const batch of packTokenBatches(jobId, runs))
        await provider.tokens.sendTokens(requester.peerId, batch)
    },
    { batchTokens: 100, intervalMs: options.intervalMs ?? PUSH_INTERVAL_MS, maxFailures: 5, ...options },
  )
}

function decode(push: ReturnType<typeof tokenPusher>, tokens: number[][]): void {
  for (let position = 0; position < MAX_NEW_TOKENS; position++)
    for (const [prompt, row] of tokens.entries()) push.onToken({ prompt, position, token: row[position]! })
}

const jobIdNow = (): Hex => contentHashOf(new TextEncoder().encode(`token-delivery-${nextJob}`))

describe('a generate job shorter than the push interval', () => {
  it('has every token taken by the requester when the pusher closes, and on its record when the results come', async () => {
    const jobId = jobIdNow()
    await awardedGenerateJob(jobId)
    const tokens = [
      [11, 12, 13],
      [21, 22, 23],
    ]
    const push = pusherFor(jobId)
    decode(push, tokens)
    // what the provider awaits before it commits
    await push.close()
    // what the requester does first when it fetches the results, right after the commit
    expect(await streams.finish(jobId)).toEqual(tokens)
    expect(requesterDetail(await state.requireJob(jobId)).streamed).toEqual(tokens)
  })

  it('sends a batch the requester refused again until it is taken (the sender learns of the refusal)', async () => {
    const jobId = jobIdNow()
    const tokens = [
      [31, 32, 33],
      [41, 42, 43],
    ]
    // the requester has no record of the job yet (it is still recording the award): it
    // refuses the first sends, and the backoff (10, 20, 40 ms...) outlasts that
    const push = pusherFor(jobId, { intervalMs: 10 })
    decode(push, tokens)
    await new Promise((resolve) => setTimeout(resolve, 40))
    await awardedGenerateJob(jobId)
    await push.close()
    expect(await streams.finish(jobId)).toEqual(tokens)
  })

  it('gives up on a requester that never takes them within the flush timeout, without throwing', async () => {
    const jobId = jobIdNow()
    const push = pusherFor(jobId, { intervalMs: 1_000, flushTimeoutMs: 300 })
    decode(push, [
      [1, 2, 3],
      [4, 5, 6],
    ])
    const started = Date.now()
    await push.close()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await streams.finish(jobId)).toBeUndefined()
  })
})
