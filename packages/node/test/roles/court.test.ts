/**
 * The verifier's court parts against a real anvil with the real contracts: the sealed
 * challenge survives a crash at each step (salt written but nothing sent; commitment mined but
 * not recorded; the reveal deadline missed), and the keeper drives a dispute from draw to
 * execution while a juror votes, ending with the provider convicted to the wei.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  approveToken,
  award,
  CourtPhase,
  CourtVote,
  challengeCommitment,
  commitChallenge,
  commitResult,
  commitVote,
  concedeChallenge,
  type Deployment,
  type DevChain,
  defaultCourtParameters,
  defaultMarketParameters,
  deployProtocol,
  finalize,
  getCourtDispute,
  getJob,
  getJobDisputes,
  getJuror,
  getStake,
  getTokenBalance,
  joinJury,
  revealVote,
  stake,
  startDevChain,
  transferToken,
  voteCommitment,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { contentHashOf } from '@ocn/protocol'
import { type Account, type Address, type Hex, keccak256, parseEther, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainService, type OcnChainService } from '../../src/chain/index.js'
import { createSilentLogger } from '../../src/core/logger.js'
import { sleep } from '../../src/core/time.js'
import { createRoleMetrics } from '../../src/roles/metrics.js'
import {
  advanceChallenge,
  disputedByOthers,
  REVEAL_MARGIN_SECONDS,
  randomSalt,
} from '../../src/roles/verifier/challenge.js'
import type { CourtContext } from '../../src/roles/verifier/context.js'
import { keepDispute } from '../../src/roles/verifier/keeper.js'
import { createStateStore, type StateStore, verifierDetail } from '../../src/state/index.js'
import { signedReplayAward, type Wallet, walletOn } from './market-jobs.js'

const e = parseEther
const COLLATERAL = e('100')
const PRICE = e('10')
const REVEAL_PERIOD = 20

let dir: string
let chain: DevChain
let deployment: Deployment
let deploymentFile: string
let admin: Wallet
let requester: Wallet
let provider: Wallet
let juror: Wallet
let verifierAccount: Account
let salt = 0n

const wallet = (account: Account): Wallet => walletOn(chain, account)

/** Runs the keeper on the dispute until it takes `step` (a few blocks at most). */
async function keeperTakes(ctx: CourtContext, disputeId: bigint, step: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const taken = await keepDispute(ctx, disputeId)
    if (taken === step) return
    expect(taken).toBe('waiting')
    await sleep(500, undefined, () => new Error('stopped'))
  }
  throw new Error(`the keeper never took ${step}`)
}

async function advance(seconds: number): Promise<void> {
  await admin.request({ method: 'evm_increaseTime' as 'eth_chainId', params: [seconds] as never })
  await admin.request({ method: 'evm_mine' as 'eth_chainId' })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-roles-court-'))
  // each setup transaction is mined at once; the tests then run on a block a second (below)
  chain = await startDevChain()
  const [a0, a1, a2, a3, a4] = chain.accounts
  admin = wallet(a0!)
  requester = wallet(a1!)
  provider = wallet(a2!)
  verifierAccount = a3!
  juror = wallet(a4!)
  deployment = await deployProtocol(admin, {
    court: { jurySize: 1, maxRounds: 1, drawDelay: 1, revealPeriod: REVEAL_PERIOD, appealPeriod: 5 },
  })
  deploymentFile = join(dir, 'deployment.json')
  await writeDeploymentFile(deploymentFile, deployment)
  const { token, stakeManager, jobMarket } = deployment.addresses
  for (const w of [requester, provider, wallet(verifierAccount), juror])
    await transferToken(admin, { token, to: w.account.address, amount: e('10000') })
  for (const w of [provider, wallet(verifierAccount), juror]) {
    await approveToken(w, { token, spender: stakeManager, amount: e('1000') })
    await stake(w, { stakeManager, amount: e('1000') })
  }
  await joinJury(juror, { disputeCourt: deployment.addresses.disputeCourt!, amount: e('100') })
  await approveToken(requester, { token, spender: jobMarket, amount: e('10000') })
  // blocks keep coming (the reveal waits for a block after the commitment)
  await admin.request({ method: 'evm_setIntervalMining' as 'eth_chainId', params: [1] as never })
}, 120_000)

