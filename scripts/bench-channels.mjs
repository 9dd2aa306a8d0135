#!/usr/bin/env node
/**
 * Payment-channel benchmark on an embedded anvil and two libp2p nodes over loopback TCP.
 *
 * - throughput: --requests paid inference requests (a tiny 16-32-4 MLP, 8 samples each,
 *   real ONNX Runtime in the executor's worker processes) over --sessions concurrent
 *   channels, each request carrying a freshly signed cumulative voucher that the provider
 *   checks (signature, monotonic, price, deposit) and persists durably before answering.
 * - gas: the whole life of one channel that carries 10,000 requests (approve + open +
 *   one redeem + startClose + withdraw after the timeout), divided by 10,000, against one
 *   ERC20 transfer of OPEN per request, both measured on the same chain in this run.
 *
 * Usage: npm run bench:channels -- [--requests 2000] [--sessions 4] [--json]
 * The last stdout line is one JSON object with --json:
 *   { requestsPerSec, gasPerRequestChannel, gasPerRequestOnchain, ... }
 */
import '@ocn/protocol/polyfill'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  approveToken,
  deployPaymentChannels,
  deployProtocol,
  getChannelsDomain,
  openChannel,
  redeemVoucher,
  startChannelClose,
  startDevChain,
  transferToken,
  withdrawChannel,
} from '@ocn/contracts-client'
import { signVoucher } from '@ocn/protocol'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover/onnx'
import { createTestClient, createWalletClient, http, parseEther } from 'viem'
import { signTypedData } from 'viem/actions'
import {
  createChannelClient,
  createChannelServer,
  createLevelVoucherStore,
} from '../packages/node/dist/channels/index.js'
import { silentLogger } from '../packages/node/dist/core/logger.js'
import { createExecutor, modelHash } from '../packages/node/dist/executor/index.js'
import { createOcnHost } from '../packages/node/dist/p2p/index.js'

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
})
const totalRequests = Number(args.requests)
const sessionCount = Number(args.sessions)
if (!(totalRequests > 0) || !(sessionCount > 0 && sessionCount <= 6)) {
  process.stderr.write('--requests must be positive and --sessions between 1 and 6\n')
  process.exit(2)
}
const log = (text) => (args.json ? process.stderr : process.stdout).write(`${text}\n`)
const AMORTIZED_OVER = 10_000n
const PRICE = parseEther('0.001')

function lcg(seed) {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32 - 0.5
  }
}

const r = lcg(7)
const sizes = [16, 32, 4]
const mlp = {
  layers: sizes.slice(1).map((out, i) => ({
    inFeatures: sizes[i],
    outFeatures: out,
    weight: Float32Array.from({ length: sizes[i] * out }, r),
    bias: Float32Array.from({ length: out }, r),
    activation: i === sizes.length - 2 ? 'none' : 'relu',
  })),
  softmaxOutput: false,
}
const model = encodeOnnxModel(buildMlpModel(mlp))
const batch = 8
const input = () => {
  const x = Float32Array.from({ length: batch * 16 }, r)
  return { input: { dtype: 'float32', dims: [batch, 16], data: new Uint8Array(x.buffer) } }
}

