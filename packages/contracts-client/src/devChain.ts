/**
 * The embedded dev chain: anvil from the `@foundry-rs/anvil` npm package (its platform
 * binary package), on a free loopback port, with deterministic accounts from a known
 * mnemonic. The child is killed by `stop()` and, as a last resort, when this process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { type Address, type Chain, defineChain, type HDAccount, type Hex } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { DevChainError } from './errors.js'

/** Foundry's well-known test mnemonic: never use its accounts outside a dev chain. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'

export interface DevChainOptions {
  /** port; 0 (default) picks a free one */
  port?: number
  /**
   * Address anvil binds (default 127.0.0.1): a local address only, such as the host's end of a
   * testnet bridge that network namespaces reach it on.
   */
  host?: string
  chainId?: number
  mnemonic?: string
  accountCount?: number
  /** ether per account */
  balanceEther?: number
  /** seconds between blocks; undefined mines one block per transaction */
  blockTime?: number
  /** path to an anvil binary; defaults to the platform package of @foundry-rs/anvil */
  binary?: string
  /** how long to wait for anvil to answer */
  startTimeoutMs?: number
  signal?: AbortSignal
}

export const defaultDevChainOptions: Required<
  Pick<DevChainOptions, 'port' | 'chainId' | 'mnemonic' | 'accountCount' | 'balanceEther' | 'startTimeoutMs'>
> = {
  port: 0,
  chainId: 31337,
  mnemonic: DEV_MNEMONIC,
  accountCount: 10,
  balanceEther: 10_000,
  startTimeoutMs: 20_000,
}

export interface DevChain {
  rpcUrl: string
  port: number
  chain: Chain
  /** accounts derived from the mnemonic (index 0 first); they hold `balanceEther` each */
  accounts: HDAccount[]
  /** private keys of `accounts`, same order */
  privateKeys: Hex[]
  pid: number | undefined
  /** kills anvil and waits for it to exit; safe to call twice */
  stop(): Promise<void>
}

/** Finds the anvil binary shipped in @foundry-rs/anvil's per-platform package. */
export function resolveAnvilBinary(): string {
  const require = createRequire(import.meta.url)
  const arch = process.arch === 'x64' ? 'amd64' : process.arch
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`
  let dir: string
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`))
  } catch (err) {
    throw new DevChainError(`anvil binary package ${pkg} is not installed`, {
      details: 'install @foundry-rs/anvil (its optional platform dependency provides the binary)',
      cause: err,
    })
  }
  const binary = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
  if (!existsSync(binary)) throw new DevChainError(`anvil binary missing at ${pkg}/bin`)
  return binary
}

/** A free loopback TCP port (probed, then released for whoever binds it next). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

/** True when something already accepts connections on the port (it would answer for us). */
async function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (inUse: boolean) => {
      socket.destroy()
      resolve(inUse)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

async function rpcReady(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    return res.ok
  } catch {
    return false
  }
}

/** Synchronous last-resort killers of every running dev chain, for the 'exit' hook. */
const live = new Map<ChildProcess, () => void>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // 'exit' handlers must be synchronous: a SIGKILL is all we can still send
  process.on('exit', () => {
    for (const killNow of live.values()) killNow()
  })
}

export async function startDevChain(options: DevChainOptions = {}): Promise<DevChain> {
  const opts = { ...defaultDevChainOptions, ...options }
  const binary = options.binary ?? resolveAnvilBinary()
  installExitHook()
  // A free port can be taken between probing and binding: retry a few times.
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    opts.signal?.throwIfAborted()
    const port = opts.port === 0 ? await freePort() : opts.port
    try {
      return await launch(binary, port, opts)
    } catch (err) {
      lastError = err
      if (opts.port !== 0) break
    }
  }
  throw lastError instanceof DevChainError
    ? lastError
    : new DevChainError('anvil did not start', { cause: lastError })
}

