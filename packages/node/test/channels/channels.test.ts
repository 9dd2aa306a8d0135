import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { lpStream } from '@libp2p/utils'
import {
  type DevChain,
  deployPaymentChannels,
  deployProtocol,
  getChannel,
  getChannelsDomain,
  getTokenBalance,
  redeemVoucher,
  startDevChain,
  transferToken,
} from '@ocn/contracts-client'
import { type ChannelsDomain, decodeInferResponse, encodeInferRequest } from '@ocn/protocol'
import { buildMlpModel, encodeOnnxModel, type Mlp } from '@ocn/prover/onnx'
import {
  type Account,
  type Address,
  type Chain,
  type Client,
  createTestClient,
  createWalletClient,
  http,
  parseEther,
  type Transport,
} from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ChannelClient,
  type ChannelServer,
  createChannelClient,
  createChannelServer,
  createLevelVoucherStore,
  INFER_PROTOCOL,
  InferenceRejectedError,
} from '../../src/channels/index.js'
import { silentLogger } from '../../src/core/logger.js'
import { createExecutor, type Executor, modelHash, type NamedTensors } from '../../src/executor/index.js'
import { createOcnHost, type OcnHost } from '../../src/p2p/index.js'

type Wallet = Client<Transport, Chain, Account>
const workerUrl = new URL('../../dist/executor/worker.js', import.meta.url)
const e = parseEther
const PRICE = e('0.01')
const DEPOSIT = e('1')
const REQUESTS = 12

// a 4-8-3 MLP with fixed weights, so the expected outputs can be computed here
const mlp: Mlp = {
  layers: [
    {
      inFeatures: 4,
      outFeatures: 8,
      weight: Float32Array.from({ length: 32 }, (_, i) => ((i * 7) % 11) / 10 - 0.5),
      bias: Float32Array.from({ length: 8 }, (_, i) => i / 20),
      activation: 'relu',
    },
    {
      inFeatures: 8,
      outFeatures: 3,
      weight: Float32Array.from({ length: 24 }, (_, i) => ((i * 5) % 7) / 7 - 0.4),
      bias: Float32Array.from({ length: 3 }, (_, i) => -i / 10),
      activation: 'none',
    },
  ],
  softmaxOutput: false,
}
const model = encodeOnnxModel(buildMlpModel(mlp))
const hash = modelHash(model)

function reference(x: Float32Array, batch: number): number[] {
  let h = Array.from(x)
  for (const l of mlp.layers) {
    const out: number[] = []
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < l.outFeatures; o++) {
        let s = l.bias[o]!
        for (let i = 0; i < l.inFeatures; i++)
          s += h[b * l.inFeatures + i]! * l.weight[i * l.outFeatures + o]!
        out.push(l.activation === 'relu' ? Math.max(0, s) : s)
      }
    }
    h = out
  }
  return h
}

function inputsFor(k: number): { inputs: NamedTensors; x: Float32Array } {
  const x = Float32Array.from({ length: 8 }, (_, i) => Math.sin(k * 8 + i))
  return { x, inputs: { input: { dtype: 'float32', dims: [2, 4], data: new Uint8Array(x.buffer) } } }
}

let chain: DevChain
let admin: Wallet
let requester: Wallet
let provider: Wallet
let stranger: Wallet
let token: Address
let paymentChannels: Address
let domain: ChannelsDomain
let providerHost: OcnHost
let requesterHost: OcnHost
let executor: Executor
let server: ChannelServer
let client: ChannelClient
let storeDir: string

const wallet = (i: number): Wallet =>
  createWalletClient({
    account: chain.accounts[i]!,
    chain: chain.chain,
    transport: http(chain.rpcUrl),
    pollingInterval: 50,
  })
const balanceOf = (account: Address) => getTokenBalance(admin, { token, account })