afterAll(async () => {
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A committed replay job of 4 leaves. */
async function committedJob(): Promise<Hex> {
  const { jobMarket } = deployment.addresses
  salt += 1n
  const { offer, bid, signature } = await signedReplayAward({
    requester,
    provider,
    jobMarket,
    salt,
    price: PRICE,
    collateral: COLLATERAL,
    leaves: 4,
  })
  const { jobId } = await award(requester, { jobMarket, offer, bid, signature })
  await commitResult(provider, { jobMarket, jobId, resultRoot: keccak256(toHex('root')), leafCount: 4 })
  return jobId
}

/** A verifier's court parts over a fresh chain service on `state`: what a restarted node has. */
async function courtContext(state: StateStore): Promise<{ ctx: CourtContext; service: OcnChainService }> {
  const init = {
    rpcUrl: chain.rpcUrl,
    account: verifierAccount,
    deploymentFile,
    confirmations: 0,
    pollIntervalMs: 50,
  }
  const service = createChainService(init, { state, logger: createSilentLogger() })
  await service.start()
  const ctx: CourtContext = {
    components: { chain: service, state },
    metrics: createRoleMetrics(undefined),
    log: createSilentLogger(),
    me: verifierAccount.address.toLowerCase(),
    market: () => deployment.addresses.jobMarket,
    court: () => deployment.addresses.disputeCourt!,
    pause: (ms) => sleep(ms, undefined, () => new Error('stopped')),
  }
  return { ctx, service }
}

/** The verifier's record of a committed job, with its sealed challenge of leaf 2 (salt only). */
async function recordWithSealedChallenge(state: StateStore, jobId: Hex, sealSalt: Hex) {
  const job = await getJob(admin, { jobMarket: deployment.addresses.jobMarket, jobId })
  await state.createJob({
    id: jobId,
    role: 'verifier',
    state: 'committed',
    kind: 'inference',
    verification: 'replay',
    modelHash: contentHashOf(new Uint8Array([1])),
    inputHash: contentHashOf(new Uint8Array([2])),
    requester: job.requester,
    provider: job.provider,
    price: job.price,
    collateral: job.collateral,
    detail: {
      role: 'verifier',
      award: {
        jobId,
        requester: job.requester,
        provider: job.provider,
        price: job.price,
        collateral: job.collateral,
        modelHash: contentHashOf(new Uint8Array([1])),
        inputHash: contentHashOf(new Uint8Array([2])),
        specHash: contentHashOf(new Uint8Array([3])),
        kind: 0,
        verification: 0,
        deadline: 0n,
        sampleCount: 4,
        microBatchSize: 1,
        blockNumber: 0n,
      },
      challenge: { index: 2, replayed: keccak256(toHex('replayed')), salt: sealSalt },
    },
  })
}

async function openState(name: string): Promise<StateStore> {
  const state = createStateStore({ path: join(dir, name) })
  await state.open()
  return state
}

/** The verifier's sealed commitment of leaf 2, sent straight to the court (a commit the node did not record). */
async function commitSealedOnChain(disputeCourt: Address, jobId: Hex, salt: Hex): Promise<bigint> {
  const verifier = wallet(verifierAccount)
  await approveToken(verifier, {
    token: deployment.addresses.token,
    spender: disputeCourt,
    amount: e('10'),
  })
  const commitment = challengeCommitment({
    jobId,
    challenger: verifierAccount.address,
    leafIndex: 2n,
    claimedDataHash: keccak256(toHex('replayed')),
    salt,
  })
  return (await commitChallenge(verifier, { disputeCourt, jobId, commitment })).disputeId
}

describe('roles/verifier court parts', () => {
  it('a crash after the salt is written and before the commit: the restarted node commits and reveals it', async () => {
    const jobId = await committedJob()
    const state = await openState('crash-before-commit')
    await recordWithSealedChallenge(state, jobId, randomSalt())
    const { ctx, service } = await courtContext(state)
    await advanceChallenge(ctx, jobId)
    const c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(c).toMatchObject({ revealed: true, disputeId: expect.any(BigInt) })
    const d = await getCourtDispute(admin, { disputeCourt: ctx.court(), disputeId: c.disputeId! })
    expect(d).toMatchObject({ phase: CourtPhase.awaitingDraw, leafIndex: 2, claimedDataHash: c.replayed })
    expect((await state.requireJob(jobId)).state).toBe('challenged')

    // the keeper draws the jury of one (the only pool member), the juror votes, the keeper
    // rules and executes: the provider is convicted
    await keeperTakes(ctx, c.disputeId!, 'drawn')
    const voteSalt = randomSalt()
    const disputeCourt = ctx.court()
    const commitment = voteCommitment({
      disputeId: c.disputeId!,
      round: 0n,
      juror: juror.account.address,
      choice: CourtVote.guilty,
      salt: voteSalt,
    })
    await commitVote(juror, { disputeCourt, disputeId: c.disputeId!, commitment })
    expect(await keepDispute(ctx, c.disputeId!)).toBe('waiting')
    await revealVote(juror, {
      disputeCourt,
      disputeId: c.disputeId!,
      choice: CourtVote.guilty,
      salt: voteSalt,
    })
    await keeperTakes(ctx, c.disputeId!, 'ruled')
    // one round only: the ruling is final and executes at once
    await keeperTakes(ctx, c.disputeId!, 'executed')
    expect(await keepDispute(ctx, c.disputeId!)).toBe('closed')
    const job = await getJob(admin, { jobMarket: ctx.market(), jobId })
    expect(job.status).toBe('providerSlashed')
    await service.stop()
    await state.close()
  }, 120_000)

  /** The verifier's sealed challenge mined on chain (as if sent just before a crash); its dispute id. */
  it('a crash after the commitment is mined and before it is recorded: the restarted node finds it and reveals', async () => {
    const jobId = await committedJob()
    const state = await openState('crash-after-commit')
    const sealSalt = randomSalt()
    await recordWithSealedChallenge(state, jobId, sealSalt)
    const { ctx, service } = await courtContext(state)
    const disputeCourt = ctx.court()
    const disputeId = await commitSealedOnChain(disputeCourt, jobId, sealSalt)
    await advanceChallenge(ctx, jobId)
    expect(verifierDetail(await state.requireJob(jobId)).challenge).toMatchObject({
      disputeId,
      revealed: true,
    })
    expect((await getCourtDispute(admin, { disputeCourt, disputeId })).phase).toBe(CourtPhase.awaitingDraw)
    await service.stop()
    await state.close()
  }, 120_000)

  it('a node back after its reveal deadline gives the challenge up knowingly; any keeper expires it', async () => {
    const jobId = await committedJob()
    const state = await openState('back-too-late')
    const sealSalt = randomSalt()
    await recordWithSealedChallenge(state, jobId, sealSalt)
    const { ctx, service } = await courtContext(state)
    const disputeCourt = ctx.court()
    const disputeId = await commitSealedOnChain(disputeCourt, jobId, sealSalt)
    await advance(REVEAL_PERIOD + 1)
    await advanceChallenge(ctx, jobId)
    const c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(c.revealed).toBeUndefined()
    expect(c.abandoned).toMatch(/reveal deadline passed/)
    // nothing more is attempted for it
    await advanceChallenge(ctx, jobId)
    await keeperTakes(ctx, disputeId, 'expired')
    expect(await keepDispute(ctx, disputeId)).toBe('closed')
    await service.stop()
    await state.close()
  }, 120_000)
})

describe('roles/verifier court parts: killed mid-dispute, and a juror that abstains', () => {
  /** The state store with one change: the write of the commit's hash is the node's last act. */
  function killedOnceCommitSent(state: StateStore): StateStore {
    return {
      ...state,
      async updateJob(id, patch) {
        const written = await state.updateJob(id, patch)
        const c = verifierDetail(written).challenge
        if (c?.commitTx !== undefined && c.disputeId === undefined) throw new Error('SIGKILL')
        return written
      },
    }
  }

  it('a verifier killed between its challenge commit and its reveal reveals once restarted, and is paid to the wei', async () => {
    const jobId = await committedJob()
    const { token, stakeManager, jobMarket } = deployment.addresses
    const disputeCourt = deployment.addresses.disputeCourt!
    const me = verifierAccount.address
    const balanceBefore = await getTokenBalance(admin, { token, account: me })
    const stakeBefore = await getStake(admin, { stakeManager, account: me })
    const state = await openState('killed-before-reveal')
    await recordWithSealedChallenge(state, jobId, randomSalt())

    // first life: the commit is sent, its hash written, and the node dies before its receipt
    const first = await courtContext(killedOnceCommitSent(state))
    await expect(advanceChallenge(first.ctx, jobId)).rejects.toThrow('SIGKILL')
    await first.service.stop()
    const sealed = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(sealed.commitTx).toMatch(/^0x[0-9a-f]{64}$/)
    expect(sealed.disputeId).toBeUndefined()

    // second life, on the same records: it finds (or waits for) that commit and reveals it
    const { ctx, service } = await courtContext(state)
    await advanceChallenge(ctx, jobId)
    const c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(c).toMatchObject({ revealed: true, disputeId: expect.any(BigInt) })
    // one commitment, one bond: the restart did not commit again
    expect(await getJobDisputes(admin, { disputeCourt, jobId })).toEqual([c.disputeId])

    // the keeper's pass over the voting round shows its jurors (a restarted juror finds its seat)
    await keeperTakes(ctx, c.disputeId!, 'drawn')
    const seen: Address[][] = []
    await keepDispute(ctx, c.disputeId!, (_id, _d, round) => void seen.push([...round.jurors]))
    expect(seen).toEqual([[juror.account.address]])
    const voteSalt = randomSalt()
    const commitment = voteCommitment({
      disputeId: c.disputeId!,
      round: 0n,
      juror: juror.account.address,
      choice: CourtVote.guilty,
      salt: voteSalt,
    })
    await commitVote(juror, { disputeCourt, disputeId: c.disputeId!, commitment })
    await revealVote(juror, {
      disputeCourt,
      disputeId: c.disputeId!,
      choice: CourtVote.guilty,
      salt: voteSalt,
    })
    await keeperTakes(ctx, c.disputeId!, 'ruled')
    await keeperTakes(ctx, c.disputeId!, 'executed')
    expect((await getJob(admin, { jobMarket, jobId })).status).toBe('providerSlashed')

    // its bond back and the challenger's reward (the default terms: the whole collateral
    // slashed, half of it to the challenger); its stake whole and unlocked again
    const reward =
      (((COLLATERAL * BigInt(defaultMarketParameters.cheatSlashBps)) / 10_000n) *
        BigInt(defaultMarketParameters.challengerRewardBps)) /
      10_000n
    expect(reward).toBe(e('50'))
    expect(await getTokenBalance(admin, { token, account: me })).toBe(balanceBefore + reward)
    expect(await getStake(admin, { stakeManager, account: me })).toEqual(stakeBefore)
    await service.stop()
    await state.close()
  }, 120_000)

  /** A verifier's sealed challenge on a leaf the provider did not serve, committed on chain. */
  async function unservedChallenge(name: string) {
    const jobId = await committedJob()
    const state = await openState(name)
    await recordWithSealedChallenge(state, jobId, randomSalt())
    const job = await state.requireJob(jobId)
    const detail = verifierDetail(job)
    await state.updateJob(jobId, {
      detail: { ...detail, challenge: { ...detail.challenge!, unserved: true } },
    })
    return { jobId, state, ...(await courtContext(state)) }
  }

  /** Wealth of the verifier and the provider (tokens plus stake), and the verifier's locked stake. */
  async function books() {
    const { token, stakeManager } = deployment.addresses
    const of = async (account: Address) => {
      const s = await getStake(admin, { stakeManager, account })
      return (await getTokenBalance(admin, { token, account })) + s.staked + s.unbonding
    }
    const locked = (await getStake(admin, { stakeManager, account: verifierAccount.address })).locked
    return {
      verifier: await of(verifierAccount.address),
      provider: await of(provider.account.address),
      locked,
    }
  }

  /** After the window: the job finalizes with no dispute open, the provider paid as if unchallenged. */
  async function expectFinalized(jobId: Hex, providerBefore: bigint): Promise<void> {
    const { jobMarket } = deployment.addresses
    await advance(defaultMarketParameters.challengeWindow)
    await finalize(admin, { jobMarket, jobId })
    expect((await getJob(admin, { jobMarket, jobId })).status).toBe('finalized')
    const fee = (PRICE * BigInt(defaultMarketParameters.protocolFeeBps)) / 10_000n
    expect((await books()).provider).toBe(providerBefore + PRICE - fee)
  }

  it('a challenge on a leaf not served is conceded when the provider serves it before the reveal: only the concession fee is lost', async () => {
    const before = await books()
    const { jobId, state, ctx, service } = await unservedChallenge('unserved-answered')
    const asked: number[] = []
    // the provider was unreachable through the window; back now, it serves the leaf as replayed
    await advanceChallenge(ctx, jobId, async (c) => {
      asked.push(c.index)
      return 'answered'
    })
    const c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(asked).toEqual([2])
    expect(c.revealed).toBeUndefined()
    expect(c.concede).toMatchObject({ reason: expect.stringMatching(/served the leaf/) })
    expect(c.concede?.tx).toMatch(/^0x/)
    expect(c.abandoned).toMatch(/^conceded/)
    const d = await getCourtDispute(admin, { disputeCourt: ctx.court(), disputeId: c.disputeId! })
    expect(d.phase).toBe(CourtPhase.closed)
    // to the wei: the verifier lost exactly the fee (a false-challenge ruling: 10 + 25 OPEN), its
    // stake whole and unlocked; the provider is not slashed and is paid once the window is over
    const after = await books()
    expect(after.verifier).toBe(before.verifier - defaultCourtParameters.concessionFee)
    expect(after.locked).toBe(before.locked)
    expect(after.provider).toBe(before.provider)
    await expectFinalized(jobId, before.provider)
    await service.stop()
    await state.close()
  }, 120_000)

  it('a node killed between recording the concession and sending it concedes once restarted', async () => {
    const before = await books()
    const { jobId, state, ctx, service } = await unservedChallenge('unserved-crash')
    // another challenger's open dispute holds this one back (no pile-on), its own does not
    const disputeCourt = ctx.court()
    expect(await disputedByOthers(ctx, jobId)).toBe(false)
    await approveToken(juror, { token: deployment.addresses.token, spender: disputeCourt, amount: e('10') })
    const other = await commitChallenge(juror, {
      disputeCourt,
      jobId,
      commitment: keccak256(toHex('another verifier')),
    })
    expect(await disputedByOthers(ctx, jobId)).toBe(true)
    await concedeChallenge(juror, { disputeCourt, disputeId: other.disputeId })
    expect(await disputedByOthers(ctx, jobId)).toBe(false)
    // the commitment is on chain; the node recorded its concession intent and was killed before
    // sending it
    let c = verifierDetail(await state.requireJob(jobId)).challenge!
    const disputeId = await commitSealedOnChain(ctx.court(), jobId, c.salt)
    await service.stop()
    const detail = verifierDetail(await state.requireJob(jobId))
    await state.updateJob(jobId, {
      detail: {
        ...detail,
        challenge: { ...c, disputeId, concede: { reason: 'the provider served the leaf' } },
      },
    })
    const restarted = await courtContext(state)
    // the restarted node finishes the concession: it neither reveals nor asks the provider again
    await advanceChallenge(restarted.ctx, jobId, async () => {
      throw new Error('a recorded concession is not rechecked')
    })
    c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(c.revealed).toBeUndefined()
    expect(c.abandoned).toMatch(/^conceded/)
    expect((await books()).verifier).toBe(before.verifier - defaultCourtParameters.concessionFee)
    await expectFinalized(jobId, before.provider)
    await restarted.service.stop()
    await state.close()
  }, 120_000)

  it('a challenge on a leaf still not served is revealed shortly before the reveal deadline', async () => {
    const { jobId, state, ctx, service } = await unservedChallenge('unserved-silent')
    let asked = 0
    await advanceChallenge(ctx, jobId, async () => {
      // the provider stays silent while the reveal period runs out
      if (asked++ === 0) await advance(REVEAL_PERIOD - Number(REVEAL_MARGIN_SECONDS))
      return 'unserved'
    })
    const c = verifierDetail(await state.requireJob(jobId)).challenge!
    expect(c).toMatchObject({ revealed: true })
    expect(asked).toBeGreaterThan(0)
    const d = await getCourtDispute(admin, { disputeCourt: ctx.court(), disputeId: c.disputeId! })
    expect(d.phase).toBe(CourtPhase.awaitingDraw)
    await service.stop()
    await state.close()
  }, 120_000)

  // last in the file: the abstaining juror's stake ends below the pool minimum
  it('a drawn juror that abstains (no vote) convicts nobody: NOT_PROVEN, and it loses jurorPenalty per seat', async () => {
    const jobId = await committedJob()
    const { stakeManager, jobMarket } = deployment.addresses
    const disputeCourt = deployment.addresses.disputeCourt!
    const state = await openState('juror-abstains')
    await recordWithSealedChallenge(state, jobId, randomSalt())
    const { ctx, service } = await courtContext(state)
    await advanceChallenge(ctx, jobId)
    const disputeId = verifierDetail(await state.requireJob(jobId)).challenge!.disputeId!
    const jurorStake = (await getStake(admin, { stakeManager, account: juror.account.address })).staked
    const pool = (await getJuror(admin, { disputeCourt, juror: juror.account.address })).stake
    // drawn twice (the round and its redraw after the 0-0 tie), silent both times
    for (let seat = 0; seat < 2; seat++) {
      await keeperTakes(ctx, disputeId, 'drawn')
      await advance(defaultCourtParameters.voteCommitPeriod + defaultCourtParameters.voteRevealPeriod + 1)
      await keeperTakes(ctx, disputeId, 'ruled')
    }
    await keeperTakes(ctx, disputeId, 'executed')
    const d = await getCourtDispute(admin, { disputeCourt, disputeId })
    expect(d.ruling).toBe(3) // RULING_NOT_PROVEN
    // the provider is not convicted: its job settles as committed
    expect((await getJob(admin, { jobMarket, jobId })).status).toBe('committed')
    const penalty = 2n * defaultCourtParameters.jurorPenalty
    expect((await getStake(admin, { stakeManager, account: juror.account.address })).staked).toBe(
      jurorStake - penalty,
    )
    expect((await getJuror(admin, { disputeCourt, juror: juror.account.address })).stake).toBe(pool - penalty)
    await service.stop()
    await state.close()
  }, 120_000)
})
