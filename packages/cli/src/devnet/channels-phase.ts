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
import { readTensorFiles, typedView } from '@ocn/node'
import { type Address, formatEther, type Hex, isAddress, parseEther, parseEventLogs } from 'viem'
import { getBlockNumber, getContractEvents, getTransactionCount, getTransactionReceipt } from 'viem/actions'
import { DevnetError } from './errors.js'
import type {
  DevnetAfterContext,
  DevnetPhase,
  DevnetPhaseContext,
  DevnetPhaseReport,
  DevnetRunningMember,
} from './phase.js'
import { type NodeProcess, runOcn, spawnNode } from './processes.js'
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

/** The parties of the demonstration and the ledgers it reads. */
interface ChannelRun {
  context: DevnetAfterContext
  started: number
  dir: string
  paymentChannels: Address
  provider: DevnetRunningMember
  requester: DevnetRunningMember
  /** Inputs of the workload's inference jobs on its model. */
  inputs: string[]
  /** The price of one request in OPEN, as the CLI takes it. */
  price: string
  balance(account: Address): Promise<bigint>
  /** Nonces count every transaction an account sends: the ledger of "no transaction per request". */
  nonce(address: Address): Promise<number>
  providerNonceBefore: number
}

const CLI_TIMEOUT_MS = 60_000

async function planRun(context: DevnetAfterContext): Promise<ChannelRun> {
  const started = Date.now()
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
  const providerNonceBefore = await nonce(provider.address)
  return {
    context,
    started,
    dir: phaseDir(context),
    paymentChannels,
    provider,
    requester,
    inputs,
    price: formatEther(CHANNEL_PRICE),
    balance,
    nonce,
    providerNonceBefore,
  }
}

function startServe(run: ChannelRun): Promise<NodeProcess<ServeReady>> {
  const { context, provider } = run
  const signal = context.signal
  context.step(`channels: ${provider.name} runs ocn serve`)
  return spawnNode<ServeReady>({
    name: `${provider.name} (ocn serve)`,
    command: ['serve'],
    dataDir: provider.dataDir,
    logPath: join(run.dir, 'serve.log'),
    args: [
      '--model',
      context.workload.modelPath,
      '--price',
      run.price,
      '--payment-channels',
      run.paymentChannels,
      '--close-on-stop',
      // its own port: the node's configured one is taken by the provider's `ocn start`
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
    ],
    timeoutMs: CLI_TIMEOUT_MS,
    ...(signal === undefined ? {} : { signal }),
  })
}

/** Where the requester dials serve: its loopback address, with /p2p/<peerId>. */
function dialableAddress(ready: ServeReady): string {
  const address = ready.addresses.find((a) => a.includes('/ip4/127.0.0.1/')) ?? ready.addresses[0]
  if (address === undefined) throw new DevnetError('DEVNET_PHASE_FAILED', 'ocn serve listens nowhere')
  return address.includes('/p2p/') ? address : `${address}/p2p/${ready.peerId}`
}

interface Balances {
  requester: bigint
  provider: bigint
  contract: bigint
}

function readBalances(run: ChannelRun): Promise<Balances> {
  return Promise.all([
    run.balance(run.requester.address),
    run.balance(run.provider.address),
    run.balance(run.paymentChannels),
  ]).then(([requester, provider, contract]) => ({ requester, provider, contract }))
}

interface InferRun {
  result: InferResult
  /** The outputs it wrote are probability distributions of the right shape. */
  valid: boolean
}

