/**
 * The whole job lifecycle across real nodes: a requester, an honest and a cheating provider,
 * two verifiers (challengers and jurors of the DisputeCourt), each a daemon built by createNodeComponents, talking
 * libp2p over TCP on 127.0.0.1, settling on a real anvil with the real contracts, running
 * real ONNX Runtime. Balances are checked to the wei.
 */

import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCheatingFaultPlan } from '@ocn/cli'
import { createOcnClient } from '@ocn/client'
import { getJob, getJobDisputes, getProviderRecord, sweepTreasury } from '@ocn/contracts-client'
import {
  cpuReplayProfile,
  createStateStore,
  decodeSafetensors,
  type JobRecord,
  mergeLora,
  ortVersion,
  type RequesterRole,
  STATE_DIR_NAME,
  type VerificationReport,
} from '@ocn/node'
import { contentHashOf } from '@ocn/protocol'
import { decodeOnnxModel } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  convictionFlows,
  finalizedOncePassed,
  fundAndStake,
  increaseTime,
  jobIn,
  juryConviction,
  OPEN,
  removeDir,
  restartNode,
  startChain,
  startNodes,
  type TestNetwork,
  type TestNode,
  tempDir,
  tokenBalances,
  waitFor,
  walletFor,
  writeFinetuneFixture,
  writeFixture,
  writeTrainingFixture,
} from './helpers.js'

const REQUESTER = 1
const HONEST = 2
const CHEATER = 3
const VERIFIER = 4
const JUROR = 5
const TREASURY = 9
const NO_SHOW = 6
const NO_SHOW_BPS = 2_000n
const CHALLENGE_WINDOW = 10
const FEE_BPS = 250n

