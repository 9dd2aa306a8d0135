/**
 * The devnet's payment-channel phase: paid inference without a transaction per request.
 *
 * An honest provider runs the real `ocn serve` next to its running `ocn start`, in the same
 * data dir (same account and keys). They do not collide: serve keeps its vouchers in
 * `<dataDir>/vouchers` (the node's LevelDB is `<dataDir>/state`), listens on a port of its own
 * (`--listen /ip4/127.0.0.1/tcp/0` overrides the node's configured one), and runs no DHT or
 * gossip, so the libp2p identity it shares with the node is only ever dialled at serve's own
 * address. The requester runs the real `ocn infer` twice from its data dir (the second run
 * continues the first's channel with `--channel`, so the cumulative count goes on across
 * processes). Then serve is stopped and, with `--close-on-stop`, closes the channel
 * cooperatively: one `closeByProvider` redeems the latest voucher and refunds the rest of
 * the deposit at once, so no close timeout (and no time travel on the shared chain) is needed.
 *
 * Both processes send transactions from accounts whose `ocn start` also runs; that is safe
 * here because the market is settled by the time phases run (the nodes are idle), and viem
 * takes each nonce from the chain when it sends.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deployPaymentChannels, getChannel, getTokenBalance, paymentChannelsAbi } from '@ocn/contracts-client'
import { type Address, formatEther, type Hex, isAddress, parseEther, parseEventLogs } from 'viem'
import { getBlockNumber, getContractEvents, getTransactionCount, getTransactionReceipt } from 'viem/actions'
import { readTensorFiles } from '../executor/formats/index.js'
import { typedView } from '../executor/tensor.js'
import { DevnetError } from './errors.js'
import type { DevnetAfterContext, DevnetPhase, DevnetPhaseContext, DevnetPhaseReport } from './phase.js'
import { runOcn, spawnNode } from './processes.js'
import { WORKLOAD_CLASSES } from './workload.js'

/** Price of one request and the deposit: ten requests' worth, so half of it comes back. */
export const CHANNEL_PRICE = parseEther('0.001')
export const CHANNEL_DEPOSIT = parseEther('0.01')
/** Requests of the first `ocn infer` run (opens the channel) and of the second (continues it). */
export const CHANNEL_REQUESTS = [3, 2] as const

/** `ocn serve --json`'s ready line. */
interface ServeReady {
  status: string
  peerId: string
  addresses: string[]
  paymentChannels: Address
  modelHash: Hex
  price: string
  provider: Address
}

/** `ocn serve --json`'s last line, printed once it stopped. */
interface ServeResult {
  redeemed?: { channelId: Hex; payout: string; cumulativeAmount: string; transaction: Hex; gasUsed: string }[]
  closed?: boolean
}

interface InferResult {
  channelId?: Hex
  requests?: number
  spent?: string
  error?: { code: string; message: string }
}

const phaseDir = (context: DevnetPhaseContext) => join(context.dir, 'channels')
const contractFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'payment-channels.json')

/** Where the PaymentChannels contract comes from: the deployment when it has one, else deployed here. */
async function prepare(context: DevnetPhaseContext): Promise<undefined> {
  await mkdir(phaseDir(context), { recursive: true })
  const existing = (context.deployment.addresses as { paymentChannels?: unknown }).paymentChannels
  let record: { paymentChannels: Address; source: 'deployment' | 'devnet' }
  if (typeof existing === 'string' && isAddress(existing)) {
    record = { paymentChannels: existing, source: 'deployment' }
  } else {
    context.step('channels: deploying PaymentChannels')
    const { paymentChannels } = await deployPaymentChannels(context.admin, {
      token: context.deployment.addresses.token,
    })
    record = { paymentChannels, source: 'devnet' }
  }
  await writeFile(contractFile(context), `${JSON.stringify(record, null, 2)}\n`)
  return undefined
}

async function readContractRecord(context: DevnetPhaseContext): Promise<Address> {
  const raw = JSON.parse(await readFile(contractFile(context), 'utf8')) as { paymentChannels?: unknown }
  if (typeof raw.paymentChannels !== 'string' || !isAddress(raw.paymentChannels))
    throw new DevnetError('DEVNET_PHASE_FAILED', `no PaymentChannels address in ${contractFile(context)}`)
  return raw.paymentChannels
}