/** One `ocn infer` process: opens a channel (`channel` undefined) or goes on with one. */
async function infer(
  run: ChannelRun,
  dialable: string,
  index: number,
  channel: Hex | undefined,
): Promise<InferRun> {
  const { context, requester, provider } = run
  const signal = context.signal
  const outputPath = join(run.dir, `outputs-${index + 1}.safetensors`)
  const inputsPath = run.inputs[index % run.inputs.length]!
  const args = [
    'infer',
    '--json',
    '--data-dir',
    requester.dataDir,
    '--provider',
    dialable,
    '--payment-channels',
    run.paymentChannels,
    '--model',
    context.workload.modelPath,
    '--inputs',
    inputsPath,
    '--price',
    run.price,
    '--requests',
    String(CHANNEL_REQUESTS[index]),
    '--output',
    outputPath,
    ...(channel === undefined
      ? ['--provider-address', provider.address, '--deposit', formatEther(CHANNEL_DEPOSIT)]
      : ['--channel', channel]),
  ]
  const ran = await runOcn(args, {
    logPath: join(run.dir, 'infer.log'),
    timeoutMs: CLI_TIMEOUT_MS,
    ...(signal === undefined ? {} : { signal }),
  })
  const result = ran.result as InferResult | undefined
  if (ran.code !== 0 || result?.channelId === undefined) throw inferFailure(`ocn infer #${index + 1}`, ran)
  const rows = (await readTensorFiles([inputsPath])).input?.dims[0] ?? -1
  return { result, valid: await outputsValid(outputPath, rows) }
}

/** The requests, over one channel from two `ocn infer` processes, and the ledgers around them. */
interface Served {
  before: Balances
  fromBlock: bigint
  channelId: Hex
  first: InferRun
  second: InferRun
  requesterTransactions: number
  /** Transactions the provider sent while serving (before serve stopped). */
  providerTransactionsServing: number
}

async function serveRequests(run: ChannelRun, dialable: string): Promise<Served> {
  const { context, requester, provider } = run
  const [before, fromBlock, requesterNonceBefore] = await Promise.all([
    readBalances(run),
    getBlockNumber(context.admin),
    run.nonce(requester.address),
  ])
  context.step(`channels: requester opens a channel and sends ${CHANNEL_REQUESTS[0]} requests (ocn infer)`)
  const first = await infer(run, dialable, 0, undefined)
  const channelId = first.result.channelId!
  context.step(`channels: ${CHANNEL_REQUESTS[1]} more requests on the same channel (ocn infer --channel)`)
  const second = await infer(run, dialable, 1, channelId)
  // Only vouchers so far: the requester sent approve and open, the provider nothing.
  const [requesterTransactions, providerTransactionsServing] = await Promise.all([
    run.nonce(requester.address).then((n) => n - requesterNonceBefore),
    run.nonce(provider.address).then((n) => n - run.providerNonceBefore),
  ])
  return { before, fromBlock, channelId, first, second, requesterTransactions, providerTransactionsServing }
}

/** What stopping serve did: its closing redeem, as it reports it and as the chain shows it. */
interface Settlement {
  serveResult: ServeResult | undefined
  redeemed: NonNullable<ServeResult['redeemed']>
  providerTransactions: number
  voucherTotal: bigint
  state: Awaited<ReturnType<typeof getChannel>>
  redeemEvents: Awaited<ReturnType<typeof readRedeemEvents>>
  transaction: Hex | undefined
  redeemGas: bigint
  paid: bigint
  refunded: bigint
  after: Balances
}

function readRedeemEvents(run: ChannelRun, channelId: Hex, fromBlock: bigint) {
  return getContractEvents(run.context.admin, {
    address: run.paymentChannels,
    abi: paymentChannelsAbi,
    eventName: 'VoucherRedeemed',
    args: { channelId },
    fromBlock,
  })
}

