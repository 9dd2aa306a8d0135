import { mkdirSync, writeFileSync } from 'node:fs'
import {
  approveToken,
  award,
  ContractRevertError,
  commitZkResult,
  type Deployment,
  type DevChain,
  deployProtocol,
  depositBalance,
  getJob,
  getMarketAccount,
  getMarketParams,
  getProviderRecord,
  getStake,
  getTokenBalance,
  getZkTerms,
  jobMarketAbi,
  registerZkModel,
  setAttributionWeights,
  setPayoutToBalance,
  signBid,
  stake,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { contentHashOf, jobIdOf, type OfferTerms, zkJobBinding } from '@ocn/protocol'
import {
  type Account,
  type Address,
  type Chain,
  type Client,
  createWalletClient,
  type Hex,
  http,
  parseEther,
  parseEventLogs,
  type Transport,
  toHex,
} from 'viem'
import { deployContract, getBlock, waitForTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildMlpModel, encodeOnnxModel } from '../../src/onnx/index.js'
import {
  BN254_SCALAR_FIELD,
  type BuildZkCircuitResult,
  buildZkCircuit,
  compileGroth16Verifier,
  deserializeQuantizedMlp,
  type InferenceProof,
  inferenceCommitments,
  proveInference,
  quantizeInput,
  toGroth16CallArguments,
} from '../../src/zk/index.js'
import { randomInputs, randomMlp, TEST_CACHE_DIR } from './helpers.js'

/**
 * A zk-mode job settled on a real anvil with a real Groth16 proof: the prover's 16-16-4 circuit
 * (the same models as inference.test.ts, so a warm cache skips the setup), its exported
 * verifier deployed and registered in the ZkVerifierRegistry, and JobMarket.commitZkResult
 * checking the proof and paying out in the same transaction. Every proof is made for one job and
 * one provider (the job binding, its fourth public signal), so each job here gets its own proof.
 */
type Wallet = Client<Transport, Chain, Account>
const e = parseEther
const PRICE = e('40')
const COLLATERAL = e('200')

describe('zk-mode job settled on-chain with a real proof', () => {
  const mlp = randomMlp([16, 16, 4], 11)
  const otherMlp = randomMlp([16, 16, 4], 12)
  const inputs = randomInputs(8, 16, 5)
  const modelPath = `${TEST_CACHE_DIR}/onchain-settle-mlp-16-16-4.onnx`
  let built: BuildZkCircuitResult
  let other: BuildZkCircuitResult
  let chain: DevChain
  let deployment: Deployment
  let admin: Wallet
  let requester: Wallet
  let provider: Wallet
  /** A second staked provider, for proofs carried from one provider to another. */
  let rival: Wallet
  let modelHash: Hex
  let otherModelHash: Hex
  let verifier: Address
  let otherVerifier: Address
  let salt = 0n
  let nonce = 0n

  const wallet = (account: Account): Wallet =>
    createWalletClient({ account, chain: chain.chain, transport: http(chain.rpcUrl), pollingInterval: 50 })

  /** What the requester computes from its own input before it posts the offer. */
  const inputCommitmentOf = (result: BuildZkCircuitResult, input: readonly number[]): bigint => {
    const model = deserializeQuantizedMlp(result.artifacts.model)
    return BigInt(inferenceCommitments(result.artifacts, quantizeInput(model, input), []).inputCommitment)
  }

  /** Awards a zk-mode offer for `forModel` with `inputCommitment` to `to` (the provider). */
  const awardZkJob = async (
    forModel: Hex,
    inputCommitment: bigint,
    to: Wallet = provider,
  ): Promise<{ jobId: Hex; offer: OfferTerms; awardGas: bigint }> => {
    const now = (await getBlock(admin)).timestamp
    salt += 1n
    nonce += 1n
    const offer: OfferTerms = {
      requester: requester.account.address,
      modelHash: forModel,
      inputHash: toHex(inputCommitment, { size: 32 }),
      specHash: contentHashOf(new TextEncoder().encode('zk spec')),
      kind: 0,
      verification: 1,
      maxPrice: e('50'),
      minCollateral: e('100'),
      biddingEnds: now + 60n,
      deadline: now + 3600n,
      sampleCount: 1,
      microBatchSize: 1,
      salt,
    }
    const bid = {
      jobId: jobIdOf(offer),
      provider: to.account.address,
      price: PRICE,
      collateral: COLLATERAL,
      expiry: now + 600n,
      nonce,
      etaSeconds: 30,
    }
    const signature = await signBid(to, {
      domain: { chainId: chain.chain.id, verifyingContract: deployment.addresses.jobMarket },
      bid,
    })
    const { jobId, receipt } = await award(requester, {
      jobMarket: deployment.addresses.jobMarket,
      offer,
      bid,
      signature,
    })
    return { jobId, offer, awardGas: receipt.gasUsed }
  }

  /** The provider's proof for the job: input 0 of `inputs`, bound to `jobId` and `by`. */
  const proveFor = (jobId: Hex, by: Wallet = provider) =>
    proveInference({
      artifacts: built.artifacts,
      input: inputs[0]!,
      jobBinding: zkJobBinding(jobId, by.account.address),
    })

  const commit = (
    jobId: Hex,
    p: InferenceProof,
    signals: readonly string[] = p.publicSignals,
    by: Wallet = provider,
  ) => {
    // the points from the proof; the signals go in as given, so a test can send out-of-field values;
    // the job binding is not an argument: the contract computes it from the job it settles
    const args = toGroth16CallArguments(p.proof, p.publicSignals)
    return commitZkResult(by, {
      jobMarket: deployment.addresses.jobMarket,
      jobId,
      proof: { a: args.a, b: args.b, c: args.c },
      inputCommitment: BigInt(signals[1]!),
      outputCommitment: BigInt(signals[2]!),
    })
  }

  const expectRevert = async (promise: Promise<unknown>, errorName: string): Promise<ContractRevertError> => {
    const err = await promise.then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(err).toBeInstanceOf(ContractRevertError)
    expect((err as ContractRevertError).errorName).toBe(errorName)
    return err as ContractRevertError
  }

  beforeAll(async () => {
    mkdirSync(TEST_CACHE_DIR, { recursive: true })
    const onnx = encodeOnnxModel(buildMlpModel(mlp, { style: 'matmul-add' }))
    writeFileSync(modelPath, onnx)
    modelHash = contentHashOf(onnx)
    otherModelHash = contentHashOf(encodeOnnxModel(buildMlpModel(otherMlp, { style: 'matmul-add' })))
    // a cold cache generates the power-12 ptau and both setups (a few minutes on 2 cores)
    built = await buildZkCircuit({ modelPath, cacheDir: TEST_CACHE_DIR, calibrationInputs: inputs })
    other = await buildZkCircuit({ model: otherMlp, cacheDir: TEST_CACHE_DIR })

    chain = await startDevChain()
    const [a0, a1, a2, a3] = chain.accounts
    admin = wallet(a0!)
    requester = wallet(a1!)
    provider = wallet(a2!)
    rival = wallet(a3!)
    deployment = await deployProtocol(admin)
    const { token, stakeManager, jobMarket, zkVerifierRegistry } = deployment.addresses
    for (const w of [requester, provider, rival]) {
      await transferToken(admin, { token, to: w.account.address, amount: e('10000') })
    }
    for (const w of [provider, rival]) {
      await approveToken(w, { token, spender: stakeManager, amount: e('5000') })
      await stake(w, { stakeManager, amount: e('5000') })
    }
    await approveToken(requester, { token, spender: jobMarket, amount: e('10000') })

    const deployVerifier = async (result: BuildZkCircuitResult): Promise<Address> => {
      const { abi, bytecode } = await compileGroth16Verifier(result.artifacts)
      const hash = await deployContract(admin, { abi, bytecode })
      const receipt = await waitForTransactionReceipt(admin, { hash })
      if (!receipt.contractAddress) throw new Error('verifier deployment failed')
      return receipt.contractAddress
    }
    verifier = await deployVerifier(built)
    otherVerifier = await deployVerifier(other)
    await registerZkModel(admin, {
      zkVerifierRegistry,
      modelHash,
      modelCommitment: BigInt(built.artifacts.modelCommitment),
      verifier,
    })
    await registerZkModel(admin, {
      zkVerifierRegistry,
      modelHash: otherModelHash,
      modelCommitment: BigInt(other.artifacts.modelCommitment),
      verifier: otherVerifier,
    })
  }, 600_000)

  afterAll(async () => {
    await chain?.stop()
  })

  it('settles at once on a valid proof: provider paid, collateral unlocked, balances to the wei', async () => {
    const { token, stakeManager, jobMarket } = deployment.addresses
    const inputCommitment = inputCommitmentOf(built, inputs[0]!)
    const stakeBefore = await getStake(admin, { stakeManager, account: provider.account.address })
    const { jobId, awardGas } = await awardZkJob(modelHash, inputCommitment)
    console.log(`zk award gas, provider's first job: ${awardGas}`)
    expect(await getZkTerms(admin, { jobMarket, jobId })).toEqual({
      modelCommitment: BigInt(built.artifacts.modelCommitment),
      inputCommitment,
      verifier: expect.stringMatching(new RegExp(`^${verifier}$`, 'i')),
    })
    expect((await getStake(admin, { stakeManager, account: provider.account.address })).locked).toBe(
      stakeBefore.locked + COLLATERAL,
    )

    const balance = (account: Address) => getTokenBalance(admin, { token, account })
    const providerBefore = await balance(provider.account.address)
    const marketBefore = await balance(jobMarket)
    const params = await getMarketParams(admin, { jobMarket, stakeManager })
    const recordBefore = await getProviderRecord(admin, { jobMarket, provider: provider.account.address })

    const proof = await proveFor(jobId)
    expect(proof.publicSignals[1]).toBe(inputCommitment.toString())
    const { receipt } = await commit(jobId, proof)
    const fee = (PRICE * BigInt(params.protocolFeeBps)) / 10_000n
    const payout = PRICE - fee
    expect(await balance(provider.account.address)).toBe(providerBefore + payout)
    expect(await balance(jobMarket)).toBe(marketBefore - payout)
    expect((await getMarketParams(admin, { jobMarket, stakeManager })).treasuryAccrued).toBe(
      params.treasuryAccrued + fee,
    )
    const stakeAfter = await getStake(admin, { stakeManager, account: provider.account.address })
    expect(stakeAfter.locked).toBe(stakeBefore.locked)
    expect(stakeAfter.staked).toBe(stakeBefore.staked)
    const record = await getProviderRecord(admin, { jobMarket, provider: provider.account.address })
    expect(record.completed).toBe(recordBefore.completed + 1)
    expect(record.totalEarned).toBe(recordBefore.totalEarned + payout)

    const job = await getJob(admin, { jobMarket, jobId })
    expect(job.status).toBe('finalized')
    expect(job.resultRoot).toBe(toHex(BigInt(proof.publicSignals[2]!), { size: 32 }))
    expect(await getZkTerms(admin, { jobMarket, jobId })).toBeUndefined()
    const events = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs })
    expect(events.map((ev) => ev.eventName)).toEqual(['ZkResultCommitted', 'JobFinalized'])
    expect(events[0]!.args).toMatchObject({
      jobId,
      inputCommitment,
      outputCommitment: BigInt(proof.publicSignals[2]!),
    })
    expect(events[1]!.args).toMatchObject({ jobId, payout, fee })
    // a Groth16 pairing check (4 pairings: 181,000 gas) plus settlement, under one block's worth
    expect(receipt.gasUsed).toBeGreaterThan(181_000n)
    expect(receipt.gasUsed).toBeLessThan(400_000n)
    console.log(`commitZkResult gas: ${receipt.gasUsed}`)

    // the same proof cannot settle the job twice
    await expectRevert(commit(jobId, proof), 'InvalidJobStatus')
  })

  it('reverts a proof with any one public signal altered', async () => {
    const inputCommitment = inputCommitmentOf(built, inputs[0]!)
    // the output commitment, altered by one, and aliased past the field order
    const { jobId, awardGas } = await awardZkJob(modelHash, inputCommitment)
    const proof = await proveFor(jobId)
    const output = BigInt(proof.publicSignals[2]!)
    console.log(`zk award gas, steady state: ${awardGas}`)
    await expectRevert(
      commit(jobId, proof, [proof.publicSignals[0]!, String(inputCommitment), String(output + 1n)]),
      'InvalidZkProof',
    )
    const aliased = await expectRevert(
      commit(jobId, proof, [
        proof.publicSignals[0]!,
        String(inputCommitment),
        String(output + BN254_SCALAR_FIELD),
      ]),
      'PublicSignalOutOfField',
    )
    expect(aliased.args).toEqual([2n, output + BN254_SCALAR_FIELD])
    // the input commitment: a job whose offer names input + 1, proven with the signal altered to match
    // (proven for that job, so only the input is wrong)
    const { jobId: otherInputJob } = await awardZkJob(modelHash, inputCommitment + 1n)
    const otherInputProof = await proveFor(otherInputJob)
    await expectRevert(
      commit(otherInputJob, otherInputProof, [
        otherInputProof.publicSignals[0]!,
        String(inputCommitment + 1n),
        String(output),
      ]),
      'InvalidZkProof',
    )
    // and the one the job was awarded for must be the one proven
    await expectRevert(commit(otherInputJob, otherInputProof), 'InputCommitmentMismatch')
    // the model commitment: the same verifier registered for the commitment plus one
    const shiftedModel = contentHashOf(new TextEncoder().encode('model registered with a shifted commitment'))
    await registerZkModel(admin, {
      zkVerifierRegistry: deployment.addresses.zkVerifierRegistry,
      modelHash: shiftedModel,
      modelCommitment: BigInt(built.artifacts.modelCommitment) + 1n,
      verifier,
    })
    const { jobId: shiftedJob } = await awardZkJob(shiftedModel, inputCommitment)
    await expectRevert(commit(shiftedJob, await proveFor(shiftedJob)), 'InvalidZkProof')
    // none of them moved
    for (const id of [jobId, otherInputJob, shiftedJob]) {
      expect((await getJob(admin, { jobMarket: deployment.addresses.jobMarket, jobId: id })).status).toBe(
        'awarded',
      )
    }
    // the untouched proof still settles the first job
    const { receipt } = await commit(jobId, proof)
    expect(receipt.status).toBe('success')
    // steady state: the provider's record and the treasury's accrual already exist
    console.log(`commitZkResult gas, second job of the provider: ${receipt.gasUsed}`)
  })

  it("reverts a proof of this model on a job for another model's commitment", async () => {
    expect(other.artifacts.modelCommitment).not.toBe(built.artifacts.modelCommitment)
    const { jobId } = await awardZkJob(otherModelHash, inputCommitmentOf(built, inputs[0]!))
    await expectRevert(commit(jobId, await proveFor(jobId)), 'InvalidZkProof')
  })

  it('binds a proof to its job and provider: no reuse on another job, none by another provider', async () => {
    const { jobMarket } = deployment.addresses
    const inputCommitment = inputCommitmentOf(built, inputs[0]!)
    // two jobs of one provider with the same model and input, and a third awarded to the rival
    const { jobId: jobA } = await awardZkJob(modelHash, inputCommitment)
    const { jobId: jobB } = await awardZkJob(modelHash, inputCommitment)
    const { jobId: jobC } = await awardZkJob(modelHash, inputCommitment, rival)
    const proofA = await proveFor(jobA)
    // job A's valid proof does not settle job B, although every commitment matches B's terms
    await expectRevert(commit(jobB, proofA), 'InvalidZkProof')
    // the rival cannot settle its own job with the provider's proof, copied from job A ...
    await expectRevert(commit(jobC, proofA, proofA.publicSignals, rival), 'InvalidZkProof')
    // ... nor with one the provider made for job C's id: the binding names the provider too
    const forCByProvider = await proveFor(jobC, provider)
    await expectRevert(commit(jobC, forCByProvider, forCByProvider.publicSignals, rival), 'InvalidZkProof')
    for (const id of [jobA, jobB, jobC]) {
      expect((await getJob(admin, { jobMarket, jobId: id })).status).toBe('awarded')
    }
    // the happy path still settles: each job with the proof made for it, by its own provider
    await commit(jobA, proofA)
    await commit(jobB, await proveFor(jobB))
    const forCByRival = await proveFor(jobC, rival)
    await commit(jobC, forCByRival, forCByRival.publicSignals, rival)
    for (const id of [jobA, jobB, jobC]) {
      expect((await getJob(admin, { jobMarket, jobId: id })).status).toBe('finalized')
    }
  })

  // last: it gives the proven model attribution weights, which changes the payout of later jobs
  it("sends the attribution share to the pool in the proof's settlement when the model has weights", async () => {
    const { token, stakeManager, jobMarket } = deployment.addresses
    const attributionPool = deployment.addresses.attributionPool!
    await setAttributionWeights(admin, {
      attributionPool,
      modelId: modelHash,
      weightsRoot: contentHashOf(new TextEncoder().encode('weights root')),
      resultHash: contentHashOf(new TextEncoder().encode('attribution result')),
    })
    const { jobId } = await awardZkJob(modelHash, inputCommitmentOf(built, inputs[0]!))
    const proof = await proveFor(jobId)
    const balance = (account: Address) => getTokenBalance(admin, { token, account })
    const [providerBefore, poolBefore, marketBefore] = await Promise.all([
      balance(provider.account.address),
      balance(attributionPool),
      balance(jobMarket),
    ])
    const params = await getMarketParams(admin, { jobMarket, stakeManager })
    expect(params.attributionShareBps).toBeGreaterThan(0)
    const { receipt } = await commit(jobId, proof)
    const fee = (PRICE * BigInt(params.protocolFeeBps)) / 10_000n
    const share = (PRICE * BigInt(params.attributionShareBps)) / 10_000n
    expect(await balance(provider.account.address)).toBe(providerBefore + PRICE - fee - share)
    expect(await balance(attributionPool)).toBe(poolBefore + share)
    expect(await balance(jobMarket)).toBe(marketBefore - PRICE + fee)
    const events = parseEventLogs({ abi: jobMarketAbi, logs: receipt.logs })
    expect(events.map((ev) => ev.eventName)).toEqual(['ZkResultCommitted', 'AttributionPaid', 'JobFinalized'])
    expect(events[1]!.args).toEqual({ jobId, modelHash, amount: share })
    console.log(
      `commitZkResult gas, model with attribution weights (first deposit: creates the pool balance and pending slots): ${receipt.gasUsed}`,
    )
  })

  it("prepaid: a deposit pays the award and the proof's settlement credits the provider's balance", async () => {
    const { token, stakeManager, jobMarket } = deployment.addresses
    const balance = (account: Address) => getTokenBalance(admin, { token, account })
    const account = (w: Wallet) => getMarketAccount(admin, { jobMarket, account: w.account.address })
    await depositBalance(requester, { jobMarket, amount: PRICE })
    await setPayoutToBalance(provider, { jobMarket, enabled: true })
    const requesterBefore = await balance(requester.account.address)
    const { jobId } = await awardZkJob(modelHash, inputCommitmentOf(built, inputs[0]!))
    expect(await balance(requester.account.address)).toBe(requesterBefore)
    expect((await account(requester)).balance).toBe(0n)

    const proof = await proveFor(jobId)
    const [providerBefore, marketBefore, credited] = [
      await balance(provider.account.address),
      await balance(jobMarket),
      (await account(provider)).balance,
    ]
    const params = await getMarketParams(admin, { jobMarket, stakeManager })
    await commit(jobId, proof)
    // the model has weights since the test above: the share still goes to the pool by transfer
    const fee = (PRICE * BigInt(params.protocolFeeBps)) / 10_000n
    const share = (PRICE * BigInt(params.attributionShareBps)) / 10_000n
    expect(await balance(provider.account.address)).toBe(providerBefore)
    expect((await account(provider)).balance).toBe(credited + PRICE - fee - share)
    expect(await balance(jobMarket)).toBe(marketBefore - share)
    expect((await getJob(admin, { jobMarket, jobId })).status).toBe('finalized')
    await setPayoutToBalance(provider, { jobMarket, enabled: false })
  })

  it('refuses to award a zk job for a model with no registered verifier', async () => {
    const unregistered = contentHashOf(new TextEncoder().encode('no circuit for this model'))
    const err = await expectRevert(
      awardZkJob(unregistered, inputCommitmentOf(built, inputs[0]!)),
      'ZkModelNotRegistered',
    )
    expect(err.args).toEqual([unregistered])
  })
})
