import { ATTRIBUTION_WEIGHT_TOTAL, attributionWeightsTree, scoresToBasisPoints } from '@ocn/protocol'
import { type Address, createPublicClient, type Hex, http, keccak256, parseEther, stringToHex } from 'viem'
import { deployContract, waitForTransactionReceipt, writeContract } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accessManagerAbi,
  accessManagerBytecode,
  approveToken,
  attributionPoolSelectors,
  ContractRevertError,
  claimAttribution,
  type DevChain,
  deployAttributionPool,
  depositAttributionFees,
  getAttributionPool,
  getAttributionRound,
  getTokenBalance,
  openTokenAbi,
  openTokenBytecode,
  setAttributionWeights,
  settleAttributionRound,
  startDevChain,
  transferToken,
} from '../src/index.js'
import { type Wallet, walletFor } from './helpers.js'

const ATTRIBUTION_ROLE = 7n
const modelId = keccak256(stringToHex('model: datanet mlp v1'))

let chain: DevChain
let admin: Wallet
let council: Wallet
let payer: Wallet
let outsider: Wallet
let contributors: Wallet[]
let token: Address
let pool: Address

async function deploy(client: Wallet, abi: unknown, bytecode: Hex, args: unknown[]): Promise<Address> {
  const hash = await deployContract(client, { abi: abi as never, bytecode, args: args as never })
  const receipt = await waitForTransactionReceipt(client, { hash })
  return receipt.contractAddress!
}

async function expectRevert(p: Promise<unknown>, errorName: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ContractRevertError)
  expect((err as ContractRevertError).errorName).toBe(errorName)
}

beforeAll(async () => {
  chain = await startDevChain()
  const w = chain.accounts.map((a) => walletFor(chain, a))
  ;[admin, council, payer, outsider] = [w[0]!, w[1]!, w[2]!, w[3]!]
  contributors = [w[4]!, w[5]!, w[6]!]
  token = await deploy(admin, openTokenAbi, openTokenBytecode, [admin.account.address, parseEther('1000000')])
  const manager = await deploy(admin, accessManagerAbi, accessManagerBytecode, [admin.account.address])
  ;({ attributionPool: pool } = await deployAttributionPool(admin, { accessManager: manager, token }))
  // the council gets the attribution role, which alone may set weights
  for (const [functionName, args] of [
    ['setTargetFunctionRole', [pool, [attributionPoolSelectors.setWeights], ATTRIBUTION_ROLE]],
    ['grantRole', [ATTRIBUTION_ROLE, council.account.address, 0]],
  ] as const) {
    const hash = await writeContract(admin, {
      address: manager,
      abi: accessManagerAbi,
      functionName,
      args: args as never,
    })
    await waitForTransactionReceipt(admin, { hash })
  }
  await transferToken(admin, { token, to: payer.account.address, amount: parseEther('1000') })
  await approveToken(payer, { token, spender: pool, amount: parseEther('1000') })
}, 120_000)

afterAll(async () => {
  await chain?.stop()
})

