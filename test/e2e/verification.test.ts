/**
 * No way around the spot check: a provider that computes and commits but then will not let
 * its results be checked (answers `ok` without the leaves asked for, serves half of them,
 * moves them out of range, mangles them, withholds its training checkpoints) is challenged by
 * a verifier and convicted by a jury of the other, like one that fakes a result. One devnet: a real
 * anvil with the real contracts, daemons over libp2p TCP, real ONNX Runtime; one provider
 * whose fault plan switches cheat between jobs, and two verifiers that each draw their own
 * private sample of k < n leaves under the cap. Money is checked to the wei, job by job.
 */

import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type CheatingFaultPlanOptions, createCheatingFaultPlan } from '@ocn/cli'
import {
  ClientError,
  createOcnClient,
  type JobState,
  NodeApiError,
  type OcnClient,
  type TokenStreamEvent,
} from '@ocn/client'
import { consoleDir } from '@ocn/console'
import {
  disputeCourtAbi,
  getJob,
  getMarketParams,
  getProviderRecord,
  getStake,
  jobMarketAbi,
  sweepTreasury,
} from '@ocn/contracts-client'
import {
  encodeSafetensors,
  type NodeConfig,
  type ProviderFaultPlan,
  type RequesterRole,
  type VerificationReport,
} from '@ocn/node'
import { buildGptModel, encodeOnnxModel, gptCacheNames, sampleIndices, verifySampleSeed } from '@ocn/prover'
import * as ort from 'onnxruntime-node'
import { type Address, type Hex, keccak256 } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleInBrowser } from './console.js'
import {
  convictionFlows,
  finalizedOncePassed,
  fundAndStake,
  jobIn,
  juryConviction,
  OPEN,
  removeDir,
  startChain,
  startNodes,
  type TestNode,
  tempDir,
  tokenBalances,
  waitFor,
  walletFor,
  writeFixture,
  writeSequenceFixture,
  writeTrainingFixture,
} from './helpers.js'

const REQUESTER = 1
const PROVIDER = 2
const VERIFIER_A = 3
const VERIFIER_B = 4
const TREASURY = 9
const CHALLENGE_WINDOW = 20
/** the verifiers' cap: 3 of the 16 micro-batches (inference) or of the 5 checkpoints (training) */
const MAX_SAMPLES = 3

type Net = Awaited<ReturnType<typeof startChain>> & { dir: string; nodes: TestNode[] }

/** The generate fixture: a small GPT-style decoder from the project's builder, two prompts. */
const GPT = { vocab: 61, dModel: 32, heads: 4, layers: 2, maxPositions: 64, seed: 7 }
const PROMPTS = [
  [3, 17, 42, 5],
  [60, 1, 2, 9],
]
/** 2 prompts x 8 positions: 16 leaves, of which each verifier checks MAX_SAMPLES */
const NEW_TOKENS = 8

async function writeGenerateFixture(
  dir: string,
): Promise<{ modelPath: string; inputsPath: string; model: Uint8Array }> {
  const model = encodeOnnxModel(buildGptModel(GPT))
  const modelPath = join(dir, 'gpt.onnx')
  const inputsPath = join(dir, 'prompts.safetensors')
  await writeFile(modelPath, model)
  const ids = BigInt64Array.from(PROMPTS.flat().map(BigInt))
  await writeFile(
    inputsPath,
    encodeSafetensors({
      input_ids: {
        dtype: 'int64',
        dims: [PROMPTS.length, PROMPTS[0]!.length],
        data: new Uint8Array(ids.buffer),
      },
    }),
  )
  return { modelPath, inputsPath, model }
}