const chain = await startDevChain()
const cleanups = [() => chain.stop()]
try {
  const wallet = (i) =>
    createWalletClient({
      account: chain.accounts[i],
      chain: chain.chain,
      transport: http(chain.rpcUrl),
      pollingInterval: 50,
    })
  const admin = wallet(0)
  const provider = wallet(9)
  const requesters = Array.from({ length: sessionCount }, (_, i) => wallet(i + 1))
  const { token } = (await deployProtocol(admin)).addresses
  for (const w of requesters)
    await transferToken(admin, { token, to: w.account.address, amount: parseEther('1000') })
  const { paymentChannels } = await deployPaymentChannels(admin, { token })
  const domain = await getChannelsDomain(admin, { paymentChannels })
  const gasOf = (result) => result.receipt.gasUsed

  // ---- gas: one channel carrying 10,000 requests vs 10,000 transfers
  const payer = requesters[0]
  const deposit = PRICE * AMORTIZED_OVER
  const approveGas = gasOf(await approveToken(payer, { token, spender: paymentChannels, amount: deposit }))
  const opened = await openChannel(payer, {
    paymentChannels,
    provider: provider.account.address,
    deposit,
    closeTimeout: 600,
  })
  const signer = { signTypedData: (typedData) => signTypedData(payer, typedData) }
  const finalVoucher = await signVoucher(signer, domain, {
    channelId: opened.channelId,
    cumulativeAmount: deposit - PRICE,
  })
  const redeemGas = gasOf(await redeemVoucher(provider, { paymentChannels, ...finalVoucher }))
  const startCloseGas = gasOf(
    await startChannelClose(payer, { paymentChannels, channelId: opened.channelId }),
  )
  const test = createTestClient({ mode: 'anvil', chain: chain.chain, transport: http(chain.rpcUrl) })
  await test.increaseTime({ seconds: 601 })
  await test.mine({ blocks: 1 })
  const withdrawGas = gasOf(await withdrawChannel(payer, { paymentChannels, channelId: opened.channelId }))
  const channelLifeGas = approveGas + gasOf(opened) + redeemGas + startCloseGas + withdrawGas
  // the provider now holds OPEN, so these transfers hit a non-zero balance as they would
  // after the first payment; the mean of a few is reported
  const transfers = []
  for (let i = 0; i < 5; i++) {
    transfers.push(gasOf(await transferToken(payer, { token, to: provider.account.address, amount: PRICE })))
  }
  const transferGas = transfers.reduce((a, b) => a + b, 0n) / BigInt(transfers.length)
  const gasPerRequestChannel = Number(channelLifeGas) / Number(AMORTIZED_OVER)
  const gasPerRequestOnchain = Number(transferGas)
  log(
    `gas: channel life ${channelLifeGas} (approve ${approveGas}, open ${gasOf(opened)}, redeem ${redeemGas}, ` +
      `startClose ${startCloseGas}, withdraw ${withdrawGas}) = ${gasPerRequestChannel.toFixed(2)} per request over ` +
      `${AMORTIZED_OVER} requests; one ERC20 transfer per request ${gasPerRequestOnchain}`,
  )

  // ---- throughput over libp2p
  const executor = createExecutor({ options: { poolSize: 2 } })
  await executor.start()
  cleanups.push(() => executor.stop())
  const providerHost = await createOcnHost({ dht: false }, { logger: silentLogger })
  const requesterHost = await createOcnHost({ dht: false }, { logger: silentLogger })
  await providerHost.start()
  await requesterHost.start()
  cleanups.push(
    () => providerHost.stop(),
    () => requesterHost.stop(),
  )
  const storeDir = await mkdtemp(join(tmpdir(), 'ocn-bench-channels-'))
  cleanups.push(() => rm(storeDir, { recursive: true, force: true }))
  const server = createChannelServer(
    { models: [{ model, pricePerRequest: PRICE }], paymentChannels, domain },
    {
      host: providerHost,
      executor,
      wallet: provider,
      store: createLevelVoucherStore({ directory: storeDir }),
      logger: silentLogger,
    },
  )
  await server.start()
  cleanups.push(() => server.stop())
  await requesterHost.dial(providerHost.getMultiaddrs()[0])

  const perSession = Math.ceil(totalRequests / sessionCount)
  const sessions = []
  for (const w of requesters) {
    const client = createChannelClient({ paymentChannels, token, domain }, { host: requesterHost, wallet: w })
    const channelId = await client.open({
      provider: provider.account.address,
      deposit: PRICE * BigInt(perSession + 10),
      closeTimeout: 600,
    })
    sessions.push(
      await client.session({
        provider: providerHost.peerId,
        channelId,
        modelHash: modelHash(model),
        pricePerRequest: PRICE,
      }),
    )
  }
  // warm-up: sessions opened in the workers, first voucher per channel seen
  await Promise.all(sessions.map((s) => s.infer(input())))
  const started = performance.now()
  let served = 0
  await Promise.all(
    sessions.map(async (s) => {
      for (let i = 0; i < perSession - 1 && served < totalRequests; i++) {
        await s.infer(input())
        served += 1
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const requestsPerSec = served / seconds
  for (const s of sessions) await s.close()
  const redeemed = await server.redeemAll()
  const paid = redeemed.reduce((a, x) => a + x.payout, 0n)
  log(
    `throughput: ${served} requests over ${sessionCount} channel sessions in ${seconds.toFixed(2)} s = ` +
      `${requestsPerSec.toFixed(1)} requests/s; ${redeemed.length} redeem transactions paid ${paid} wei`,
  )
  const figures = {
    requestsPerSec: Math.round(requestsPerSec * 10) / 10,
    gasPerRequestChannel: Math.round(gasPerRequestChannel * 100) / 100,
    gasPerRequestOnchain,
    gasRatio: Math.round((gasPerRequestOnchain / gasPerRequestChannel) * 10) / 10,
    channelLifeGas: Number(channelLifeGas),
    requests: served,
    sessions: sessionCount,
    samplesPerRequest: batch,
  }
  if (args.json) console.log(JSON.stringify(figures))
  else log(JSON.stringify(figures))
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
}
