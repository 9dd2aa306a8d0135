import { MerkleTree } from '@ocn/protocol'
import { keccak256, parseEther, toHex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  award,
  ContractRevertError,
  commitResult,
  expire,
  finalize,
  requestUnbonding,
  setChallengeWindow,
  setProtocolFee,
  setTreasury,
  setUnbondingDelay,
  withdrawStake,
} from '../src/index.js'
import {
  advance,
  approveMarket,
  expectRevert,
  makeBid,
  makeOffer,
  type Protocol,
  setupProtocol,
  stakeAs,
} from './helpers.js'

const e = parseEther
let p: Protocol
let jobMarket: `0x${string}`
let stakeManager: `0x${string}`
const tree = MerkleTree.fromDataHashes([keccak256(toHex('a')), keccak256(toHex('b')), keccak256(toHex('c'))])

beforeAll(async () => {
  p = await setupProtocol({ challengeWindow: 600, unbondingDelay: 3600n, verifierMinStake: e('100') })
  ;({ jobMarket, stakeManager } = p.deployment.addresses)
  await stakeAs(p, p.provider, e('10000'))
  await stakeAs(p, p.verifier, e('100'))
  await approveMarket(p, p.requester, e('1000000'))
  await approveMarket(p, p.verifier, e('1000000'))
})
afterAll(async () => {
  await p?.chain.stop()
})

async function awardedJob() {
  // three leaves, as `tree` has: the terms fix the leaf count at award
  const offer = await makeOffer(p, { sampleCount: 3, microBatchSize: 1 })
  const { bid, signature } = await makeBid(p, offer)
  const { jobId } = await award(p.requester, { jobMarket, offer, bid, signature })
  return { offer, bid, signature, jobId }
}

async function committedJob() {
  const job = await awardedJob()
  await commitResult(p.provider, {
    jobMarket,
    jobId: job.jobId,
    resultRoot: tree.root,
    leafCount: tree.leafCount,
  })
  return job
}

describe('award reverts', () => {
  it('rejects a bid signed by someone other than the provider', async () => {
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer, {}, p.other)
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature }),
      'InvalidBidSignature',
    )
    expect(err.args).toEqual([p.provider.account.address])
    expect(err.code).toBe('CONTRACT_REVERT')
  })

  it('rejects a malformed signature', async () => {
    const offer = await makeOffer(p)
    const { bid } = await makeBid(p, offer)
    await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature: '0x1234' }),
      'InvalidBidSignature',
    )
  })

  it('rejects a replayed bid: the same job twice, and a used nonce on another job', async () => {
    const { offer, bid, signature } = await awardedJob()
    await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'JobAlreadyAwarded')
    const other = await makeOffer(p)
    const replay = await makeBid(p, other, { nonce: bid.nonce })
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer: other, ...replay }),
      'NonceAlreadyUsed',
    )
    expect(err.args).toEqual([p.provider.account.address, bid.nonce])
  })

  it('rejects an expired bid', async () => {
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer, { expiry: 1n })
    await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'BidExpired')
  })

  it('rejects a price above the offer maximum', async () => {
    const offer = await makeOffer(p, { maxPrice: e('10') })
    const { bid, signature } = await makeBid(p, offer, { price: e('10') + 1n })
    const err = await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'PriceAboveMax')
    expect(err.args).toEqual([e('10') + 1n, e('10')])
  })

  it('rejects collateral below the offer minimum', async () => {
    const offer = await makeOffer(p, { minCollateral: e('300') })
    const { bid, signature } = await makeBid(p, offer, { collateral: e('299') })
    await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'CollateralBelowMin')
  })

  it('rejects a provider whose free stake is too low (error bubbles up from the StakeManager)', async () => {
    const offer = await makeOffer(p, { minCollateral: e('1') })
    const { bid, signature } = await makeBid(p, offer, { collateral: e('50000') })
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature }),
      'InsufficientFreeStake',
    )
    expect(err.args[0]).toBe(p.provider.account.address)
    expect(err.args[2]).toBe(e('50000'))
  })

  it('rejects an award by anyone but the requester', async () => {
    const offer = await makeOffer(p)
    const { bid, signature } = await makeBid(p, offer)
    await expectRevert(award(p.other, { jobMarket, offer, bid, signature }), 'NotRequester')
  })

  it('rejects zk verification for a model with no registered verifier', async () => {
    const offer = await makeOffer(p, { verification: 1 })
    const { bid, signature } = await makeBid(p, offer)
    const err = await expectRevert(
      award(p.requester, { jobMarket, offer, bid, signature }),
      'ZkModelNotRegistered',
    )
    expect(err.args[0]).toBe(offer.modelHash)
  })

  it('rejects a bid for another job and an offer past its deadline', async () => {
    const offer = await makeOffer(p)
    const other = await makeOffer(p)
    const { bid, signature } = await makeBid(p, other)
    await expectRevert(award(p.requester, { jobMarket, offer, bid, signature }), 'BidJobMismatch')
    const late = await makeOffer(p, { deadline: 1n })
    const lateBid = await makeBid(p, late)
    await expectRevert(award(p.requester, { jobMarket, offer: late, ...lateBid }), 'OfferDeadlinePassed')
  })
})