/** A plain onnxruntime greedy loop over the fixture with its KV cache: what the job must return. */
async function plainGreedy(model: Uint8Array, prompt: number[], steps: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  const ints = (v: number[]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length])
  const headDim = GPT.dModel / GPT.heads
  const out: number[] = []
  let past: ort.InferenceSession.OnnxValueMapType | undefined
  let ids = prompt
  let length = 0
  try {
    for (let s = 0; s < steps; s++) {
      const feeds: Record<string, ort.Tensor> = {
        input_ids: ints(ids),
        attention_mask: ints(Array(length + ids.length).fill(1)),
        position_ids: ints(ids.map((_, i) => length + i)),
      }
      const empty = new ort.Tensor('float32', new Float32Array(0), [1, GPT.heads, 0, headDim])
      for (let l = 0; l < GPT.layers; l++) {
        const n = gptCacheNames(l)
        feeds[n.pastKey] = (past?.[n.presentKey] as ort.Tensor | undefined) ?? empty
        feeds[n.pastValue] = (past?.[n.presentValue] as ort.Tensor | undefined) ?? empty
      }
      past = await session.run(feeds)
      const logits = (past.logits as ort.Tensor).data as Float32Array
      const row = logits.subarray(logits.length - GPT.vocab)
      let best = 0
      for (let v = 1; v < GPT.vocab; v++) if (row[v]! > row[best]!) best = v
      out.push(best)
      length += ids.length
      ids = [best]
    }
  } finally {
    await session.release()
  }
  return out
}

/** Every token event of a job, until the stream ends with the committed tokens (or the job's end). */
async function tokensOf(ocn: OcnClient, jobId: string): Promise<TokenStreamEvent[]> {
  const events: TokenStreamEvent[] = []
  for await (const event of ocn.streamTokens(jobId)) events.push(event)
  return events
}

/**
 * The states `follow` yields until its iterator ends by itself at settlement; a job offered
 * again (a loaded machine missed its bidding window) is followed on under its new id.
 */
async function followToSettlement(ocn: OcnClient, jobId: string): Promise<JobState[]> {
  const states: JobState[] = []
  let id: string | undefined = jobId
  while (id !== undefined) {
    const current: string = id
    id = undefined
    const until = (job: { state: JobState; detail?: Record<string, unknown> }) =>
      job.state === 'finalized' || job.state === 'slashed' || typeof job.detail?.reofferedAs === 'string'
    for await (const event of ocn.follow(current, { until })) {
      states.push(event.job.state)
      const next = event.job.detail?.reofferedAs
      if (typeof next === 'string') id = next
    }
  }
  return states
}

/** A fault plan whose cheat the test switches between jobs (the provider keeps one plan object). */
function switchablePlan(current: () => CheatingFaultPlanOptions): ProviderFaultPlan {
  const plan = () => createCheatingFaultPlan(current())
  return {
    tamperInference: (at, result) => plan().tamperInference(at, result),
    tamperTraining: (at, result) => plan().tamperTraining(at, result),
    tamperAttribution: (at, result) => plan().tamperAttribution(at, result),
    tamperGeneration: (at, result) => plan().tamperGeneration!(at, result),
    tamperAnswer: (at, request, response) => plan().tamperAnswer(at, request, response),
  }
}