describe('AttributionPool on anvil', () => {
  // weights from influence scores: a signal, a noise (negative influence) and a partial contributor
  const weights = () =>
    scoresToBasisPoints([3.7, -1.2, 1.1]).map((weight, i) => ({
      address: contributors[i]!.account.address,
      weight,
    }))

  it('pays every contributor its share of a round, summing exactly to the pool to the wei', async () => {
    const w = weights()
    expect(w.reduce((a, b) => a + b.weight, 0)).toBe(ATTRIBUTION_WEIGHT_TOTAL)
    expect(w[1]!.weight).toBe(0)
    const tree = attributionWeightsTree(w)
    // an amount that does not divide evenly, so rounding dust exists
    const fees = [parseEther('12.345678901234567891'), 7n]
    for (const amount of fees) await depositAttributionFees(payer, { attributionPool: pool, modelId, amount })

    // settling before any weights exist is refused; so is setting weights without the role
    await expectRevert(settleAttributionRound(outsider, { attributionPool: pool, modelId }), 'NoWeights')
    const resultHash = keccak256(stringToHex('attribution result'))
    await expectRevert(
      setAttributionWeights(outsider, { attributionPool: pool, modelId, weightsRoot: tree.root, resultHash }),
      'AccessManagedUnauthorized',
    )
    await setAttributionWeights(council, {
      attributionPool: pool,
      modelId,
      weightsRoot: tree.root,
      resultHash,
    })
    const state = await getAttributionPool(createPublicClient({ transport: http(chain.rpcUrl) }), {
      attributionPool: pool,
      modelId,
    })
    const total = fees[0]! + fees[1]!
    expect(state).toEqual({
      weightsRoot: tree.root,
      attributionResult: resultHash,
      pending: total,
      rounds: 0n,
    })

    const { round } = await settleAttributionRound(outsider, { attributionPool: pool, modelId })
    expect(round).toBe(0n)
    const before = await Promise.all(
      contributors.map((c) => getTokenBalance(admin, { token, account: c.account.address })),
    )
    // claim order: signal, partial, noise; the outsider submits one claim on the partial's behalf
    let paidSum = 0n
    for (const i of [0, 2, 1]) {
      const sender = i === 2 ? outsider : contributors[i]!
      const r = await claimAttribution(sender, {
        attributionPool: pool,
        modelId,
        round,
        index: i,
        account: w[i]!.address,
        weight: w[i]!.weight,
        proof: tree.proof(i),
      })
      paidSum += r.paid
    }
    const after = await Promise.all(
      contributors.map((c) => getTokenBalance(admin, { token, account: c.account.address })),
    )
    const gained = after.map((a, i) => a - before[i]!)
    expect(paidSum).toBe(total)
    expect(gained.reduce((a, b) => a + b, 0n)).toBe(total)
    expect(await getTokenBalance(admin, { token, account: pool })).toBe(0n)
    // signal earns more than partial, the noise contributor nothing
    expect(gained[0]!).toBeGreaterThan(gained[2]!)
    expect(gained[2]!).toBeGreaterThan(0n)
    expect(gained[1]!).toBe(0n)
    // shares are floor(amount * w / 10000) except the last claimant's remainder
    expect(gained[0]!).toBe((total * BigInt(w[0]!.weight)) / 10_000n)
    const r = await getAttributionRound(admin, { attributionPool: pool, modelId, round, indices: [0, 1, 2] })
    expect(r).toMatchObject({ amount: total, claimedAmount: total, claimedWeight: 10_000n })
    expect(r.claimed).toEqual([true, true, true])
  })

  it('rejects a double claim and a wrong proof', async () => {
    const w = weights()
    const tree = attributionWeightsTree(w)
    await depositAttributionFees(payer, { attributionPool: pool, modelId, amount: parseEther('5') })
    const { round } = await settleAttributionRound(payer, { attributionPool: pool, modelId })
    expect(round).toBe(1n)
    const claim0 = {
      attributionPool: pool,
      modelId,
      round,
      index: 0,
      account: w[0]!.address,
      weight: w[0]!.weight,
      proof: tree.proof(0),
    }
    // a claim in round 1 is independent of round 0's
    const first = await claimAttribution(contributors[0]!, claim0)
    expect(first.paid).toBe((parseEther('5') * BigInt(w[0]!.weight)) / 10_000n)
    await expectRevert(claimAttribution(contributors[0]!, claim0), 'AlreadyClaimed')
    // inflated weight, someone else's proof, a stranger's address: all fail the proof
    const claim2 = { ...claim0, index: 2, account: w[2]!.address, weight: w[2]!.weight, proof: tree.proof(2) }
    await expectRevert(
      claimAttribution(contributors[2]!, { ...claim2, weight: w[2]!.weight + 1 }),
      'InvalidProof',
    )
    await expectRevert(
      claimAttribution(contributors[2]!, { ...claim2, proof: tree.proof(1) }),
      'InvalidProof',
    )
    await expectRevert(
      claimAttribution(outsider, { ...claim2, account: outsider.account.address }),
      'InvalidProof',
    )
    await expectRevert(claimAttribution(contributors[2]!, { ...claim2, round: 9n }), 'UnknownRound')
    // the honest claim still works afterwards
    expect((await claimAttribution(contributors[2]!, claim2)).paid).toBe(
      (parseEther('5') * BigInt(w[2]!.weight)) / 10_000n,
    )
  })
})
