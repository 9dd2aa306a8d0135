import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { deployPaymentChannels, getChannelsDomain } from '@ocn/contracts-client'
import type { Logger, NodeConfig, NodeKeys } from '@ocn/node'
import {
  createExecutor,
  type Executor,
  modelHash,
  NodeError,
  stopOnSignals,
  stopOnStdinClose,
} from '@ocn/node'
import {
  ChannelError,
  type ChannelServer,
  createChannelServer,
  createLevelVoucherStore,
} from '@ocn/node/channels'
import { createOcnHost, type OcnHost } from '@ocn/node/p2p'
import { type Address, formatEther, isAddress } from 'viem'
import { type Command, type CommandContext, stringFlag } from '../command.js'
import { loadConfigFor, loggerFor } from '../context.js'
import { CliError } from '../errors.js'
import { loadKeysFor, passphraseFlag } from './account.js'
import { type ChainAccess, openChain, parseOpenAmount, toChainCommandError } from './chain-access.js'

/** A payment-channel command failed; the code is the ChannelError code. */
export class ChannelCommandError extends NodeError<string> {
  override name = 'ChannelCommandError'
}

export function toChannelCommandError(error: unknown): unknown {
  if (error instanceof ChannelError) {
    const code = (error as { remoteCode?: string }).remoteCode ?? error.code
    return new ChannelCommandError(`CHANNEL_${code}`, error.shortMessage, {
      details: error.details,
      cause: error,
    })
  }
  return error
}

export const paymentChannelsFlag = {
  'payment-channels': {
    type: 'string' as const,
    value: '<address>',
    description: 'the PaymentChannels contract (default: the one recorded in <dataDir>/channels.json)',
  },
}

/** The PaymentChannels address: the flag, or the one this data dir recorded. */
export async function paymentChannelsFor(
  context: CommandContext,
  dataDir: string,
): Promise<Address | undefined> {
  const flag = stringFlag(context.flags, 'payment-channels')
  if (flag !== undefined) {
    if (!isAddress(flag)) throw new CliError('CLI_USAGE', `--payment-channels ${flag} is not an address`)
    return flag
  }
  try {
    const recorded = JSON.parse(await readFile(join(dataDir, 'channels.json'), 'utf8')) as {
      paymentChannels?: unknown
    }
    return typeof recorded.paymentChannels === 'string' && isAddress(recorded.paymentChannels)
      ? recorded.paymentChannels
      : undefined
  } catch {
    return undefined
  }
}

export async function readModelFile(path: string | undefined, usage: string): Promise<Uint8Array> {
  if (path === undefined) throw new CliError('CLI_USAGE', `--model is required; usage: ${usage}`)
  try {
    return new Uint8Array(await readFile(path))
  } catch (cause) {
    throw new CliError('CLI_USAGE', `cannot read the model file ${path}`, { cause })
  }
}

/** The PaymentChannels contract to serve on: --payment-channels, the recorded one, or one deployed now. */
async function resolvePaymentChannels(
  context: CommandContext,
  access: ChainAccess,
  dataDir: string,
): Promise<Address> {
  let paymentChannels = await paymentChannelsFor(context, dataDir)
  try {
    if (context.flags['deploy-channels'] === true) {
      ;({ paymentChannels } = await deployPaymentChannels(access.client, {
        token: access.deployment.addresses.token,
      }))
      await mkdir(dataDir, { recursive: true })
      await writeFile(join(dataDir, 'channels.json'), `${JSON.stringify({ paymentChannels }, null, 2)}\n`)
    }
  } catch (cause) {
    throw toChainCommandError(cause, access)
  }
  if (paymentChannels === undefined) {
    throw new CliError('CLI_USAGE', 'no PaymentChannels contract known', {
      details: 'pass --payment-channels <address>, or --deploy-channels on a dev chain',
    })
  }
  return paymentChannels
}

interface ServeSetup {
  config: NodeConfig
  keys: NodeKeys
  logger: Logger
  access: ChainAccess
  paymentChannels: Address
  model: Uint8Array
  price: bigint
}

/** A channel server that runs, with what it runs on. */
interface Serving extends ServeSetup {
  executor: Executor
  host: OcnHost
  server: ChannelServer
}

async function startServing(setup: ServeSetup): Promise<Serving> {
  const { config, keys, logger, access, paymentChannels, model, price } = setup
  const domain = await getChannelsDomain(access.client, { paymentChannels }).catch((cause: unknown) => {
    throw toChainCommandError(cause, access)
  })
  const executor = createExecutor({ options: { poolSize: 1 } }, { logger })
  const host = await createOcnHost(
    { privateKey: keys.privateKey, listen: config.network.listen, dht: false, mdns: config.network.mdns },
    { logger },
  )
  const server = createChannelServer(
    { models: [{ model, pricePerRequest: price }], paymentChannels, domain },
    {
      host,
      executor,
      wallet: access.client,
      store: createLevelVoucherStore({ directory: join(config.dataDir, 'vouchers') }),
      logger,
    },
  )
  await executor.start()
  await host.start()
  await server.start()
  return { ...setup, executor, host, server }
}