describe('spot checks a provider cannot get around (anvil, libp2p, ORT)', () => {
  let net: Net
  let fixture: { modelPath: string; inputsPath: string }
  let training: { inputsPath: string; trainingSpecPath: string }
  let sequence: Awaited<ReturnType<typeof writeSequenceFixture>>
  let gpt: Awaited<ReturnType<typeof writeGenerateFixture>>
  let cheat: CheatingFaultPlanOptions = { fraction: 0 }
  const node = (name: string) => net.nodes.find((n) => n.name === name)!
  const verifiers = () => [node('verifier-a'), node('verifier-b')]
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  const client = () => walletFor(net.chain, net.chain.privateKeys[0]!)
  const treasury = () => net.chain.accounts[TREASURY]!.address
  const market = () => net.deployment.addresses.jobMarket
  /** The job finalized at the requester; the window's rest is skipped once both verifiers passed it. */
  const finalizedAtRequester = (
    jobId: string,
    options: { timeoutMs?: number; followReoffers?: boolean } = {},
  ) =>
    finalizedOncePassed(net.chain, node('requester'), verifiers(), jobId, {
      windowSeconds: CHALLENGE_WINDOW,
      ...options,
    })

  beforeAll(async () => {
    const dir = await tempDir()
    const started = await startChain({
      challengeWindow: CHALLENGE_WINDOW,
      treasuryIndex: TREASURY,
    })
    net = { ...started, dir, nodes: [] }
    const { chain, deployment } = net
    await fundAndStake(chain, deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, PROVIDER, 200n * OPEN, 100n * OPEN)
    // each verifier: the verifier minimum, the juror pool and a challenge's stake at risk
    await fundAndStake(chain, deployment, VERIFIER_A, 400n * OPEN, 300n * OPEN)
    await fundAndStake(chain, deployment, VERIFIER_B, 400n * OPEN, 300n * OPEN)
    fixture = await writeFixture(dir)
    training = await writeTrainingFixture(dir)
    sequence = await writeSequenceFixture(dir)
    gpt = await writeGenerateFixture(dir)
    const capped = (c: NodeConfig) => {
      c.verifier.maxSamplesPerJob = MAX_SAMPLES
    }
    // the requester, the provider and verifier-a serve their API and console (the browser test)
    const withConsole = {
      configure: (c: NodeConfig) => {
        c.api = { ...c.api, enabled: true, port: 0 }
      },
    }
    const daemon = { consoleDir }
    net.nodes = await startNodes(chain, deployment, dir, [
      {
        name: 'verifier-a',
        accountIndex: VERIFIER_A,
        roles: ['verifier'],
        daemon,
        configure: (c) => {
          capped(c)
          withConsole.configure(c)
        },
      },
      { name: 'verifier-b', accountIndex: VERIFIER_B, roles: ['verifier'], configure: capped },
      {
        name: 'provider',
        accountIndex: PROVIDER,
        roles: ['provider'],
        faults: switchablePlan(() => cheat),
        daemon,
        ...withConsole,
      },
      { name: 'requester', accountIndex: REQUESTER, roles: ['requester'], daemon, ...withConsole },
    ])
    for (const watcher of verifiers()) {
      await waitFor(`the provider's capability ad at ${watcher.name}`, async () =>
        watcher.components.parts.network!.gossip.capabilityAds().length > 0 ? true : undefined,
      )
    }
  }, 240_000)

  afterAll(async () => {
    for (const n of [...(net?.nodes ?? [])].reverse()) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    if (net?.dir) await removeDir(net.dir)
  })

  /** A verifier's report, checked as a private sample of k < n leaves drawn from its own signature. */
  async function privateSample(verifier: TestNode, jobId: Hex, states: Array<'slashed' | 'finalized'>) {
    await jobIn(verifier, jobId, states)
    const report = await waitFor(`${verifier.name}'s report`, async () => {
      const r = await verifier.daemon.state.getJob(jobId)
      return (r?.detail as { report?: VerificationReport } | undefined)?.report
    })
    const onChain = await getJob(client(), { jobMarket: market(), jobId })
    expect(report.samples).toBe(MAX_SAMPLES)
    expect(report.samples).toBeLessThan(report.leafCount)
    expect(report.checkedIndices).toHaveLength(report.samples)
    const signature = report.sampleSignature!
    const commitment = {
      chainId: net.chain.chain.id,
      jobMarket: market(),
      jobId,
      resultRoot: onChain.resultRoot,
    }
    expect(
      await verifySampleSeed(verifier.address, commitment, { seed: keccak256(signature), signature }),
    ).toBe(true)
    expect(sampleIndices(keccak256(signature), jobId, report.leafCount, report.samples)).toEqual(
      report.checkedIndices,
    )
    return report
  }

  /** Runs one job under `plan` and checks the provider convicted and every balance to the wei. */
  async function convicted(
    plan: CheatingFaultPlanOptions,
    submit: Parameters<RequesterRole['submitJob']>[0],
  ) {
    cheat = plan
    const { chain, deployment } = net
    await sweepTreasury(client(), { jobMarket: market() })
    const accounts: Address[] = [node('requester').address, node('provider').address, treasury()]
    for (const v of verifiers()) accounts.push(v.address)
    const before = await tokenBalances(chain, deployment, accounts)
    const job = await requester().submitJob(submit)
    // a loaded machine can miss the bidding window: the job is offered again under a new id
    const jobId = (await jobIn(node('requester'), job.jobId, ['slashed'], { followReoffers: true })).id as Hex
    // the jury is the verifier that did not bring the convicting challenge
    const conviction = await juryConviction(chain, deployment, jobId)
    const challenger = conviction.challenger
    const isChallenger = (v: TestNode) => v.address.toLowerCase() === challenger.toLowerCase()
    const juror = verifiers().find((v) => !isChallenger(v))!
    expect(conviction.jurors).toEqual([{ address: juror.address, vote: 1 }])
    const vote = await waitFor(`${juror.name}'s vote record`, async () => {
      const r = await juror.daemon.state.getJob(jobId)
      const detail = r?.detail as
        | { votes?: Array<{ disputeId: bigint; reason: string; revealed?: boolean }> }
        | undefined
      const votes = detail?.votes
      return votes?.find((v) => v.disputeId === conviction.disputeId && v.revealed === true)
    })
    const decision = { leafIndex: conviction.leafIndex, reason: vote.reason }
    // the challenger's report names the disputed leaf; the juror checked the job too, unless it
    // was already disputed when its check came due
    const challengerReport = await privateSample(verifiers().find(isChallenger)!, jobId, ['slashed'])
    expect(challengerReport.challenged?.index).toBe(decision.leafIndex)
    await jobIn(juror, jobId, ['slashed'])
    const reports = [challengerReport]
    const otherRecord = await juror.daemon.state.getJob(jobId)
    if ((otherRecord?.detail as { report?: VerificationReport } | undefined)?.report !== undefined) {
      const otherReport = await privateSample(juror, jobId, ['slashed'])
      // two verifiers, two signatures: each drew its own sample
      expect(otherReport.sampleSignature).not.toBe(challengerReport.sampleSignature)
      reports.push(otherReport)
    }

    const onChain = await getJob(client(), { jobMarket: market(), jobId })
    await sweepTreasury(client(), { jobMarket: market() })
    const after = await tokenBalances(chain, deployment, accounts)
    const penalty = onChain.collateral // cheatSlashBps is 100%
    expect(conviction.penalty).toBe(penalty)
    const flows = convictionFlows(
      conviction,
      verifiers().map((v) => v.address),
    )
    const requesterAddress = node('requester').address
    const provider = node('provider').address
    expect(penalty).toBeGreaterThan(0n)
    // the requester is refunded in full; the provider loses the slash from its stake, earns nothing
    expect(after[requesterAddress]!.token).toBe(before[requesterAddress]!.token)
    expect(after[provider]!.token).toBe(before[provider]!.token)
    expect(after[provider]!.staked).toBe(before[provider]!.staked - penalty)
    expect(after[provider]!.locked).toBe(0n)
    // bonds back; the convicting challenger's reward and the coherent juror's share, to the wei
    expect(conviction.challengerReward).toBeGreaterThan(0n)
    for (const v of verifiers()) {
      expect(after[v.address]!.token).toBe(before[v.address]!.token + flows.verifier[v.address]!.token)
      expect(after[v.address]!.staked).toBe(before[v.address]!.staked + flows.verifier[v.address]!.staked)
    }
    expect(after[treasury()]!.token).toBe(before[treasury()]!.token + flows.treasury)
    return { decision, reports }
  }

  it('an honest provider passes two private samples of 3 of 16 leaves and is paid to the wei', async () => {
    cheat = { fraction: 0 }
    const { chain, deployment } = net
    await sweepTreasury(client(), { jobMarket: market() })
    const provider = node('provider').address
    const requesterAddress = node('requester').address
    const accounts: Address[] = [requesterAddress, provider, treasury()]
    const before = await tokenBalances(chain, deployment, accounts)
    const job = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    const done = await finalizedAtRequester(job.jobId, { followReoffers: true })
    const jobId = done.id as Hex
    const reports = []
    for (const v of verifiers()) reports.push(await privateSample(v, jobId, ['finalized']))
    for (const r of reports) {
      expect(r).toMatchObject({ passed: true, leafCount: 16, committedLeafCount: 16, mismatches: [] })
      expect(r.challenged).toBeUndefined()
    }
    expect(reports[0]!.sampleSignature).not.toBe(reports[1]!.sampleSignature)
    const params = await getMarketParams(client(), {
      jobMarket: market(),
      stakeManager: deployment.addresses.stakeManager,
    })
    await sweepTreasury(client(), { jobMarket: market() })
    const after = await tokenBalances(chain, deployment, accounts)
    const fee = (done.price! * BigInt(params.protocolFeeBps)) / 10_000n
    expect(after[requesterAddress]!.token).toBe(before[requesterAddress]!.token - done.price!)
    expect(after[provider]!.token).toBe(before[provider]!.token + done.price! - fee)
    expect(after[provider]!.staked).toBe(before[provider]!.staked)
    expect(after[treasury()]!.token).toBe(before[treasury()]!.token + fee)
  }, 240_000)

  it('a stateful multi-input sequence job (batch on axis 1, a scalar input) is spot-checked chunk by chunk and finalized', async () => {
    cheat = { fraction: 0 }
    // 4 chunks of 2 streams: 8 leaves, each replayed from the provider's served incoming state
    const job = await requester().submitJob({
      modelPath: sequence.modelPath,
      inputsPath: sequence.inputsPath,
      kind: 'inference',
      verification: 'replay',
      state: sequence.state,
    })
    // a loaded machine may miss the first bidding window: the requester re-offers the same work
    const jobId = (await finalizedAtRequester(job.jobId, { timeoutMs: 110_000, followReoffers: true }))
      .id as Hex
    for (const v of verifiers()) {
      const r = await privateSample(v, jobId, ['finalized'])
      expect(r).toMatchObject({ passed: true, leafCount: 8, committedLeafCount: 8, mismatches: [] })
    }
    const results = await waitFor("the requester's checked results", async () => {
      const r = await node('requester').daemon.state.getJob(jobId)
      return (r?.detail as { results?: { verified: boolean; leafCount: number } } | undefined)?.results
    })
    expect(results).toMatchObject({ verified: true, leafCount: 8 })
  }, 180_000)

  it('a generate job (a GPT-style decoder, 2 prompts x 8 tokens) streams its tokens, is spot-checked position by position and finalized with the greedy tokens at the requester', async () => {
    cheat = { fraction: 0 }
    // what the provider streams to the requester over /ocn/tokens/1.0.0, as the API's events see it
    const streamed: { jobId: string; prompt: number; from: number; tokens: number[]; at: number }[] = []
    const unlisten = requester().onTokens!((e) => streamed.push({ ...e, at: Date.now() }))
    // submitted through @ocn/client against the requester's API: the files go up in chunks
    // (hashed by the node), not as paths on its machine
    const ocn = createOcnClient({ url: node('requester').daemon.apiUrl! })
    const sent: number[] = []
    const chunkBytes = 16 * 1024
    const model = await ocn.upload(gpt.model, 'gpt.onnx', {
      chunkBytes,
      onProgress: (p) => sent.push(p.sent),
    })
    expect(model).toMatchObject({
      complete: true,
      bytes: gpt.model.length,
      hash: `0x${createHash('sha256').update(gpt.model).digest('hex')}`,
    })
    expect(sent).toHaveLength(Math.ceil(gpt.model.length / chunkBytes))
    const prompts = await ocn.upload(new Blob([await readFile(gpt.inputsPath)]), 'prompts.safetensors')
    const job = await ocn.submit({
      modelUpload: model.uploadId,
      inputsUpload: prompts.uploadId,
      kind: 'inference',
      verification: 'replay',
      generate: { maxNewTokens: NEW_TOKENS },
    })
    // a job took the uploads: the node deleted its copies
    expect(await readdir(join(node('requester').config.dataDir, 'uploads'))).toEqual([])
    const tokens = tokensOf(ocn, job.jobId)
    const followed = followToSettlement(ocn, job.jobId)
    const jobId = (await finalizedAtRequester(job.jobId, { timeoutMs: 110_000, followReoffers: true }))
      .id as Hex
    const greedy = await Promise.all(PROMPTS.map((p) => plainGreedy(gpt.model, p, NEW_TOKENS)))
    // the SDK's view: the follow ended by itself at settlement; the token stream yielded each
    // prompt's tokens, then the committed ones (a re-offered job's stream ended with the first)
    expect((await followed).at(-1)).toBe('finalized')
    let events = await tokens
    if (jobId !== job.jobId) events = await tokensOf(ocn, jobId)
    const live: number[][] = PROMPTS.map(() => [])
    for (const e of events)
      if (e.type === 'tokens') live[e.prompt]!.splice(e.from, e.tokens.length, ...e.tokens)
    expect(live).toEqual(greedy)
    expect(events.at(-1)).toEqual({ type: 'committed', tokens: greedy, verified: true, streamMismatches: [] })
    // its result file, downloaded with its hash checked, and the same bytes as a stream
    expect((await ocn.results(jobId)).files.map((f) => f.name)).toEqual(['generation.json'])
    const download = await ocn.download(jobId, 'generation.json')
    expect(download.verified).toBe(true)
    const opened = new Uint8Array(
      await new Response(await ocn.openResult(jobId, 'generation.json')).arrayBuffer(),
    )
    expect(opened).toEqual(download.bytes)
    // the provider streamed its tokens onto its job record (the API's event stream carries it)
    const provided = await node('provider').daemon.state.getJob(jobId)
    expect((provided?.detail as { generated?: number[][] } | undefined)?.generated).toEqual(greedy)
    for (const v of verifiers()) {
      const r = await privateSample(v, jobId, ['finalized'])
      expect(r).toMatchObject({ passed: true, leafCount: 16, committedLeafCount: 16, mismatches: [] })
    }
    const results = await waitFor("the requester's checked tokens", async () => {
      const r = await node('requester').daemon.state.getJob(jobId)
      return (
        r?.detail as { results?: { verified: boolean; leafCount: number; tokens?: number[][] } } | undefined
      )?.results
    })
    expect(results).toMatchObject({ verified: true, leafCount: 16, mismatchedLeaves: [] })
    expect(results.tokens).toEqual(greedy)
    // every token reached the requester while the job ran, before it was finalized, and the
    // streamed tokens are the committed ones (none flagged)
    unlisten()
    const final = await node('requester').daemon.state.getJob(jobId)
    const finalizedAt = final!.history.find((h) => h.state === 'finalized')!.at
    const mine = streamed.filter((e) => e.jobId === jobId)
    expect(mine.length).toBeGreaterThan(0)
    expect(Math.max(...mine.map((e) => e.at))).toBeLessThanOrEqual(finalizedAt)
    const received: number[][] = PROMPTS.map(() => [])
    for (const e of mine) received[e.prompt]!.splice(e.from, e.tokens.length, ...e.tokens)
    expect(received).toEqual(greedy)
    expect(results).toMatchObject({ streamMismatches: [] })
    expect((final?.detail as { streamed?: number[][] } | undefined)?.streamed).toEqual(greedy)
  }, 180_000)

  it('@ocn/client against the real requester: balances, stake and unstake to the wei, typed errors on bad input, cancellation', async () => {
    const ocn = createOcnClient({ url: node('requester').daemon.apiUrl! })
    const before = await ocn.balances()
    const staked = await ocn.stake(3n)
    expect(staked.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(staked.balances.staked).toBe(before.staked + 3n)
    expect(staked.balances.token).toBe(before.token - 3n)
    const unstaked = await ocn.unstake(3n)
    expect(unstaked.balances.staked).toBe(before.staked)
    expect(unstaked.balances.token).toBe(before.token - 3n)
    // refused before anything is sent
    await expect(ocn.job('../status')).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
    await expect(ocn.upload(new Uint8Array(1), '../model.onnx')).rejects.toBeInstanceOf(ClientError)
    await expect(ocn.stake(0n)).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })
    // refused by the node: an unknown upload, and a model the requester cannot load
    const unknown = await ocn
      .submit({ kind: 'inference', modelUpload: `up_${'0'.repeat(32)}`, inputsPath: fixture.inputsPath })
      .catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(NodeApiError)
    expect(unknown).toMatchObject({ code: 'API_BAD_REQUEST', status: 400 })
    const junk = await ocn.upload(new TextEncoder().encode('not onnx'), 'junk.onnx')
    const rejected = await ocn
      .submit({ kind: 'inference', modelUpload: junk.uploadId, inputsPath: fixture.inputsPath })
      .catch((e: unknown) => e)
    expect(rejected).toMatchObject({ code: 'API_JOB_REJECTED', status: 422 })
    expect((rejected as NodeApiError).reason).toMatch(/^[A-Z]+_[A-Z_]+$/)
    // cancellation: a follow that would never end, and an upload, stop at their signal
    const [settled] = await ocn.jobs({ role: 'requester', state: 'finalized', limit: 1 })
    const controller = new AbortController()
    const seen: string[] = []
    const following = (async () => {
      for await (const event of ocn.follow(settled!.id, { signal: controller.signal, until: () => false })) {
        seen.push(event.type)
        controller.abort()
      }
    })()
    await expect(following).rejects.toMatchObject({ code: 'CLIENT_ABORTED' })
    expect(seen).toEqual(['snapshot'])
    await expect(
      ocn.upload(new Uint8Array(8), 'model.onnx', { signal: AbortSignal.abort() }),
    ).rejects.toMatchObject({ code: 'CLIENT_ABORTED' })
  }, 60_000)

  it('forges generated tokens (consistent leaves and root): a sampled position fails the prefill check, challenged, convicted', async () => {
    const { decision } = await convicted(
      { fraction: 1 },
      {
        modelPath: gpt.modelPath,
        inputsPath: gpt.inputsPath,
        kind: 'inference',
        verification: 'replay',
        generate: { maxNewTokens: NEW_TOKENS },
      },
    )
    expect(decision.reason).toMatch(/not the one the sampling rule picks/)
  }, 240_000)

  it('answers ok without the leaves asked for: challenged on a withheld leaf, convicted', async () => {
    const { decision, reports } = await convicted(
      { fraction: 0, answer: 'withhold' },
      { ...fixture, kind: 'inference', verification: 'replay' },
    )
    for (const r of reports) {
      expect(r.passed).toBe(false)
      expect(r.mismatches.map((m) => m.reason)).toEqual(['not-served', 'not-served', 'not-served'])
    }
    expect(decision.reason).toMatch(/not proven against the committed root/)
  }, 240_000)

  it('serves only part of the leaves asked for: challenged on a missing one, convicted', async () => {
    const { decision, reports } = await convicted(
      { fraction: 0, answer: 'partial' },
      { ...fixture, kind: 'inference', verification: 'replay' },
    )
    for (const r of reports) {
      // 3 asked, the first one served (and correct), the other two not
      expect(r.mismatches.map((m) => m.reason)).toEqual(['not-served', 'not-served'])
      expect(r.mismatches.map((m) => m.index)).toEqual(r.checkedIndices.slice(1))
    }
    expect(reports[0]!.mismatches.map((m) => m.index)).toContain(decision.leafIndex)
    expect(decision.reason).toMatch(/not proven against the committed root/)
  }, 240_000)

  it('withholds its training checkpoints: no segment replays from them, challenged, convicted', async () => {
    const { decision, reports } = await convicted(
      { fraction: 0, answer: 'withhold-checkpoints' },
      {
        modelPath: fixture.modelPath,
        inputsPath: training.inputsPath,
        trainingSpecPath: training.trainingSpecPath,
        kind: 'training',
        verification: 'replay',
      },
    )
    for (const r of reports) {
      expect(r.leafCount).toBe(5)
      // every sampled segment after the seed's starts from a withheld checkpoint
      const failed = r.mismatches.filter((m) => m.reason === 'replay-failed').map((m) => m.index)
      expect(failed).toEqual(r.checkedIndices.filter((i) => i > 0))
    }
    expect(decision.leafIndex).toBeGreaterThan(0)
    expect(decision.reason).toMatch(/cannot start from the provider's checkpoint/)
  }, 240_000)

  it('answers leaves out of range, then malformed leaves: both count against it, convicted', async () => {
    for (const answer of ['out-of-range', 'malformed'] as const) {
      const { decision, reports } = await convicted(
        { fraction: 0, answer },
        { ...fixture, kind: 'inference', verification: 'replay' },
      )
      for (const r of reports) {
        expect(r.unserved).toMatch(/provider did not serve leaves/)
        expect(r.mismatches.every((m) => m.reason === 'not-served')).toBe(true)
        expect(r.mismatches).toHaveLength(MAX_SAMPLES)
      }
      expect(decision.reason).toMatch(/not served: provider did not serve the leaf/)
    }
  }, 480_000)

  /** What the chain's events paid `verifier`: challenger rewards + juror fees − juror penalties. */
  async function rewardsOnChain(verifier: Address): Promise<bigint> {
    const fromBlock = net.deployment.deployBlock
    const court = net.deployment.addresses.disputeCourt!
    const [convictions, paid, penalized] = await Promise.all([
      client().getContractEvents({
        address: market(),
        abi: jobMarketAbi,
        eventName: 'ProviderConvicted',
        args: { challenger: verifier },
        fromBlock,
      }),
      client().getContractEvents({
        address: court,
        abi: disputeCourtAbi,
        eventName: 'JurorPaid',
        args: { juror: verifier },
        fromBlock,
      }),
      client().getContractEvents({
        address: court,
        abi: disputeCourtAbi,
        eventName: 'JurorPenalized',
        args: { juror: verifier },
        fromBlock,
      }),
    ])
    const sum = (amounts: bigint[]) => amounts.reduce((total, amount) => total + amount, 0n)
    return (
      sum(convictions.map((e) => e.args.challengerReward!)) +
      sum(paid.map((e) => e.args.amount!)) -
      sum(penalized.map((e) => e.args.amount!))
    )
  }

  it('the console in Chromium: the requester uploads a generate job through the form, sees its tokens stream in and downloads the checked result, each bid shows the bidder record, the provider sees its earning, record, terms and unbonding, the verifier the conviction and its rewards; foreign requests are refused', async () => {
    cheat = { fraction: 0 }
    const url = (name: string) => node(name).daemon.apiUrl!
    await consoleInBrowser({
      requester: url('requester'),
      provider: url('provider'),
      verifier: url('verifier-a'),
      fixture,
      generate: {
        ...gpt,
        maxNewTokens: NEW_TOKENS,
        tokens: await Promise.all(PROMPTS.map((p) => plainGreedy(gpt.model, p, NEW_TOKENS))),
      },
      // what the JobMarket paid it (prices less the fee), as its record on chain sums it
      earned: async () =>
        (await getProviderRecord(client(), { jobMarket: market(), provider: node('provider').address }))
          .totalEarned,
      providerRecord: () =>
        getProviderRecord(client(), { jobMarket: market(), provider: node('provider').address }),
      providerUnbonding: async () =>
        (
          await getStake(client(), {
            stakeManager: net.deployment.addresses.stakeManager,
            account: node('provider').address,
          })
        ).unbonding,
      priceFloorPerSample: node('provider').config.provider.priceFloorPerSample,
      verifierRewards: () => rewardsOnChain(node('verifier-a').address),
    })
  }, 180_000)
})
