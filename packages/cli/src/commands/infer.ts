import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { getChannel, getChannelsDomain } from '@ocn/contracts-client'
import { modelHash, type NamedTensors, readTensorFiles, writeTensorFile } from '@ocn/node'
import { type ChannelClient, createChannelClient } from '@ocn/node/channels'
import { createOcnHost, type OcnHost } from '@ocn/node/p2p'
import { type Address, formatEther, type Hex, isAddress, isHex } from 'viem'
import { type Command, type CommandContext, type CommandResult, stringFlag } from '../command.js'
import { loadConfigFor, loggerFor } from '../context.js'
import { CliError } from '../errors.js'
import { loadKeysFor, passphraseFlag } from './account.js'
import { type ChainAccess, openChain, parseOpenAmount, toChainCommandError } from './chain-access.js'
import {
  paymentChannelsFlag,
  paymentChannelsFor,
  readModelFile,
  serveCommand,
  toChannelCommandError,
} from './serve.js'

/** What this requester signed on each channel, so a later `ocn infer` goes on from there. */
async function readSpent(dataDir: string, channelId: Hex): Promise<bigint> {
  try {
    const text = await readFile(join(dataDir, 'channels', `${channelId}.json`), 'utf8')
    const spent = (JSON.parse(text) as { spent?: unknown }).spent
    return typeof spent === 'string' && /^[0-9]+$/.test(spent) ? BigInt(spent) : 0n
  } catch {
    return 0n
  }
}

async function writeSpent(dataDir: string, channelId: Hex, spent: bigint): Promise<void> {
  await mkdir(join(dataDir, 'channels'), { recursive: true })
  await writeFile(
    join(dataDir, 'channels', `${channelId}.json`),
    `${JSON.stringify({ channelId, spent: spent.toString() })}\n`,
  )
}

/** What every `ocn infer` needs: this account on the chain, its channel client and its (unstarted) host. */
interface InferChannels {
  dataDir: string
  access: ChainAccess
  paymentChannels: Address
  /** --channel, checked to be a channel id. */
  channelFlag: Hex | undefined
  host: OcnHost
  client: ChannelClient
}

async function connectChannels(context: CommandContext): Promise<InferChannels> {
  const loaded = await loadConfigFor(context)
  const { config } = loaded
  const keys = await loadKeysFor(context, config.dataDir)
  const logger = loggerFor(context, loaded)
  const access = await openChain(config, keys.account)
  const paymentChannels = await paymentChannelsFor(context, config.dataDir)
  if (paymentChannels === undefined) throw new CliError('CLI_USAGE', 'pass --payment-channels <address>')
  const channelFlag = stringFlag(context.flags, 'channel')
  if (channelFlag !== undefined && (!isHex(channelFlag) || channelFlag.length !== 66)) {
    throw new CliError('CLI_USAGE', `--channel ${channelFlag} is not a channel id (32 bytes of hex)`)
  }
  const domain = await getChannelsDomain(access.client, { paymentChannels }).catch((cause: unknown) => {
    throw toChainCommandError(cause, access)
  })
  const token = access.deployment.addresses.token
  const host = await createOcnHost(
    { privateKey: keys.privateKey, listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, mdns: false },
    { logger },
  )
  const client = createChannelClient({ paymentChannels, token, domain }, { host, wallet: access.client })
  return { dataDir: config.dataDir, access, paymentChannels, channelFlag, host, client }
}

/** `--close` starts the close timeout of --channel; `--withdraw` recovers its unspent deposit after it. */
async function closeOrWithdraw(context: CommandContext, channels: InferChannels): Promise<CommandResult> {
  const { access, client, paymentChannels, channelFlag } = channels
  if (channelFlag === undefined) throw new CliError('CLI_USAGE', '--close and --withdraw need --channel <id>')
  try {
    if (context.flags.close === true) await client.startClose(channelFlag)
    else await client.withdraw(channelFlag)
  } catch (cause) {
    throw toChainCommandError(cause, access)
  }
  const state = await getChannel(access.client, { paymentChannels, channelId: channelFlag })
  return {
    json: {
      channelId: channelFlag,
      closesAt: state?.closesAt ?? 0,
      finalized: state?.finalized ?? false,
    },
    text:
      context.flags.close === true
        ? `closing channel ${channelFlag}; withdraw after ${new Date((state?.closesAt ?? 0) * 1000).toISOString()}`
        : `channel ${channelFlag} finalized; the unspent deposit is back`,
  }
}

interface InferRequest {
  provider: Multiaddr
  model: Uint8Array
  inputs: NamedTensors
  price: bigint
  requests: number
  deposit: bigint
  providerAddress: Address | undefined
  outputPath: string | undefined
}

