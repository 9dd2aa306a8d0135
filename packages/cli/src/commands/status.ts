import { readApiRuntimeFile } from '@ocn/node'
import { type Command, stringFlag } from '../command.js'
import { loadConfigFor } from '../context.js'
import { CliError } from '../errors.js'
import { connectNodeApi } from '../node-api.js'

function apiUrlFromFlag(text: string): string {
  try {
    const url = new URL(text)
    if (url.protocol !== 'http:') throw new Error('not http')
    return url.origin
  } catch {
    throw new CliError(
      'CLI_USAGE',
      `--api-url must be an http URL such as http://127.0.0.1:7410 (got "${text}")`,
    )
  }
}

export const statusCommand: Command = {
  path: ['status'],
  summary: "show the running node's status (read from its local API)",
  usage: 'ocn status [--api-url <url>] [config flags]',
  configFlags: true,
  maxPositionals: 0,
  flags: {
    'api-url': {
      type: 'string',
      value: '<url>',
      description: 'API of the node to ask (default: the one in the data dir)',
    },
  },
  async run(context) {
    const { config } = await loadConfigFor(context)
    const flagUrl = stringFlag(context.flags, 'api-url')
    // A running daemon announces its API (whatever port it got) in the data dir.
    const announced = flagUrl === undefined ? await readApiRuntimeFile(config.dataDir) : undefined
    const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host
    const url =
      flagUrl !== undefined
        ? apiUrlFromFlag(flagUrl)
        : (announced?.url ?? `http://${host}:${config.api.port}`)
    const status = await connectNodeApi(url).call('read', (client) => client.status())
    const services = Object.entries(status.services)
      .map(([name, state]) => `${name}=${state}`)
      .join(' ')
    const jobs = Object.entries(status.jobs)
      .map(([state, count]) => `${state}=${count}`)
      .join(' ')
    const lines = [
      `node ${status.version} at ${url}, up ${Math.round(status.uptimeMs / 1000)} s`,
      `  roles     ${status.roles.length === 0 ? '(none)' : status.roles.join(', ')}`,
      `  address   ${status.address ?? '(no keys loaded)'}`,
      `  peer id   ${status.peerId ?? '(no keys loaded)'}`,
      `  services  ${services}`,
      `  chain     ${status.chain?.rpcUrl ?? '-'}${status.chain?.chainId === undefined ? '' : ` chain ${status.chain.chainId}`}${status.chain?.blockNumber === undefined ? '' : ` block ${status.chain.blockNumber}`}`,
      `  jobs      ${jobs === '' ? '(none)' : jobs}`,
    ]
    if (status.network !== undefined)
      lines.push(`  network   ${status.network.peers} peers, listening on ${status.network.listen.join(' ')}`)
    return { json: { api: url, ...status }, text: lines.join('\n') }
  },
}