/** Every row of every [rows, classes] output is a probability distribution (the model ends in softmax). */
async function outputsValid(path: string, rows: number): Promise<boolean> {
  const tensors = await readTensorFiles([path])
  const list = Object.values(tensors)
  if (list.length === 0) return false
  return list.every((t) => {
    if (t.dtype !== 'float32' || t.dims.length !== 2 || t.dims[0] !== rows || t.dims[1] !== WORKLOAD_CLASSES)
      return false
    const values = typedView(t) as Float32Array
    for (let r = 0; r < rows; r++) {
      let sum = 0
      for (let c = 0; c < WORKLOAD_CLASSES; c++) {
        const v = values[r * WORKLOAD_CLASSES + c]!
        if (!(v >= 0 && v <= 1)) return false
        sum += v
      }
      if (Math.abs(sum - 1) > 1e-4) return false
    }
    return true
  })
}

function inferFailure(name: string, run: { code: number | null; result: InferResult | undefined }): Error {
  return new DevnetError('DEVNET_PHASE_FAILED', `${name} failed (exit ${run.code})`, {
    details: run.result?.error ? `${run.result.error.code}: ${run.result.error.message}` : 'see infer.log',
  })
}

async function afterWorkload(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const started = Date.now()
  const dir = phaseDir(context)
  const paymentChannels = await readContractRecord(context)
  const provider = context.nodes.find((n) => n.roles.includes('provider') && !n.cheater)
  const requester = context.nodes.find((n) => n.roles.includes('requester'))
  if (provider === undefined || requester === undefined)
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the channel phase needs an honest provider and a requester')
  const inputs = context.workload.jobs
    .filter((j) => j.kind === 'inference' && j.modelPath === context.workload.modelPath)
    .map((j) => j.inputsPath)
  if (inputs.length === 0)
    throw new DevnetError('DEVNET_PHASE_FAILED', 'the workload has no inference inputs')
  const client = context.admin
  const token = context.deployment.addresses.token
  const balance = (account: Address) => getTokenBalance(client, { token, account })
  const nonce = (address: Address) => getTransactionCount(client, { address, blockTag: 'pending' })
  const price = formatEther(CHANNEL_PRICE)
  const signal = context.signal
  const timeoutMs = 60_000

  // Nonces count every transaction an account sends: the ledger of "no transaction per request".
  const providerNonceBefore = await nonce(provider.address)
  context.step(`channels: ${provider.name} runs ocn serve`)
  const serve = await spawnNode<ServeReady>({
    name: `${provider.name} (ocn serve)`,
    command: ['serve'],
    dataDir: provider.dataDir,
    logPath: join(dir, 'serve.log'),
    args: [
      '--model',
      context.workload.modelPath,
      '--price',
      price,
      '--payment-channels',
      paymentChannels,
      '--close-on-stop',
      // its own port: the node's configured one is taken by the provider's `ocn start`
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
    ],
    timeoutMs,
    ...(signal === undefined ? {} : { signal }),
  })
  try {
    const address =
      serve.ready.addresses.find((a) => a.includes('/ip4/127.0.0.1/')) ?? serve.ready.addresses[0]
    if (address === undefined) throw new DevnetError('DEVNET_PHASE_FAILED', 'ocn serve listens nowhere')
    const dialable = address.includes('/p2p/') ? address : `${address}/p2p/${serve.ready.peerId}`

    const [requesterBefore, providerBefore, contractBefore, fromBlock, requesterNonceBefore] =
      await Promise.all([
        balance(requester.address),
        balance(provider.address),
        balance(paymentChannels),
        getBlockNumber(client),
        nonce(requester.address),
      ])
    const infer = async (index: number, channel: Hex | undefined) => {
      const outputPath = join(dir, `outputs-${index + 1}.safetensors`)
      const inputsPath = inputs[index % inputs.length]!
      const args = [
        'infer',
        '--json',
        '--data-dir',
        requester.dataDir,
        '--provider',
        dialable,
        '--payment-channels',
        paymentChannels,
        '--model',
        context.workload.modelPath,
        '--inputs',
        inputsPath,
        '--price',
        price,
        '--requests',
        String(CHANNEL_REQUESTS[index]),
        '--output',
        outputPath,
        ...(channel === undefined
          ? ['--provider-address', provider.address, '--deposit', formatEther(CHANNEL_DEPOSIT)]
          : ['--channel', channel]),
      ]
      const run = await runOcn(args, {
        logPath: join(dir, 'infer.log'),
        timeoutMs,
        ...(signal === undefined ? {} : { signal }),
      })
      const result = run.result as InferResult | undefined
      if (run.code !== 0 || result?.channelId === undefined)
        throw inferFailure(`ocn infer #${index + 1}`, run)
      const rows = (await readTensorFiles([inputsPath])).input?.dims[0] ?? -1
      return { result, valid: await outputsValid(outputPath, rows) }
    }

    context.step(`channels: requester opens a channel and sends ${CHANNEL_REQUESTS[0]} requests (ocn infer)`)
    const first = await infer(0, undefined)
    const channelId = first.result.channelId!
    context.step(`channels: ${CHANNEL_REQUESTS[1]} more requests on the same channel (ocn infer --channel)`)
    const second = await infer(1, channelId)
    // Only vouchers so far: the requester sent approve and open, the provider nothing.
    const [requesterTransactions, providerTransactionsServing] = await Promise.all([
      nonce(requester.address).then((n) => n - requesterNonceBefore),
      nonce(provider.address).then((n) => n - providerNonceBefore),
    ])

    context.step(`channels: stopping ocn serve (it closes the channel: redeem + refund)`)
    await serve.stop(20_000)
    const last = serve.printed().at(-1)
    const serveResult = last === undefined ? undefined : (JSON.parse(last) as ServeResult)
    const redeemed = (serveResult?.redeemed ?? []).filter((r) => r.channelId === channelId)
    const providerTransactions = (await nonce(provider.address)) - providerNonceBefore

    const requests = CHANNEL_REQUESTS[0] + CHANNEL_REQUESTS[1]
    const voucherTotal = BigInt(second.result.spent ?? '0')
    const state = await getChannel(client, { paymentChannels, channelId })
    const redeemEvents = await getContractEvents(client, {
      address: paymentChannels,
      abi: paymentChannelsAbi,
      eventName: 'VoucherRedeemed',
      args: { channelId },
      fromBlock,
    })
    const transaction = redeemed[0]?.transaction
    const receipt =
      transaction === undefined ? undefined : await getTransactionReceipt(client, { hash: transaction })
    const finalized =
      receipt === undefined
        ? undefined
        : parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: 'ChannelFinalized' })[0]
    const paid = finalized?.args.paidToProvider ?? 0n
    const refunded = finalized?.args.refundedToRequester ?? 0n
    const [requesterAfter, providerAfter, contractAfter] = await Promise.all([
      balance(requester.address),
      balance(provider.address),
      balance(paymentChannels),
    ])

    const checks = {
      servedAll:
        first.result.requests === CHANNEL_REQUESTS[0] &&
        second.result.requests === CHANNEL_REQUESTS[1] &&
        voucherTotal === CHANNEL_PRICE * BigInt(requests) &&
        first.valid &&
        second.valid,
      vouchersOffChain: requesterTransactions === 2 && providerTransactionsServing === 0,
      redeemedOnce:
        serveResult?.closed === true &&
        redeemed.length === 1 &&
        providerTransactions === 1 &&
        redeemEvents.length === 1 &&
        redeemEvents[0]!.transactionHash === transaction &&
        redeemEvents[0]!.args.cumulativeAmount === voucherTotal,
      channelFinalized: state?.finalized === true && state.paid === voucherTotal,
      depositConserved:
        state !== undefined &&
        state.deposit === CHANNEL_DEPOSIT &&
        paid === voucherTotal &&
        paid + refunded === state.deposit &&
        requesterBefore - requesterAfter === paid &&
        providerAfter - providerBefore === paid &&
        contractAfter === contractBefore,
    }
    const redeemGas = receipt?.gasUsed ?? 0n
    return {
      report: {
        paymentChannels,
        provider: provider.name,
        channelId,
        requests,
        price: CHANNEL_PRICE,
        deposit: CHANNEL_DEPOSIT,
        voucherTotal,
        redeemed: paid,
        refunded,
        // for all the requests: approve + open, and the one closeByProvider
        transactions: { requester: requesterTransactions, provider: providerTransactions },
        redeemTransaction: transaction ?? null,
        redeemGas,
        durationMs: Date.now() - started,
      },
      checks,
      lines: [
        `${requests} requests served by ${provider.name} over one channel (ocn serve / ocn infer); transactions: requester ${requesterTransactions} (approve, open), provider ${providerTransactions}`,
        `vouchers ${formatEther(voucherTotal)} OPEN; one closeByProvider redeemed ${formatEther(paid)} OPEN and refunded ${formatEther(refunded)} OPEN of the ${formatEther(CHANNEL_DEPOSIT)} OPEN deposit (${redeemGas} gas)`,
      ],
      tokenHolders: [paymentChannels],
    }
  } finally {
    // also when a step above failed: the vouchers already accepted get redeemed on the way out
    await serve.stop(20_000)
  }
}

export const channelsPhase: DevnetPhase = {
  name: 'channels',
  prepare,
  afterWorkload,
}