beforeAll(async () => {
  chain = await startDevChain()
  admin = wallet(0)
  requester = wallet(1)
  provider = wallet(2)
  stranger = wallet(3)
  const deployment = await deployProtocol(admin)
  token = deployment.addresses.token
  for (const w of [requester, stranger])
    await transferToken(admin, { token, to: w.account.address, amount: e('100') })
  ;({ paymentChannels } = await deployPaymentChannels(admin, { token }))
  domain = await getChannelsDomain(admin, { paymentChannels })

  executor = createExecutor({ workerUrl, options: { poolSize: 1 } })
  await executor.start()
  providerHost = await createOcnHost({ dht: false }, { logger: silentLogger })
  requesterHost = await createOcnHost({ dht: false }, { logger: silentLogger })
  await providerHost.start()
  await requesterHost.start()
  storeDir = await mkdtemp(join(tmpdir(), 'ocn-channels-'))
  server = createChannelServer(
    {
      models: [{ model, pricePerRequest: PRICE }],
      paymentChannels,
      domain,
      options: { closeWatchIntervalMs: 200 },
    },
    {
      host: providerHost,
      executor,
      wallet: provider,
      store: createLevelVoucherStore({ directory: storeDir }),
      logger: silentLogger,
    },
  )
  await server.start()
  client = createChannelClient({ paymentChannels, token, domain }, { host: requesterHost, wallet: requester })
  await requesterHost.dial(providerHost.getMultiaddrs()[0]!)
})

afterAll(async () => {
  await server?.stop()
  await requesterHost?.stop()
  await providerHost?.stop()
  await executor?.stop()
  await chain?.stop()
  if (storeDir) await rm(storeDir, { recursive: true, force: true })
})

