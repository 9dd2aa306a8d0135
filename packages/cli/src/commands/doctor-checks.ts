/**
 * `ocn doctor`'s checks: each looks at one part of a node's set-up and, when it is wrong,
 * says what to do about it. The checks reach the outside world (chain, sockets, disk) only
 * through `DoctorProbes`, so each failure kind is tested without building it for real.
 */
import { stat } from 'node:fs/promises'
import type { NodeConfig, NodeKeyPaths } from '@ocn/node'
import { formatOpen } from './chain-access.js'

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip'

export interface CheckResult {
  /** Short stable name: node, keys, chain, funds, listen, bootstrap, execution, disk. */
  name: string
  status: CheckStatus
  message: string
  /** What to do about a warning or a failure. */
  fix?: string
}

/** What the chain said about the node account, or the error that stopped it asking. */
export type ChainReport =
  | {
      chainId: number
      native: bigint
      token: bigint
      staked: bigint
      locked: bigint
      /** prepaid OPEN in the JobMarket: a requester pays awards from it when it covers the price */
      market?: bigint
    }
  | { error: { code: string; message: string; fix?: string | undefined } }

export interface DoctorProbes {
  /** Connects to the chain, checks the deployment's chain id and reads the account's balances. */
  chain(config: NodeConfig, address: string): Promise<ChainReport>
  /** Whether a TCP port can be bound on this host (the error code when not). */
  bind(host: string, port: number): Promise<string | undefined>
  /** Whether a TCP connection to host:port opens (the error code when not). */
  connect(host: string, port: number): Promise<string | undefined>
  /** Free bytes on the file system of `path`. */
  freeBytes(path: string): Promise<bigint>
  /** The ONNX Runtime execution providers installed here. */
  executionProviders(): string[]
}

/** The Node version @ocn/cli's package.json asks for (engines). */
export const MIN_NODE_VERSION = [20, 11] as const
/** Below this the state database, artifacts and the zk keys stop fitting. */
export const MIN_FREE_BYTES = 1n << 30n
/** Below this a warning: one large model or proving key fills the rest. */
export const LOW_FREE_BYTES = 5n << 30n
/** Gas coin below this runs out within a few transactions (0.01 of the native coin). */
export const LOW_GAS_WEI = 10n ** 16n

export function checkNodeVersion(version: string): CheckResult {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
  const [needMajor, needMinor] = MIN_NODE_VERSION
  const ok = major > needMajor || (major === needMajor && minor >= needMinor)
  return ok
    ? { name: 'node', status: 'ok', message: `Node.js ${version}` }
    : {
        name: 'node',
        status: 'fail',
        message: `Node.js ${version} is older than ${needMajor}.${needMinor}`,
        fix: `install Node.js ${needMajor}.${needMinor} or newer (nodejs.org, or nvm install ${needMajor})`,
      }
}

/** The key files exist and no one but their owner can read them. */
export async function checkKeys(paths: NodeKeyPaths): Promise<CheckResult> {
  const loose: string[] = []
  for (const path of [paths.evm, paths.libp2p]) {
    let mode: number
    try {
      mode = (await stat(path)).mode
    } catch {
      return {
        name: 'keys',
        status: 'fail',
        message: `no key at ${path}`,
        fix: 'run `ocn init` (with the same --data-dir) to create the node keys',
      }
    }
    if ((mode & 0o077) !== 0) loose.push(`${path} (mode ${(mode & 0o777).toString(8)})`)
  }
  if (loose.length > 0)
    return {
      name: 'keys',
      status: 'fail',
      message: `others can read the node keys: ${loose.join(', ')}`,
      fix: `chmod 600 ${[paths.evm, paths.libp2p].join(' ')} && chmod 700 ${paths.dir}`,
    }
  return { name: 'keys', status: 'ok', message: `keys in ${paths.dir}, readable by their owner only` }
}

/** The chain answers, its id is the deployment's, and the account can pay gas and stake. */
export function checkChainAndFunds(report: ChainReport, config: NodeConfig): CheckResult[] {
  if ('error' in report)
    return [
      {
        name: 'chain',
        status: 'fail',
        message: report.error.message,
        fix: report.error.fix ?? `check chain.rpcUrl (${config.chain.rpcUrl}) and chain.deploymentFile`,
      },
      { name: 'funds', status: 'skip', message: 'the chain could not be read' },
    ]
  const chain: CheckResult = {
    name: 'chain',
    status: 'ok',
    message: `chain ${report.chainId} at ${config.chain.rpcUrl} matches the deployment`,
  }
  const problems: string[] = []
  const fixes: string[] = []
  if (report.native < LOW_GAS_WEI) {
    problems.push(`gas coin ${report.native} wei`)
    fixes.push('send the chain’s native coin to the node account for gas')
  }
  const free = report.staked - report.locked
  if (config.roles.includes('provider') && free <= 0n) {
    problems.push(`no free stake (staked ${formatOpen(report.staked)}, locked ${formatOpen(report.locked)})`)
    fixes.push('stake OPEN so the provider can bid: `ocn stake <amount>`')
  }
  const market = report.market ?? 0n
  if (config.roles.includes('requester') && report.token === 0n && market === 0n) {
    problems.push('no OPEN to pay for jobs (wallet and market balance empty)')
    fixes.push('send OPEN to the node account (and optionally `ocn market deposit <amount>`)')
  }
  const funds: CheckResult =
    problems.length === 0
      ? {
          name: 'funds',
          status: 'ok',
          message: `gas ${report.native} wei, ${formatOpen(report.token)}${market > 0n ? ` (+ ${formatOpen(market)} in the market balance)` : ''}, free stake ${formatOpen(free)}`,
        }
      : { name: 'funds', status: 'fail', message: problems.join('; '), fix: fixes.join('; ') }
  return [chain, funds]
}