/** One redeemed channel as `ocn serve --json` reports it. */
interface RedeemedChannel {
  channelId: string
  payout: string
  cumulativeAmount: string
  transaction: string
  gasUsed: string
}

/** Prints the ready line, serves until a signal (or a closed stdin) and redeems on the way out. */
async function serveUntilStopped(
  context: CommandContext,
  serving: Serving,
  closeOnStop: boolean,
): Promise<{ redeemed: RedeemedChannel[]; signal: NodeJS.Signals }> {
  const { server, host, executor, logger, model, price, paymentChannels } = serving
  let redeemed: RedeemedChannel[] = []
  const service = {
    async stop() {
      // Redeem before leaving: an unredeemed voucher is only as safe as this data dir. With
      // --close-on-stop the same transaction also finalizes the channel and refunds the
      // requester, who then need not wait out the close timeout.
      const results = await server.redeemAll({ close: closeOnStop })
      redeemed = results.map((r) => ({
        channelId: r.channelId,
        payout: r.payout.toString(),
        cumulativeAmount: r.cumulativeAmount.toString(),
        transaction: r.hash,
        gasUsed: r.receipt.gasUsed.toString(),
      }))
      await server.stop()
      await host.stop()
      await executor.stop()
    },
  }
  const { stopped, dispose } = stopOnSignals(service, {
    logger,
    ...(context.io.signals === undefined ? {} : { signals: context.io.signals }),
    onForce: () => process.exit(130),
  })
  // Under a supervisor (the devnet) the service stops, and redeems, when the supervisor dies.
  const unwatchStdin = stopOnStdinClose(context.io)
  const ready = {
    status: 'serving',
    peerId: host.peerId.toString(),
    addresses: host.getMultiaddrs().map((a) => a.toString()),
    paymentChannels,
    modelHash: modelHash(model),
    price: price.toString(),
    provider: serving.access.address,
  }
  context.io.stdout.write(
    context.json
      ? `${JSON.stringify(ready)}\n`
      : `serving model ${ready.modelHash} at ${formatEther(price)} OPEN per request on ${ready.addresses.join(', ')} (PaymentChannels ${paymentChannels})\n`,
  )
  const signal = await stopped
  dispose()
  unwatchStdin()
  return { redeemed, signal }
}

export const serveCommand: Command = {
  path: ['serve'],
  summary: 'serve paid inference over payment channels (/ocn/infer/1.0.0) until Ctrl-C, then redeem',
  usage:
    'ocn serve --model <file> --price <OPEN> [--payment-channels <address>] [--close-on-stop] [--passphrase-file <file>] [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    model: { type: 'string', value: '<file>', description: 'ONNX model' },
    price: { type: 'string', value: '<OPEN>', description: 'price of one request, e.g. 0.001' },
    ...paymentChannelsFlag,
    'deploy-channels': {
      type: 'boolean',
      description: 'deploy a PaymentChannels contract for the deployment token (dev chains)',
    },
    'close-on-stop': {
      type: 'boolean',
      description:
        'on stop, close the channels cooperatively (closeByProvider): redeem and refund the requesters in one transaction',
    },
    ...passphraseFlag,
  },
  async run(context) {
    const loaded = await loadConfigFor(context)
    const { config } = loaded
    const model = await readModelFile(stringFlag(context.flags, 'model'), this.usage)
    const price = parseOpenAmount(stringFlag(context.flags, 'price'), 'the price per request')
    const keys = await loadKeysFor(context, config.dataDir)
    const logger = loggerFor(context, loaded)
    const access = await openChain(config, keys.account)
    const paymentChannels = await resolvePaymentChannels(context, access, config.dataDir)
    const serving = await startServing({ config, keys, logger, access, paymentChannels, model, price })
    const closeOnStop = context.flags['close-on-stop'] === true
    const { redeemed, signal } = await serveUntilStopped(context, serving, closeOnStop)
    const total = redeemed.reduce((sum, r) => sum + BigInt(r.payout), 0n)
    return {
      json: { redeemed, closed: closeOnStop },
      text: `${closeOnStop ? 'closed' : 'redeemed'} ${redeemed.length} channel(s), ${formatEther(total)} OPEN redeemed`,
      note: signal,
    }
  },
}