async function stopAndSettle(
  run: ChannelRun,
  serve: NodeProcess<ServeReady>,
  served: Served,
): Promise<Settlement> {
  const { context, paymentChannels } = run
  const client = context.admin
  const { channelId } = served
  context.step(`channels: stopping ocn serve (it closes the channel: redeem + refund)`)
  await serve.stop(20_000)
  const last = serve.printed().at(-1)
  const serveResult = last === undefined ? undefined : (JSON.parse(last) as ServeResult)
  const redeemed = (serveResult?.redeemed ?? []).filter((r) => r.channelId === channelId)
  const providerTransactions = (await run.nonce(run.provider.address)) - run.providerNonceBefore

  const voucherTotal = BigInt(served.second.result.spent ?? '0')
  const state = await getChannel(client, { paymentChannels, channelId })
  const redeemEvents = await readRedeemEvents(run, channelId, served.fromBlock)
  const transaction = redeemed[0]?.transaction
  const receipt =
    transaction === undefined ? undefined : await getTransactionReceipt(client, { hash: transaction })
  const finalized =
    receipt === undefined
      ? undefined
      : parseEventLogs({ abi: paymentChannelsAbi, logs: receipt.logs, eventName: 'ChannelFinalized' })[0]
  return {
    serveResult,
    redeemed,
    providerTransactions,
    voucherTotal,
    state,
    redeemEvents,
    transaction,
    redeemGas: receipt?.gasUsed ?? 0n,
    paid: finalized?.args.paidToProvider ?? 0n,
    refunded: finalized?.args.refundedToRequester ?? 0n,
    after: await readBalances(run),
  }
}

function channelChecks(served: Served, settled: Settlement): Record<string, boolean> {
  const { first, second, before } = served
  const { state, paid, refunded, after, voucherTotal, redeemEvents } = settled
  const requests = CHANNEL_REQUESTS[0] + CHANNEL_REQUESTS[1]
  return {
    servedAll:
      first.result.requests === CHANNEL_REQUESTS[0] &&
      second.result.requests === CHANNEL_REQUESTS[1] &&
      voucherTotal === CHANNEL_PRICE * BigInt(requests) &&
      first.valid &&
      second.valid,
    vouchersOffChain: served.requesterTransactions === 2 && served.providerTransactionsServing === 0,
    redeemedOnce:
      settled.serveResult?.closed === true &&
      settled.redeemed.length === 1 &&
      settled.providerTransactions === 1 &&
      redeemEvents.length === 1 &&
      redeemEvents[0]!.transactionHash === settled.transaction &&
      redeemEvents[0]!.args.cumulativeAmount === voucherTotal,
    channelFinalized: state?.finalized === true && state.paid === voucherTotal,
    depositConserved:
      state !== undefined &&
      state.deposit === CHANNEL_DEPOSIT &&
      paid === voucherTotal &&
      paid + refunded === state.deposit &&
      before.requester - after.requester === paid &&
      after.provider - before.provider === paid &&
      after.contract === before.contract,
  }
}

function channelReport(run: ChannelRun, served: Served, settled: Settlement): DevnetPhaseReport {
  const { provider, paymentChannels } = run
  const { voucherTotal, paid, refunded, redeemGas, providerTransactions } = settled
  const { requesterTransactions } = served
  const requests = CHANNEL_REQUESTS[0] + CHANNEL_REQUESTS[1]
  return {
    report: {
      paymentChannels,
      provider: provider.name,
      channelId: served.channelId,
      requests,
      price: CHANNEL_PRICE,
      deposit: CHANNEL_DEPOSIT,
      voucherTotal,
      redeemed: paid,
      refunded,
      // for all the requests: approve + open, and the one closeByProvider
      transactions: { requester: requesterTransactions, provider: providerTransactions },
      redeemTransaction: settled.transaction ?? null,
      redeemGas,
      durationMs: Date.now() - run.started,
    },
    checks: channelChecks(served, settled),
    lines: [
      `${requests} requests served by ${provider.name} over one channel (ocn serve / ocn infer); transactions: requester ${requesterTransactions} (approve, open), provider ${providerTransactions}`,
      `vouchers ${formatEther(voucherTotal)} OPEN; one closeByProvider redeemed ${formatEther(paid)} OPEN and refunded ${formatEther(refunded)} OPEN of the ${formatEther(CHANNEL_DEPOSIT)} OPEN deposit (${redeemGas} gas)`,
    ],
    tokenHolders: [paymentChannels],
  }
}

async function afterWorkload(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const run = await planRun(context)
  const serve = await startServe(run)
  try {
    const served = await serveRequests(run, dialableAddress(serve.ready))
    const settled = await stopAndSettle(run, serve, served)
    return channelReport(run, served, settled)
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