/** The flags of an inference run, checked in the order the usage errors are reported. */
async function parseInferRequest(context: CommandContext, usage: string): Promise<InferRequest> {
  const providerFlag = stringFlag(context.flags, 'provider')
  if (providerFlag === undefined) throw new CliError('CLI_USAGE', `--provider is required; usage: ${usage}`)
  let provider: Multiaddr
  try {
    provider = multiaddr(providerFlag)
  } catch (cause) {
    throw new CliError('CLI_USAGE', `--provider ${providerFlag} is not a multiaddr`, { cause })
  }
  const model = await readModelFile(stringFlag(context.flags, 'model'), usage)
  const inputsPath = stringFlag(context.flags, 'inputs')
  if (inputsPath === undefined) throw new CliError('CLI_USAGE', `--inputs is required; usage: ${usage}`)
  const inputs = await readTensorFiles([inputsPath], { maxBytes: 8 * 1024 * 1024 })
  const price = parseOpenAmount(stringFlag(context.flags, 'price'), 'the price per request')
  const requests = Number(stringFlag(context.flags, 'requests') ?? '1')
  if (!Number.isSafeInteger(requests) || requests < 1)
    throw new CliError('CLI_USAGE', '--requests must be a positive integer')
  const depositFlag = stringFlag(context.flags, 'deposit')
  const deposit = depositFlag === undefined ? price * 100n : parseOpenAmount(depositFlag, 'the deposit')
  const providerAddress = stringFlag(context.flags, 'provider-address')
  if (providerAddress !== undefined && !isAddress(providerAddress)) {
    throw new CliError('CLI_USAGE', `--provider-address ${providerAddress} is not an address`)
  }
  const outputPath = stringFlag(context.flags, 'output')
  return { provider, model, inputs, price, requests, deposit, providerAddress, outputPath }
}

/** --channel, or a channel opened to --provider-address with --deposit. */
async function channelFor(channels: InferChannels, request: InferRequest): Promise<Hex> {
  if (channels.channelFlag !== undefined) return channels.channelFlag
  if (request.providerAddress === undefined) {
    throw new CliError(
      'CLI_USAGE',
      'opening a channel needs --provider-address <0x...> (the provider account)',
    )
  }
  try {
    return await channels.client.open({ provider: request.providerAddress, deposit: request.deposit })
  } catch (cause) {
    throw toChainCommandError(cause, channels.access)
  }
}

/**
 * Sends the requests over one session, recording what was signed after each so that a later
 * `ocn infer --channel` goes on from there.
 */
async function sendRequests(channels: InferChannels, request: InferRequest): Promise<CommandResult> {
  const { dataDir, host, client } = channels
  const { requests } = request
  await host.start()
  try {
    const channelId = await channelFor(channels, request)
    const spentBefore = await readSpent(dataDir, channelId)
    const session = await client.session({
      provider: request.provider,
      channelId,
      modelHash: modelHash(request.model),
      pricePerRequest: request.price,
      spent: spentBefore,
    })
    let outputs = {}
    try {
      for (let i = 0; i < requests; i++) {
        outputs = await session.infer(request.inputs)
        await writeSpent(dataDir, channelId, session.spent)
      }
    } catch (error) {
      throw toChannelCommandError(error)
    } finally {
      await session.close()
    }
    if (request.outputPath !== undefined) await writeTensorFile(request.outputPath, outputs)
    const shapes = Object.fromEntries(
      Object.entries(outputs).map(([name, t]) => [name, (t as { dims: number[] }).dims]),
    )
    return {
      json: { channelId, requests, spent: session.spent.toString(), outputs: shapes },
      text: `${requests} request(s) served on channel ${channelId}; ${formatEther(session.spent)} OPEN signed in total; outputs ${JSON.stringify(shapes)}`,
    }
  } finally {
    await host.stop()
  }
}

export const inferCommand: Command = {
  path: ['infer'],
  summary: 'run inference at a provider, paying per request through a payment channel',
  usage:
    'ocn infer --provider <multiaddr> --model <file> --inputs <file> --price <OPEN> [--channel <id> | --provider-address <0x...> --deposit <OPEN>] [--requests <n>] [--output <file>] [--close | --withdraw] [--payment-channels <address>]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    provider: {
      type: 'string',
      value: '<multiaddr>',
      description: "the provider's address, with /p2p/<peerId>",
    },
    'provider-address': {
      type: 'string',
      value: '<0x...>',
      description: "the provider's account, which a new channel pays (`ocn serve` prints it)",
    },
    model: { type: 'string', value: '<file>', description: 'ONNX model' },
    inputs: { type: 'string', value: '<file>', description: 'inputs (.safetensors or .npy)' },
    price: { type: 'string', value: '<OPEN>', description: 'price of one request, e.g. 0.001' },
    channel: {
      type: 'string',
      value: '<id>',
      description: 'an open channel of this account (default: open one)',
    },
    deposit: {
      type: 'string',
      value: '<OPEN>',
      description: 'deposit of a new channel (default 100 requests)',
    },
    requests: { type: 'string', value: '<n>', description: 'requests to send with these inputs (default 1)' },
    output: { type: 'string', value: '<file>', description: 'write the last outputs here (.safetensors)' },
    close: {
      type: 'boolean',
      description: 'start closing --channel (the refund is ready after its timeout)',
    },
    withdraw: { type: 'boolean', description: 'after the timeout: recover what --channel did not spend' },
    ...paymentChannelsFlag,
    ...passphraseFlag,
  },
  async run(context) {
    const channels = await connectChannels(context)
    if (context.flags.close === true || context.flags.withdraw === true)
      return closeOrWithdraw(context, channels)
    const request = await parseInferRequest(context, this.usage)
    return sendRequests(channels, request)
  },
}

/** `ocn serve` and `ocn infer`, registered together in the command table. */
export const channelCommands: readonly Command[] = [serveCommand, inferCommand]