async function launch(
  binary: string,
  port: number,
  opts: DevChainOptions & typeof defaultDevChainOptions,
): Promise<DevChain> {
  // anvil would fail to bind, while the readiness probe got answers from the other process
  const host = opts.host ?? '127.0.0.1'
  if (await portInUse(port, host)) throw new DevChainError(`port ${port} on ${host} is already in use`)
  const args = [
    '--host',
    host,
    '--port',
    String(port),
    '--chain-id',
    String(opts.chainId),
    '--mnemonic',
    opts.mnemonic,
    '--accounts',
    String(opts.accountCount),
    '--balance',
    String(opts.balanceEther),
    '--quiet',
  ]
  if (opts.blockTime !== undefined) args.push('--block-time', String(opts.blockTime))
  // On POSIX anvil runs under a tiny sh watchdog that holds our end of a pipe: when this
  // process dies in any way (even SIGKILL, or a test worker torn down), the pipe closes, `read`
  // returns and the watchdog kills anvil. An 'exit' hook alone misses signals and workers.
  const watchdog = process.platform !== 'win32'
  const child = watchdog
    ? spawn(
        '/bin/sh',
        [
          '-c',
          'trap "" INT; "$0" "$@" & anvil=$!; echo $anvil; read -r _; kill $anvil 2>/dev/null; wait $anvil',
          binary,
          ...args,
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      )
    : spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let anvilPid: number | undefined = watchdog ? undefined : child.pid
  if (watchdog) {
    child.stdout?.setEncoding('utf8')
    child.stdout?.once('data', (line: string) => {
      const pid = Number.parseInt(line.trim(), 10)
      if (Number.isSafeInteger(pid) && pid > 0) anvilPid = pid
    })
    // an unread pipe must not keep the event loop alive
    child.stdin?.on('error', () => {})
  }
  live.set(child, () => {
    if (watchdog && anvilPid !== undefined) {
      try {
        process.kill(anvilPid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    // keep only the tail: enough to explain a failed start
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child)
      resolve()
    })
  })
  let hasExited = false
  void exited.then(() => {
    hasExited = true
  })
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject))
  spawnError.catch(() => {})

  const kill = async () => {
    if (hasExited) return
    if (watchdog) child.stdin?.end()
    else child.kill('SIGTERM')
    const timer = setTimeout(() => live.get(child)?.(), 3000)
    await exited
    clearTimeout(timer)
  }

  const rpcUrl = `http://${host}:${port}`
  const deadline = Date.now() + opts.startTimeoutMs
  try {
    for (;;) {
      if (hasExited)
        throw new DevChainError('anvil exited during start-up', { details: stderr.trim() || undefined })
      if (opts.signal?.aborted) throw new DevChainError('anvil start aborted', { cause: opts.signal.reason })
      if (Date.now() > deadline) {
        throw new DevChainError(`anvil did not answer on ${rpcUrl} within ${opts.startTimeoutMs} ms`)
      }
      const ready = await Promise.race([rpcReady(rpcUrl, 1000), spawnError])
      if (ready) break
      await new Promise((r) => setTimeout(r, 50))
    }
  } catch (err) {
    await kill()
    throw err instanceof DevChainError ? err : new DevChainError('anvil failed to start', { cause: err })
  }

  const accounts = Array.from({ length: opts.accountCount }, (_, i) =>
    mnemonicToAccount(opts.mnemonic, { addressIndex: i }),
  )
  const privateKeys = accounts.map((a) => {
    const key = a.getHdKey().privateKey
    if (!key) throw new DevChainError('could not derive a dev account key')
    return `0x${Buffer.from(key).toString('hex')}` as Hex
  })
  const chain = defineChain({
    id: opts.chainId,
    name: 'OCN dev chain (anvil)',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  })
  return { rpcUrl, port, chain, accounts, privateKeys, pid: anvilPid, stop: kill }
}

export type { Address }