describe('paid inference over a payment channel', () => {
  it('serves requests over libp2p with cumulative vouchers, redeems once, and the requester recovers the rest', async () => {
    const requesterStart = await balanceOf(requester.account.address)
    const providerStart = await balanceOf(provider.account.address)
    const channelId = await client.open({
      provider: provider.account.address,
      deposit: DEPOSIT,
      closeTimeout: 600,
    })
    const session = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
    })

    for (let k = 0; k < REQUESTS; k++) {
      const { x, inputs } = inputsFor(k)
      const outputs = await session.infer(inputs)
      const got = Array.from(new Float32Array(outputs.output!.data.slice().buffer))
      expect(outputs.output!.dims).toEqual([2, 3])
      for (const [i, want] of reference(x, 2).entries()) expect(Math.abs(got[i]! - want)).toBeLessThan(1e-5)
    }
    expect(session.spent).toBe(PRICE * BigInt(REQUESTS))
    // nothing happened on-chain while serving
    expect((await getChannel(admin, { paymentChannels, channelId }))?.paid).toBe(0n)
    expect(await balanceOf(provider.account.address)).toBe(providerStart)

    // an older voucher (a fresh session that starts counting from zero) is refused off-chain
    const stale = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
    })
    const staleError = await stale.infer(inputsFor(0).inputs).catch((err: unknown) => err)
    expect(staleError).toBeInstanceOf(InferenceRejectedError)
    expect((staleError as InferenceRejectedError).remoteCode).toBe('VOUCHER_NOT_NEWER')
    await stale.close()

    // the exact latest voucher sent again is refused too
    const latest = await server.latestVoucher(channelId)
    expect(latest?.cumulativeAmount).toBe(PRICE * BigInt(REQUESTS))
    const stream = await requesterHost.dialProtocol(providerHost.peerId, INFER_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodeInferRequest({ modelHash: hash, voucher: latest!, inputs: inputsFor(1).inputs }))
    const replayed = decodeInferResponse((await lp.read()).subarray())
    expect(replayed.ok === false && replayed.code).toBe('VOUCHER_NOT_NEWER')
    await stream.close()

    // an over-spent voucher is refused
    const greedy = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
      spent: DEPOSIT,
    })
    const overError = await greedy.infer(inputsFor(0).inputs).catch((err: unknown) => err)
    expect((overError as InferenceRejectedError).remoteCode).toBe('VOUCHER_OVERSPENT')
    await greedy.close()

    // a voucher signed by someone else than the channel's requester is refused
    const forger = createChannelClient(
      { paymentChannels, token, domain },
      { host: requesterHost, wallet: stranger },
    )
    const forged = await forger.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
      spent: session.spent,
    })
    const forgedError = await forged.infer(inputsFor(0).inputs).catch((err: unknown) => err)
    expect((forgedError as InferenceRejectedError).remoteCode).toBe('INVALID_SIGNATURE')
    await forged.close()

    // the honest session goes on after all that
    await session.infer(inputsFor(99).inputs)
    await session.close()
    const owed = PRICE * BigInt(REQUESTS + 1)

    // one redeem pays everything, to the wei
    const redeemed = await server.redeem(channelId)
    expect(redeemed.payout).toBe(owed)
    expect(await balanceOf(provider.account.address)).toBe(providerStart + owed)
    // the same voucher redeemed again on-chain reverts
    const again = await server.latestVoucher(channelId)
    await expect(
      redeemVoucher(provider, {
        paymentChannels,
        channelId,
        cumulativeAmount: again!.cumulativeAmount,
        signature: again!.signature,
      }),
    ).rejects.toMatchObject({ errorName: 'VoucherNotNewer' })
    await expect(server.redeem(channelId)).rejects.toMatchObject({ code: 'NOTHING_TO_REDEEM' })

    // the requester closes and, after the timeout, recovers the unspent deposit
    await client.startClose(channelId)
    const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
    await test.increaseTime({ seconds: 601 })
    await test.mine({ blocks: 1 })
    await client.withdraw(channelId)
    expect(await balanceOf(requester.account.address)).toBe(requesterStart - owed)
    expect(await balanceOf(paymentChannels)).toBe(0n)

    // a finalized channel is not served any more
    const late = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
      spent: owed,
    })
    const lateError = await late.infer(inputsFor(0).inputs).catch((err: unknown) => err)
    expect((lateError as InferenceRejectedError).remoteCode).toBe('CHANNEL_CLOSING')
    await late.close()
  })

  it('keeps the latest voucher on disk across a provider restart', async () => {
    const channelId = await client.open({
      provider: provider.account.address,
      deposit: DEPOSIT,
      closeTimeout: 600,
    })
    const session = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
    })
    await session.infer(inputsFor(1).inputs)
    await session.infer(inputsFor(2).inputs)
    await session.close()
    await server.stop()
    server = createChannelServer(
      {
        models: [{ model, pricePerRequest: PRICE }],
        paymentChannels,
        domain,
        options: { closeWatchIntervalMs: 200 },
      },
      {
        host: providerHost,
        executor,
        wallet: provider,
        store: createLevelVoucherStore({ directory: storeDir }),
        logger: silentLogger,
      },
    )
    await server.start()
    expect((await server.latestVoucher(channelId))?.cumulativeAmount).toBe(2n * PRICE)
    // the restarted provider still refuses the older voucher
    const stale = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
      spent: PRICE,
    })
    const err = await stale.infer(inputsFor(3).inputs).catch((error: unknown) => error)
    expect((err as InferenceRejectedError).remoteCode).toBe('VOUCHER_NOT_NEWER')
    await stale.close()
    const closed = await server.redeem(channelId, { close: true })
    expect(closed.payout).toBe(2n * PRICE)
    expect((await getChannel(admin, { paymentChannels, channelId }))?.finalized).toBe(true)
  })

  it('redeems by itself as soon as the requester starts a close', async () => {
    const providerStart = await balanceOf(provider.account.address)
    const channelId = await client.open({
      provider: provider.account.address,
      deposit: DEPOSIT,
      closeTimeout: 600,
    })
    const session = await client.session({
      provider: providerHost.peerId,
      channelId,
      modelHash: hash,
      pricePerRequest: PRICE,
    })
    for (let k = 0; k < 3; k++) await session.infer(inputsFor(k).inputs)
    await session.close()
    await client.startClose(channelId)
    // no explicit redeem: the provider's close watch notices the close
    const deadline = Date.now() + 20_000
    while ((await getChannel(admin, { paymentChannels, channelId }))?.paid !== 3n * PRICE) {
      if (Date.now() > deadline) throw new Error('the provider did not redeem the closing channel')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(await balanceOf(provider.account.address)).toBe(providerStart + 3n * PRICE)
    // the provider records the redeem once it has read the receipt, a moment after the chain shows it
    while ((await server.latestVoucher(channelId))?.redeemed !== 3n * PRICE) {
      if (Date.now() > deadline)
        throw new Error('the provider did not record its redeem of the closing channel')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
})