/** host and TCP port of a multiaddr such as /ip4/0.0.0.0/tcp/4101 (undefined for other transports). */
export function tcpAddress(multiaddr: string): { host: string; port: number } | undefined {
  const match = /^\/(?:ip4|ip6|dns|dns4|dns6)\/([^/]+)\/tcp\/(\d{1,5})(?:\/|$)/.exec(multiaddr)
  if (match === null) return undefined
  const port = Number(match[2])
  return port > 65_535 ? undefined : { host: match[1]!, port }
}

/**
 * Each listen address can be bound. While the node runs it holds them itself, so then each
 * must accept a connection instead.
 */
export async function checkListen(
  listen: string[],
  running: boolean,
  probes: Pick<DoctorProbes, 'bind' | 'connect'>,
): Promise<CheckResult> {
  const failed: string[] = []
  for (const address of listen) {
    const tcp = tcpAddress(address)
    if (tcp === undefined) continue
    if (running) {
      if (tcp.port === 0) continue
      const host = tcp.host === '0.0.0.0' ? '127.0.0.1' : tcp.host === '::' ? '::1' : tcp.host
      const error = await probes.connect(host, tcp.port)
      if (error !== undefined) failed.push(`${address} (${error})`)
    } else {
      const error = await probes.bind(tcp.host, tcp.port)
      if (error !== undefined) failed.push(`${address} (${error})`)
    }
  }
  if (failed.length === 0)
    return {
      name: 'listen',
      status: 'ok',
      message: `listen addresses usable: ${listen.join(' ') || '(none)'}`,
    }
  return {
    name: 'listen',
    status: 'fail',
    message: running
      ? `the running node does not accept connections on ${failed.join(', ')}`
      : `cannot listen on ${failed.join(', ')}`,
    fix: running
      ? 'check the firewall and that network.listen names this host'
      : 'another process holds the port (another node?), or the address is not this host’s: change network.listen (--listen)',
  }
}

/** Every bootstrap peer accepts a TCP connection. */
export async function checkBootstrap(
  bootstrap: string[],
  probes: Pick<DoctorProbes, 'connect'>,
): Promise<CheckResult> {
  if (bootstrap.length === 0)
    return { name: 'bootstrap', status: 'skip', message: 'no bootstrap peers configured (mDNS only)' }
  const failed: string[] = []
  for (const address of bootstrap) {
    const tcp = tcpAddress(address)
    const error = tcp === undefined ? 'not a TCP multiaddr' : await probes.connect(tcp.host, tcp.port)
    if (error !== undefined) failed.push(`${address} (${error})`)
  }
  if (failed.length === 0)
    return { name: 'bootstrap', status: 'ok', message: `${bootstrap.length} bootstrap peer(s) reachable` }
  return {
    name: 'bootstrap',
    status: 'fail',
    message: `cannot reach bootstrap peer(s): ${failed.join(', ')}`,
    fix: 'check network.bootstrap (--bootstrap) against the network’s published peers, and the outbound firewall',
  }
}

/** A provider's devices have their execution provider installed (cuda needs the GPU build). */
export function checkExecution(config: NodeConfig, installed: string[]): CheckResult {
  if (!config.roles.includes('provider'))
    return { name: 'execution', status: 'skip', message: 'not a provider: nothing is executed here' }
  const missing = config.provider.devices
    .map((device) => device.split(':')[0]!)
    .filter((provider, i, all) => all.indexOf(provider) === i && !installed.includes(provider))
  if (missing.length === 0)
    return {
      name: 'execution',
      status: 'ok',
      message: `devices ${config.provider.devices.join(', ')} (installed: ${installed.join(', ')})`,
    }
  return {
    name: 'execution',
    status: 'fail',
    message: `provider.devices names ${missing.join(', ')}, which this ONNX Runtime lacks (installed: ${installed.join(', ') || 'none'})`,
    fix: 'install the GPU build of onnxruntime-node with its CUDA libraries, or set provider.devices to cpu',
  }
}

export function checkDisk(path: string, free: bigint): CheckResult {
  const gib = (bytes: bigint) => `${(Number(bytes) / 2 ** 30).toFixed(1)} GiB`
  if (free < MIN_FREE_BYTES)
    return {
      name: 'disk',
      status: 'fail',
      message: `only ${gib(free)} free at ${path}`,
      fix: `free space on that disk or move the data dir (--data-dir); at least ${gib(MIN_FREE_BYTES)} is needed`,
    }
  if (free < LOW_FREE_BYTES)
    return {
      name: 'disk',
      status: 'warn',
      message: `${gib(free)} free at ${path}`,
      fix: `a large model or proving key needs more; keep ${gib(LOW_FREE_BYTES)} free`,
    }
  return { name: 'disk', status: 'ok', message: `${gib(free)} free at ${path}` }
}