describe('job lifecycle (in-process nodes, anvil, ORT)', () => {
  let net: Omit<TestNetwork, 'wallet' | 'stop'> & { nodes: TestNode[] }
  let fixture: { modelPath: string; inputsPath: string }
  const node = (name: string) => net.nodes.find((n) => n.name === name)!
  const requester = () => node('requester').components.parts.roles.requester as RequesterRole
  /** The job finalized at the requester; the window's rest is skipped once both verifiers passed it. */
  const finalizedAtRequester = (jobId: string) =>
    finalizedOncePassed(net.chain, node('requester'), [node('verifier'), node('juror')], jobId, {
      windowSeconds: CHALLENGE_WINDOW,
    })

  beforeAll(async () => {
    const dir = await tempDir()
    const { chain, deployment } = await startChain({
      challengeWindow: CHALLENGE_WINDOW,
      treasuryIndex: TREASURY,
    })
    net = { chain, deployment, dir, nodes: [] }
    await fundAndStake(chain, deployment, REQUESTER, 100n * OPEN, 0n)
    await fundAndStake(chain, deployment, HONEST, 200n * OPEN, 100n * OPEN)
    await fundAndStake(chain, deployment, CHEATER, 200n * OPEN, 100n * OPEN)
    // verifier minimum, juror pool and a challenge's stake at risk
    await fundAndStake(chain, deployment, VERIFIER, 400n * OPEN, 300n * OPEN)
    await fundAndStake(chain, deployment, JUROR, 400n * OPEN, 300n * OPEN)
    fixture = await writeFixture(dir)
    net.nodes = await startNodes(chain, deployment, dir, [
      { name: 'juror', accountIndex: JUROR, roles: ['verifier'] },
      { name: 'verifier', accountIndex: VERIFIER, roles: ['verifier'] },
      {
        name: 'honest',
        accountIndex: HONEST,
        roles: ['provider'],
        configure: (c) => {
          c.provider.priceFloorPerSample = 2n * 10n ** 14n
        },
      },
      {
        name: 'cheater',
        accountIndex: CHEATER,
        roles: ['provider'],
        configure: (c) => {
          // the cheapest bid, so it wins the first job
          c.provider.priceFloorPerSample = 10n ** 14n
        },
        faults: createCheatingFaultPlan({ fraction: 0.25 }),
      },
      {
        name: 'requester',
        accountIndex: REQUESTER,
        roles: ['requester'],
        // its API serves the second job to @ocn/client, as an application would use it
        configure: (c) => {
          c.api = { ...c.api, enabled: true, port: 0 }
        },
      },
    ])
    // the verifiers learn provider peers from capability ads
    for (const name of ['verifier', 'juror'])
      await waitFor(`capability ads at the ${name}`, async () => {
        const ads = node(name).components.parts.network!.gossip.capabilityAds()
        return ads.length >= 2 ? ads : undefined
      })
  }, 240_000)

  afterAll(async () => {
    for (const n of [...(net?.nodes ?? [])].reverse()) await n.daemon.stop().catch(() => {})
    await net?.chain.stop()
    if (net?.dir) await removeDir(net.dir)
  })

  it('catches a cheating provider, then settles an honest job, every balance to the wei', async () => {
    const { chain, deployment } = net
    const addr = Object.fromEntries(net.nodes.map((n) => [n.name, n.address]))
    const treasury = chain.accounts[TREASURY]!.address
    const accounts = [addr.requester!, addr.honest!, addr.cheater!, addr.verifier!, addr.juror!, treasury]
    const before = await tokenBalances(chain, deployment, accounts)

    // --- job 1: the cheater bids lowest and wins; the verifier catches it
    const job1 = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    // a loaded machine can miss the bidding window: the job is then offered again under a new id
    const awarded1 = await jobIn(
      node('requester'),
      job1.jobId,
      ['awarded', 'committed', 'challenged', 'slashed'],
      { followReoffers: true },
    )
    const id1 = awarded1.id
    expect(awarded1.provider).toBe(addr.cheater)
    const slashedAtRequester = await jobIn(node('requester'), id1, ['slashed'])
    expect(slashedAtRequester.history.map((h) => h.state)).toEqual(
      expect.arrayContaining(['offered', 'bidding', 'awarded', 'committed', 'challenged', 'slashed']),
    )
    const verifierJob1 = await jobIn(node('verifier'), id1, ['slashed'])
    const report1 = (verifierJob1.detail as { report: VerificationReport }).report
    expect(report1.passed).toBe(false)
    expect(report1.mismatches.some((m) => m.reason === 'different-result')).toBe(true)
    expect(report1.detectionProbability).toBeGreaterThan(0.9)
    await jobIn(node('cheater'), id1, ['slashed'])
    // a jury of one verifier (never the challenger) re-executed the leaf and voted guilty
    const conviction = await juryConviction(chain, deployment, id1 as `0x${string}`)
    expect(conviction.jurors).toHaveLength(1)
    expect(conviction.jurors[0]!.vote).toBe(1)
    expect(conviction.jurors[0]!.address).not.toBe(conviction.challenger)
    const onChain1 = await getJob(walletFor(chain, chain.privateKeys[0]!), {
      jobMarket: deployment.addresses.jobMarket,
      jobId: id1 as `0x${string}`,
    })
    expect(onChain1.status).toBe('providerSlashed')
    const collateral1 = onChain1.collateral
    const price1 = onChain1.price

    // --- job 2: the cheater's record now prices it out; the honest provider wins and is paid
    const job2 = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    const awarded2 = await jobIn(node('requester'), job2.jobId, ['awarded', 'committed', 'finalized'], {
      followReoffers: true,
    })
    const id2 = awarded2.id
    expect(awarded2.provider).toBe(addr.honest)
    const finalized = await finalizedAtRequester(id2)
    await waitFor('results checked by the requester', async () => {
      const job = await node('requester').daemon.state.getJob(id2)
      return (job?.detail as { results?: unknown } | undefined)?.results
    })
    const results = (
      (await node('requester').daemon.state.getJob(id2))!.detail as {
        results: { verified: boolean; leafCount: number }
      }
    ).results
    expect(results).toMatchObject({ verified: true, leafCount: 16 })
    // what `GET /jobs/:id/results` serves: the outputs file, streamed from the artifact store
    const listed = await requester().jobResults!(id2)
    expect(listed?.files.map((f) => f.name)).toEqual(['outputs.safetensors'])
    const chunks: Uint8Array[] = []
    for await (const chunk of (await requester().openJobResult!(id2, 'outputs.safetensors'))!)
      chunks.push(chunk)
    expect(contentHashOf(Buffer.concat(chunks))).toBe(listed!.files[0]!.hash)
    // the same job through @ocn/client on the requester's API, as an application reads it: following
    // a settled job yields its record once and ends; the file comes hash-checked
    const ocn = createOcnClient({ url: node('requester').daemon.apiUrl! })
    const followed: string[] = []
    for await (const event of ocn.follow(id2, { signal: AbortSignal.timeout(30_000) }))
      followed.push(event.job.state)
    expect(followed).toEqual(['finalized'])
    const downloaded = await ocn.download(id2, 'outputs.safetensors')
    expect(downloaded).toMatchObject({ verified: true, hash: listed!.files[0]!.hash })
    const verifierJob2 = await jobIn(node('verifier'), id2, ['finalized'])
    const report2 = (verifierJob2.detail as { report: VerificationReport }).report
    expect(report2.passed).toBe(true)
    expect(report2.checkedIndices.length).toBe(report2.samples)
    expect(verifierJob2.history.map((h) => h.state)).not.toContain('challenged')
    await jobIn(node('honest'), id2, ['finalized'])
    // nobody disputed the honest job
    expect(
      await getJobDisputes(walletFor(chain, chain.privateKeys[0]!), {
        disputeCourt: deployment.addresses.disputeCourt!,
        jobId: id2 as `0x${string}`,
      }),
    ).toHaveLength(0)
    const price2 = finalized.price!

    // --- money, to the wei
    const deployer = walletFor(chain, chain.privateKeys[0]!)
    await sweepTreasury(deployer, { jobMarket: deployment.addresses.jobMarket })
    const after = await tokenBalances(chain, deployment, accounts)
    const fee2 = (price2 * FEE_BPS) / 10_000n
    const penalty = collateral1 // cheatSlashBps is 100%
    expect(conviction.penalty).toBe(penalty)
    expect(conviction.challengerReward).toBe(penalty / 2n) // challengerRewardBps 50%
    const flows = convictionFlows(conviction, [addr.verifier!, addr.juror!])
    expect(price1).toBeGreaterThan(0n)
    // requester: job 1 refunded in full, job 2 paid
    expect(after[addr.requester!]!.token).toBe(before[addr.requester!]!.token - price2)
    expect((await ocn.balances()).token).toBe(after[addr.requester!]!.token)
    // honest provider: price minus fee, collateral unlocked, stake intact
    expect(after[addr.honest!]!.token).toBe(before[addr.honest!]!.token + price2 - fee2)
    expect(after[addr.honest!]!.staked).toBe(before[addr.honest!]!.staked)
    expect(after[addr.honest!]!.locked).toBe(0n)
    // cheater: collateral slashed from its stake, nothing earned
    expect(after[addr.cheater!]!.token).toBe(before[addr.cheater!]!.token)
    expect(after[addr.cheater!]!.staked).toBe(before[addr.cheater!]!.staked - penalty)
    expect(after[addr.cheater!]!.locked).toBe(0n)
    // verifiers: bonds back; the convicting challenger's reward and the coherent jurors' shares
    for (const v of [addr.verifier!, addr.juror!]) {
      expect(after[v]!.token).toBe(before[v]!.token + flows.verifier[v]!.token)
      expect(after[v]!.staked).toBe(before[v]!.staked + flows.verifier[v]!.staked)
    }
    // treasury: the fee of job 2 and the rest of the slash
    expect(after[treasury]!.token).toBe(before[treasury]!.token + fee2 + flows.treasury)

    const records = {
      cheater: await getProviderRecord(deployer, {
        jobMarket: deployment.addresses.jobMarket,
        provider: addr.cheater!,
      }),
      honest: await getProviderRecord(deployer, {
        jobMarket: deployment.addresses.jobMarket,
        provider: addr.honest!,
      }),
    }
    expect(records.cheater).toMatchObject({ completed: 0, slashed: 1 })
    expect(records.honest).toMatchObject({ completed: 1, slashed: 0, totalEarned: price2 - fee2 })
  }, 240_000)

  it('a no-show provider: the job expires, the requester is refunded, the no-show slashed, the re-offer completes elsewhere', async () => {
    const { chain, deployment } = net
    await fundAndStake(chain, deployment, NO_SHOW, 200n * OPEN, 100n * OPEN)
    const [noShow] = await startNodes(
      chain,
      deployment,
      net.dir,
      [
        {
          name: 'no-show',
          accountIndex: NO_SHOW,
          roles: ['provider'],
          configure: (c) => {
            c.provider.priceFloorPerSample = 5n * 10n ** 13n
            // a stranger's lower price alone does not beat the honest provider's record (the
            // requester ranks by expected cost): the collateral it puts up (3.2 OPEN, over three
            // times the minimum) ranks it first
            c.provider.collateral.priceMultiple = 1_000
          },
        },
      ],
      net.nodes,
    )
    net.nodes.push(noShow!)
    const treasury = chain.accounts[TREASURY]!.address
    const addr = Object.fromEntries(net.nodes.map((n) => [n.name, n.address]))
    const accounts = [addr.requester!, addr['no-show']!, addr.honest!, treasury]
    const before = await tokenBalances(chain, deployment, accounts)

    const job = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    // the no-show bids (lowest) and then goes away before the award
    await jobIn(noShow!, job.jobId, ['bidding'])
    await noShow!.daemon.stop()
    const awarded = await jobIn(node('requester'), job.jobId, ['awarded'])
    expect(awarded.provider).toBe(addr['no-show'])
    const onChain = await getJob(walletFor(chain, chain.privateKeys[0]!), {
      jobMarket: deployment.addresses.jobMarket,
      jobId: job.jobId as `0x${string}`,
    })
    // past the commit deadline: the requester expires the job itself
    await increaseTime(chain, 400)
    const expired = await jobIn(node('requester'), job.jobId, ['expired'])
    expect(expired.history.at(-1)?.note).toMatch(/refunded/)

    // the requester offers the dead job again on its own; reoffer() by hand answers with that offer
    const again = await requester().reoffer(job.jobId)
    expect(again.jobId).not.toBe(job.jobId)
    const awardedAgain = await jobIn(node('requester'), again.jobId, ['awarded', 'committed', 'finalized'])
    expect(awardedAgain.provider).toBe(addr.honest)
    expect(awardedAgain.attempts).toBe(2)
    const done = await finalizedAtRequester(again.jobId)

    const deployer = walletFor(chain, chain.privateKeys[0]!)
    await sweepTreasury(deployer, { jobMarket: deployment.addresses.jobMarket })
    const after = await tokenBalances(chain, deployment, accounts)
    const penalty = (onChain.collateral * NO_SHOW_BPS) / 10_000n
    const fee = (done.price! * FEE_BPS) / 10_000n
    // refunded for the expired job, paid for the completed one
    expect(after[addr.requester!]!.token).toBe(before[addr.requester!]!.token - done.price!)
    expect(after[addr['no-show']!]!.staked).toBe(before[addr['no-show']!]!.staked - penalty)
    expect(after[addr['no-show']!]!.locked).toBe(0n)
    expect(after[addr.honest!]!.token).toBe(before[addr.honest!]!.token + done.price! - fee)
    expect(after[treasury]!.token).toBe(before[treasury]!.token + penalty + fee)
    const record = await getProviderRecord(deployer, {
      jobMarket: deployment.addresses.jobMarket,
      provider: addr['no-show']!,
    })
    expect(record).toMatchObject({ completed: 0, noShows: 1 })
  }, 240_000)

  it('restarts: a requester stopped between bids and award, a provider stopped between bid and commit, both resume', async () => {
    const requesterNode = node('requester')
    const honest = node('honest')
    requesterNode.config.requester.biddingWindowMs = 4_000
    const job = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
    await waitFor('the honest bid at the requester', async () => {
      const bids = await requesterNode.daemon.state.listBids(job.jobId)
      return bids.find((b) => b.provider === honest.address)
    })
    await requesterNode.daemon.stop()
    await honest.daemon.stop()
    // stopped inside the bidding window: read its store on disk, nothing is awarded yet
    const onDisk = createStateStore({ path: join(requesterNode.config.dataDir, STATE_DIR_NAME) })
    await onDisk.open()
    const stored = await onDisk.getJob(job.jobId)
    await onDisk.close()
    expect(stored?.state).toBe('bidding')
    await restartNode(requesterNode, net.nodes)
    const awarded = await jobIn(requesterNode, job.jobId, ['awarded'])
    expect(awarded.provider).toBe(honest.address)
    await restartNode(honest, net.nodes)
    const done = await finalizedAtRequester(job.jobId)
    expect(done.history.filter((h) => h.state === 'awarded')).toHaveLength(1)
    await jobIn(honest, job.jobId, ['finalized'])
    await waitFor('results checked after the restarts', async () => {
      const record = await requesterNode.daemon.state.getJob(job.jobId)
      return (record?.detail as { results?: { verified: boolean } } | undefined)?.results
    })
    const results = (
      (await requesterNode.daemon.state.getJob(job.jobId))!.detail as {
        results: { verified: boolean }
      }
    ).results
    expect(results.verified).toBe(true)
  }, 240_000)

  it("a bid whose receipt is lost on the way back is still honoured: the requester's award is executed, not left to expire", async () => {
    const honest = node('honest')
    const bids = honest.components.parts.network!.bids
    const send = bids.sendBid
    // the requester reads the bid and awards it, but its answer never arrives (a stream reset,
    // a requester killed after storing it): a provider that closed its record would no-show
    bids.sendBid = async (peer, bid, options) => {
      await send(peer, bid, options)
      throw new Error('the bid receipt was lost')
    }
    try {
      const job = await requester().submitJob({ ...fixture, kind: 'inference', verification: 'replay' })
      // before: the record closed as `failed` ('bid refused: not delivered') and the award was ignored
      const awarded = await jobIn(node('requester'), job.jobId, ['awarded', 'committed', 'finalized'])
      expect(awarded.provider).toBe(honest.address)
      await finalizedAtRequester(job.jobId)
      const done = await jobIn(honest, job.jobId, ['finalized'])
      expect(done.history.map((h) => h.state)).toEqual(
        expect.arrayContaining(['bidding', 'awarded', 'committed', 'finalized']),
      )
    } finally {
      bids.sendBid = send
    }
  }, 240_000)

  it('a training job: trained, committed as a checkpoint chain, spot-checked by segment replay, finalized', async () => {
    const { chain, deployment } = net
    const training = await writeTrainingFixture(net.dir)
    const honest = node('honest')
    const requesterNode = node('requester')
    const treasury = chain.accounts[TREASURY]!.address
    const accounts = [requesterNode.address, honest.address, treasury]
    // fees of earlier jobs go out first, so the treasury delta is this job's alone
    await sweepTreasury(walletFor(chain, chain.privateKeys[0]!), {
      jobMarket: deployment.addresses.jobMarket,
    })
    const before = await tokenBalances(chain, deployment, accounts)
    const job = await requester().submitJob({
      modelPath: fixture.modelPath,
      inputsPath: training.inputsPath,
      trainingSpecPath: training.trainingSpecPath,
      kind: 'training',
      verification: 'replay',
    })
    const awarded = await jobIn(requesterNode, job.jobId, ['awarded', 'committed', 'finalized'])
    expect(awarded.kind).toBe('training')
    expect(awarded.provider).toBe(honest.address)
    const done = await finalizedAtRequester(job.jobId)
    const results = await waitFor('the trained model at the requester', async () => {
      const record = await requesterNode.daemon.state.getJob(job.jobId)
      return (
        record?.detail as
          | { results?: { verified: boolean; leafCount: number; modelHash?: string } }
          | undefined
      )?.results
    })
    // 2 epochs x 4 steps, a checkpoint every 2 steps: checkpoints 0, 2, 4, 6, 8
    expect(results).toMatchObject({ verified: true, leafCount: 5 })
    expect(await requesterNode.components.parts.store!.has(results.modelHash as `0x${string}`)).toBe(true)
    const files = await requester().jobResults!(job.jobId)
    expect(files?.files.map((f) => f.name)).toEqual(['model.onnx', 'training-manifest.json'])
    const verified = await jobIn(node('verifier'), job.jobId, ['finalized'])
    const report = (verified.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(true)
    expect(report.leafCount).toBe(5)
    expect(report.checkedIndices.length).toBeGreaterThan(0)

    const deployer = walletFor(chain, chain.privateKeys[0]!)
    await sweepTreasury(deployer, { jobMarket: deployment.addresses.jobMarket })
    const after = await tokenBalances(chain, deployment, accounts)
    const fee = (done.price! * FEE_BPS) / 10_000n
    expect(after[requesterNode.address]!.token).toBe(before[requesterNode.address]!.token - done.price!)
    expect(after[honest.address]!.token).toBe(before[honest.address]!.token + done.price! - fee)
    expect(after[treasury]!.token).toBe(before[treasury]!.token + fee)
  }, 240_000)

  it('a LoRA fine-tuning job on a pretrained model: bid on, trained, spot-checked, finalized; merge-lora folds the adapters in', async () => {
    const tune = await writeFinetuneFixture(net.dir)
    const requesterNode = node('requester')
    const job = await requester().submitJob({
      modelPath: tune.modelPath,
      inputsPath: tune.inputsPath,
      trainingSpecPath: tune.loraSpecPath,
      kind: 'training',
      verification: 'replay',
    })
    const done = await finalizedAtRequester(job.jobId)
    expect(done.provider).toBe(node('honest').address)
    const results = await waitFor('the adapters at the requester', async () => {
      const record = await requesterNode.daemon.state.getJob(job.jobId)
      return (record?.detail as { results?: { verified: boolean; leafCount: number } } | undefined)?.results
    })
    // 2 epochs x 4 steps, a checkpoint every 2 steps: checkpoints 0, 2, 4, 6, 8
    expect(results).toMatchObject({ verified: true, leafCount: 5 })
    const files = await requester().jobResults!(job.jobId)
    expect(files?.files.map((f) => f.name)).toEqual(['adapters.safetensors', 'training-manifest.json'])
    const report = (
      (await jobIn(node('verifier'), job.jobId, ['finalized'])).detail as { report: VerificationReport }
    ).report
    expect(report).toMatchObject({ passed: true, leafCount: 5 })
    expect(report.checkedIndices.length).toBeGreaterThan(0)

    const adapters = await readAll(requester().openJobResult!(job.jobId, 'adapters.safetensors'))
    const base = new Uint8Array(await readFile(tune.modelPath))
    const merged = mergeLora(base, adapters)
    expect(merged.weights.sort()).toEqual(['layer0.weight', 'layer1.weight'])
    // the merged model computes the base network with W + (alpha/rank) A B in every adapted layer
    const { tensors } = decodeSafetensors(adapters)
    const layers = tune.mlp.layers.map((l, i) => {
      const a = floats(tensors[`layer${i}.weight.lora_A`]!.data)
      const b = floats(tensors[`layer${i}.weight.lora_B`]!.data)
      const weight = Float64Array.from(l.weight, (w, at) => {
        const [r, o] = [Math.floor(at / l.outFeatures), at % l.outFeatures]
        return w + 2 * (a[2 * r]! * b[o]! + a[2 * r + 1]! * b[l.outFeatures + o]!)
      })
      return { ...l, weight }
    })
    // the requester's own executor (real ONNX Runtime) runs the merged model on the dataset
    const x = decodeSafetensors(new Uint8Array(await readFile(tune.inputsPath))).tensors.x!
    const run = await requesterNode.components.parts.executor!.runInference({
      spec: { kind: 'inference', profile: cpuReplayProfile(ortVersion(), 64) },
      model: merged.model,
      inputs: { input: x },
    })
    const got = new Float32Array(run.outputs!.output!.data.slice().buffer)
    const rows = x.dims[0]!
    const expected = forward(layers, floats(x.data), rows)
    expect(got.length).toBe(expected.length)
    for (let i = 0; i < expected.length; i++) expect(got[i]!).toBeCloseTo(expected[i]!, 4)
    // the job trained something: the merged network is not the base one
    const baseOut = forward(tune.mlp.layers, floats(x.data), rows)
    expect(baseOut.some((v, i) => Math.abs(v - expected[i]!) > 1e-3)).toBe(true)
  }, 240_000)

  it('a head on a frozen backbone: the pretrained hidden layer feeds a trained head, spot-checked, finalized', async () => {
    const tune = await writeFinetuneFixture(net.dir)
    const requesterNode = node('requester')
    const job = await requester().submitJob({
      modelPath: tune.modelPath,
      inputsPath: tune.inputsPath,
      trainingSpecPath: tune.headSpecPath,
      kind: 'training',
      verification: 'replay',
    })
    const done = await finalizedAtRequester(job.jobId)
    expect(done.provider).toBe(node('honest').address)
    const results = await waitFor('the head model at the requester', async () => {
      const record = await requesterNode.daemon.state.getJob(job.jobId)
      return (record?.detail as { results?: { verified: boolean; leafCount: number } } | undefined)?.results
    })
    expect(results).toMatchObject({ verified: true, leafCount: 5 })
    const files = await requester().jobResults!(job.jobId)
    expect(files?.files.map((f) => f.name)).toEqual(['model.onnx', 'training-manifest.json'])
    const report = (
      (await jobIn(node('verifier'), job.jobId, ['finalized'])).detail as { report: VerificationReport }
    ).report
    expect(report).toMatchObject({ passed: true, leafCount: 5 })

    // the result is the frozen backbone (the base model's first layer, bit for bit) and the head
    const model = await readAll(requester().openJobResult!(job.jobId, 'model.onnx'))
    const base = decodeOnnxModel(new Uint8Array(await readFile(tune.modelPath)))
    const tuned = decodeOnnxModel(model)
    for (const name of ['layer0.weight', 'layer0.bias']) {
      const init = (m: typeof base) => m.graph.initializers.find((t) => t.name === name)?.data
      expect(init(tuned)).toEqual(init(base))
    }
    expect(tuned.graph.initializers.some((t) => t.name === 'layer1.weight')).toBe(false)
    const x = decodeSafetensors(new Uint8Array(await readFile(tune.inputsPath))).tensors.x!
    const run = await requesterNode.components.parts.executor!.runInference({
      spec: { kind: 'inference', profile: cpuReplayProfile(ortVersion(), 64) },
      model,
      inputs: { input: x },
    })
    expect(run.outputs!.output!.dims).toEqual([64, 3])
  }, 240_000)

  it('a cheating provider on a training job: a segment replay catches a faked checkpoint', async () => {
    const training = await writeTrainingFixture(net.dir)
    const honest = node('honest')
    const cheater = node('cheater')
    // the honest provider is away, so the cheater is the only bidder
    await honest.daemon.stop()
    const job = await requester().submitJob({
      modelPath: fixture.modelPath,
      inputsPath: training.inputsPath,
      trainingSpecPath: training.trainingSpecPath,
      kind: 'training',
      verification: 'replay',
    })
    const awarded = await jobIn(node('requester'), job.jobId, [
      'awarded',
      'committed',
      'challenged',
      'slashed',
    ])
    expect(awarded.provider).toBe(cheater.address)
    await jobIn(node('requester'), job.jobId, ['slashed'])
    const checked = await jobIn(node('verifier'), job.jobId, ['slashed'])
    const report = (checked.detail as { report: VerificationReport }).report
    expect(report.passed).toBe(false)
    expect(report.mismatches.some((m) => m.reason === 'different-result')).toBe(true)
    const conviction = await juryConviction(net.chain, net.deployment, job.jobId as `0x${string}`)
    expect(conviction.jurors.map((j) => j.vote)).toEqual([1])
    await restartNode(honest, net.nodes)
  }, 240_000)

  it('bad input to submitJob and reoffer: typed errors, nothing recorded', async () => {
    const requesterNode = node('requester')
    const training = await writeTrainingFixture(net.dir)
    const jobsBefore = (await requesterNode.daemon.state.listJobs({ role: 'requester' })).length
    const submit = (params: Partial<Parameters<RequesterRole['submitJob']>[0]>) =>
      requester()
        .submitJob({ ...fixture, kind: 'inference', verification: 'replay', ...params })
        .then(
          () => 'submitted',
          (err: { code?: string }) => err.code,
        )
    expect(await submit({ modelPath: join(net.dir, 'missing.onnx') })).toBe('ROLE_FILE_UNREADABLE')
    expect(await submit({ inputsPath: join(net.dir, 'missing.safetensors') })).toBe('ROLE_FILE_UNREADABLE')
    // the blobs dataset does not feed the MLP's `input`
    expect(await submit({ inputsPath: training.inputsPath })).toBe('ROLE_INPUT_MISMATCH')
    expect(await submit({ maxPrice: 10n ** 30n })).toBe('ROLE_INSUFFICIENT_BALANCE')
    expect(await submit({ verification: 'zk' })).toBe('ROLE_NOT_SUPPORTED')
    expect(await submit({ kind: 'training' })).toBe('ROLE_INVALID_PARAMS')
    expect(await submit({ microBatchSize: 0 })).toBe('ROLE_INVALID_PARAMS')
    const reoffer = (jobId: string) =>
      requester()
        .reoffer(jobId)
        .then(
          () => 'reoffered',
          (err: { code?: string }) => err.code,
        )
    expect(await reoffer(`0x${'ab'.repeat(32)}`)).toBe('ROLE_UNKNOWN_JOB')
    const finalized = (
      await requesterNode.daemon.state.listJobs({ role: 'requester', state: 'finalized' })
    )[0]!
    expect(await reoffer(finalized.id)).toBe('ROLE_JOB_STATE')
    expect((await requesterNode.daemon.state.listJobs({ role: 'requester' })).length).toBe(jobsBefore)
  })

  it('no usable bid: the requester offers the job again on its own, up to requester.noBidReoffers times', async () => {
    const requesterNode = node('requester')
    const { noBidReoffers, noBidReofferDelayMs } = requesterNode.config.requester
    requesterNode.config.requester.noBidReoffers = 2
    requesterNode.config.requester.noBidReofferDelayMs = 200
    try {
      // 1 wei buys no provider's work: every round closes without a bid
      const { jobId } = await requester().submitJob({
        ...fixture,
        kind: 'inference',
        verification: 'replay',
        maxPrice: 1n,
      })
      const chain: JobRecord[] = []
      let id: string | undefined = jobId
      while (id !== undefined) {
        const current: string = id
        const failed = await jobIn(requesterNode, current, ['failed'])
        // the link to the next offer is written right after the re-offer is published
        const settled = await waitFor(`job ${current.slice(0, 10)} linked or final`, async () => {
          const record = await requesterNode.daemon.state.getJob(current)
          const next = (record?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
          if (next !== undefined) return record
          return record?.history.at(-1)?.note === 'no usable bid' ? record : undefined
        })
        chain.push(settled ?? failed)
        id = (settled?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
      }
      // the first submission and two re-offers, each a new offer (new id) of the same work
      expect(chain.map((j) => j.attempts)).toEqual([1, 2, 3])
      expect(new Set(chain.map((j) => j.id)).size).toBe(3)
      expect(new Set(chain.map((j) => `${j.modelHash}:${j.inputHash}`)).size).toBe(1)
      expect(
        chain.slice(0, 2).every((j) => j.history.at(-1)?.note?.startsWith('no usable bid; re-offered')),
      ).toBe(true)
      expect(chain.slice(1).map((j) => (j.detail as { reofferOf?: string }).reofferOf)).toEqual(
        chain.slice(0, 2).map((j) => j.id),
      )
      // nothing more is offered after the last round
      await new Promise((r) => setTimeout(r, 1_000))
      const offers = (await requesterNode.daemon.state.listJobs({ role: 'requester' })).filter(
        (j) => j.maxPrice === 1n,
      )
      expect(offers).toHaveLength(3)
      // a crash between publishing a re-offer and linking it: the first job forgets its link,
      // and offering it again finds the published re-offer instead of a second one
      const first = chain[0]!
      const linked = (await requesterNode.daemon.state.requireJob(first.id)).detail
      if (linked?.role !== 'requester') throw new Error('the first job lost its requester detail')
      const { reofferedAs: _link, ...unlinked } = linked
      await requesterNode.daemon.state.updateJob(first.id, { detail: unlinked })
      expect(await requester().reoffer(first.id)).toEqual({ jobId: chain[1]!.id })
      const again = (await requesterNode.daemon.state.listJobs({ role: 'requester' })).filter(
        (j) => j.maxPrice === 1n,
      )
      expect(again).toHaveLength(3)
    } finally {
      requesterNode.config.requester.noBidReoffers = noBidReoffers
      requesterNode.config.requester.noBidReofferDelayMs = noBidReofferDelayMs
    }
  }, 120_000)
})

const floats = (bytes: Uint8Array) => new Float32Array(bytes.slice().buffer)

async function readAll(
  source: Promise<AsyncIterable<Uint8Array> | undefined> | undefined,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of (await source)!) chunks.push(chunk)
  // a copy: Buffer.concat may hand back a view into Node's shared pool, whose .buffer is not the file
  return new Uint8Array(Buffer.concat(chunks))
}

/** float64 forward of a dense tanh/linear network, [rows, out] row-major: the reference for the merged model. */
function forward(
  layers: {
    inFeatures: number
    outFeatures: number
    weight: ArrayLike<number>
    bias: ArrayLike<number>
    activation: string
  }[],
  x: ArrayLike<number>,
  rows: number,
): number[] {
  let h = Array.from(x)
  for (const l of layers) {
    const out: number[] = []
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < l.outFeatures; o++) {
        let z = l.bias[o]!
        for (let i = 0; i < l.inFeatures; i++)
          z += h[r * l.inFeatures + i]! * l.weight[i * l.outFeatures + o]!
        out.push(l.activation === 'tanh' ? Math.tanh(z) : z)
      }
    }
    h = out
  }
  return h
}