describe('commit, challenge and settlement reverts', () => {
  it('rejects a commit by anyone but the provider', async () => {
    const { jobId } = await awardedJob()
    await expectRevert(
      commitResult(p.other, { jobMarket, jobId, resultRoot: tree.root, leafCount: 3 }),
      'NotProvider',
    )
  })

  it('rejects a commit after the deadline, and expires the job instead', async () => {
    const { jobId } = await awardedJob()
    await expectRevert(expire(p.other, { jobMarket, jobId }), 'DeadlineNotPassed')
    await advance(p, 3601)
    await expectRevert(
      commitResult(p.provider, { jobMarket, jobId, resultRoot: tree.root, leafCount: 3 }),
      'CommitDeadlinePassed',
    )
    await expire(p.other, { jobMarket, jobId })
  })

  it('rejects an empty commitment', async () => {
    const { jobId } = await awardedJob()
    await expectRevert(
      commitResult(p.provider, { jobMarket, jobId, resultRoot: `0x${'00'.repeat(32)}`, leafCount: 3 }),
      'EmptyCommitment',
    )
  })

  it('rejects a finalize inside the challenge window (challenges go to the DisputeCourt: court.test.ts)', async () => {
    const { jobId } = await committedJob()
    await expectRevert(finalize(p.other, { jobMarket, jobId }), 'ChallengeWindowOpen')
  })

  it('rejects a double finalize', async () => {
    const { jobId } = await committedJob()
    await advance(p, 601)
    await finalize(p.other, { jobMarket, jobId })
    const err = await expectRevert(finalize(p.other, { jobMarket, jobId }), 'InvalidJobStatus')
    expect(err.args).toEqual([jobId, 3])
  })
})

describe('stake and parameter reverts', () => {
  it('rejects a withdrawal before the unbonding delay ends', async () => {
    await requestUnbonding(p.verifier, { stakeManager, amount: e('1') })
    await expectRevert(withdrawStake(p.verifier, { stakeManager }), 'UnbondingNotReady')
    await advance(p, 3601)
    await withdrawStake(p.verifier, { stakeManager })
    await expectRevert(withdrawStake(p.verifier, { stakeManager }), 'NothingUnbonding')
  })

  it('rejects unbonding locked collateral', async () => {
    await awardedJob()
    await expectRevert(
      requestUnbonding(p.provider, { stakeManager, amount: e('10000') }),
      'InsufficientFreeStake',
    )
  })

  it('lets only the parameters role change parameters, within their bounds', async () => {
    await expectRevert(
      setProtocolFee(p.other, { jobMarket, protocolFeeBps: 100 }),
      'AccessManagedUnauthorized',
    )
    await setProtocolFee(p.admin, { jobMarket, protocolFeeBps: 100 })
    await expectRevert(setProtocolFee(p.admin, { jobMarket, protocolFeeBps: 10_001 }), 'InvalidParameter')
    await expectRevert(
      setUnbondingDelay(p.admin, { stakeManager, unbondingDelay: 599n }),
      'UnbondingDelayTooShort',
    )
    await expectRevert(setChallengeWindow(p.admin, { jobMarket, challengeWindow: 3601 }), 'InvalidParameter')
    await expectRevert(
      setTreasury(p.other, { jobMarket, treasury: p.other.account.address }),
      'AccessManagedUnauthorized',
    )
    await setTreasury(p.admin, { jobMarket, treasury: p.treasury.account.address })
  })

  it('decodes reverts into ContractRevertError with the error name and args', async () => {
    const err = await withdrawStake(p.other, { stakeManager }).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(ContractRevertError)
    expect((err as ContractRevertError).errorName).toBe('NothingUnbonding')
    expect((err as ContractRevertError).args).toEqual([p.other.account.address])
    expect((err as ContractRevertError).shortMessage).toContain('NothingUnbonding')
  })
})
