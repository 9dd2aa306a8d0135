/**
 * Supervision of the devnet's node processes: each is a real `ocn start` child with its
 * own data dir, logging to `<dataDir>/node.log`. Every child is tracked so that it is
 * stopped on exit, error or signal; a last-resort exit hook kills what is left, and the
 * children also stop by themselves when this process dies (their stdin closes).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DevnetError } from './errors.js'

/** What `ocn start --json` prints when the node runs. */
export interface NodeReadyLine {
  status: string
  api: string | null
  address: string
  peerId: string
  dataDir: string
  pid: number
}

export interface NodeProcess<Ready = NodeReadyLine> {
  name: string
  dataDir: string
  logPath: string
  child: ChildProcess
  ready: Ready
  /** The lines printed on stdout so far, the ready line first (a command's result comes last). */
  printed(): string[]
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/** The built `ocn` entry next to this module (dist/devnet -> dist/bin). */
export function ocnBinPath(): string {
  const beside = fileURLToPath(new URL('../bin/ocn.js', import.meta.url))
  // Loaded from src/ (tests run the TypeScript sources): the built entry is in dist/.
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
}

/** The built devnet-only entry that runs `ocn start` with a provider fault plan (bin/faulty-node.ts). */
export function faultyNodeBinPath(): string {
  return join(dirname(ocnBinPath()), 'faulty-node.js')
}

const live = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OCN_')))
}

export interface SpawnNodeOptions {
  name: string
  dataDir: string
  /** Arguments after `ocn <command> --json --data-dir <dataDir>`. */
  args: readonly string[]
  /** The script that runs the command; default the `ocn` entry (ocnBinPath). */
  entry?: string
  /** The long-running command whose first JSON line says it is ready; default `['start']`. */
  command?: readonly string[]
  /** Where stderr goes; default `<dataDir>/node.log`. */
  logPath?: string
  env?: NodeJS.ProcessEnv
  /**
   * A command that runs node in turn and execs it (`ip netns exec <ns>`), so that the child is
   * the node itself; none by default.
   */
  wrapper?: readonly string[]
  timeoutMs: number
  signal?: AbortSignal
}

/**
 * Starts `ocn start` (or another long-running command, such as `ocn serve`) and resolves once
 * it announced that it runs.
 */
export async function spawnNode<Ready = NodeReadyLine>(
  options: SpawnNodeOptions,
): Promise<NodeProcess<Ready>> {
  installExitHook()
  const logPath = options.logPath ?? join(options.dataDir, 'node.log')
  const child = spawnLongRunning(options, logPath)
  const stdout = collectStdout(child)
  const stop = (graceMs?: number) => stopChild(child, graceMs)
  const ready = await readReadyLine<Ready>(child, stdout, options, logPath).catch(async (error: unknown) => {
    await stop(1_000)
    throw error
  })
  const printed = () => stdout.text.split('\n').filter((line) => line.trim() !== '')
  return { name: options.name, dataDir: options.dataDir, logPath, child, ready, stop, printed }
}

/** Spawns the command, tracked until it exits, its stderr appended to `logPath`. */
function spawnLongRunning(options: SpawnNodeOptions, logPath: string): ChildProcess {
  const log = createWriteStream(logPath, { flags: 'a' })
  const command = options.command ?? ['start']
  const argv = [
    process.execPath,
    options.entry ?? ocnBinPath(),
    ...command,
    '--json',
    '--data-dir',
    options.dataDir,
    ...options.args,
  ]
  const [file, ...rest] = [...(options.wrapper ?? []), ...argv]
  const child = spawn(file!, rest, {
    // stdin stays an open pipe: when this process dies, it closes and the node stops itself.
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group: a terminal's Ctrl-C reaches the devnet only, which then stops
    // each node once (a node signalled twice would skip its clean shutdown).
    detached: true,
    // The node's config file decides; an OCN_* variable of the user's shell (OCN_API_PORT...)
    // would override it for every node alike and make them collide.
    env: { ...inheritedEnv(), ...options.env, OCN_STOP_ON_STDIN_CLOSE: '1' },
  })
  live.add(child)
  child.once('exit', () => {
    live.delete(child)
    log.end()
  })
  child.stderr!.pipe(log, { end: false })
  return child
}

/** Everything the child printed on stdout so far. */
function collectStdout(child: ChildProcess): { readonly text: string } {
  const collected = { text: '' }
  child.stdout!.on('data', (chunk: Buffer) => {
    collected.text += chunk.toString('utf8')
  })
  return collected
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited(child)
    clearTimeout(timer)
  }
  // What it printed while stopping (a command's result) may still be in the pipe; bounded,
  // since a stray grandchild could hold the pipe open.
  const stdout = child.stdout!
  if (!stdout.closed) {
    let timer: NodeJS.Timeout | undefined
    await new Promise((resolve) => {
      stdout.once('close', resolve)
      timer = setTimeout(resolve, 2_000)
    })
    clearTimeout(timer)
  }
}

/**
 * Resolves with the first line the command prints once it runs; rejects when that line is an
 * error, unreadable, or does not come in time, when the child exits or cannot be spawned
 * first, or when the signal aborts.
 */
function readReadyLine<Ready>(
  child: ChildProcess,
  stdout: { readonly text: string },
  options: SpawnNodeOptions,
  logPath: string,
): Promise<Ready> {
  const { name } = options
  return new Promise<Ready>((resolve, reject) => {
    let settled = false
    const finish = (error: Error | undefined, line?: Ready) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if (error !== undefined) reject(error)
      else resolve(line!)
    }
    const onAbort = () => finish(new DevnetError('DEVNET_ABORTED', `starting ${name} was aborted`))
    const timer = setTimeout(
      () =>
        finish(
          new DevnetError('DEVNET_NODE_TIMEOUT', `${name} did not start within ${options.timeoutMs} ms`, {
            details: `see ${logPath}`,
          }),
        ),
      options.timeoutMs,
    )
    options.signal?.addEventListener('abort', onAbort, { once: true })
    child.stdout!.on('data', () => {
      const newline = stdout.text.indexOf('\n')
      if (newline === -1 || settled) return
      const line = parseReadyLine<Ready>(stdout.text.slice(0, newline), name, logPath)
      if (line instanceof DevnetError) finish(line)
      else finish(undefined, line)
    })
    child.once('exit', (code, signal) =>
      finish(
        new DevnetError('DEVNET_NODE_FAILED', `${name} exited (${signal ?? code}) before it was ready`, {
          details: `${stdout.text.trim()} see ${logPath}`,
        }),
      ),
    )
    child.once('error', (cause) =>
      finish(new DevnetError('DEVNET_NODE_FAILED', `${name} could not be spawned`, { cause })),
    )
  })
}

/** The ready line, or why the command did not start (the error it printed, or an unreadable line). */
function parseReadyLine<Ready>(first: string, name: string, logPath: string): Ready | DevnetError {
  try {
    const parsed = JSON.parse(first) as Ready & { error?: { code: string; message: string } }
    if (parsed.error === undefined) return parsed
    return new DevnetError('DEVNET_NODE_FAILED', `${name} failed to start: ${parsed.error.message}`, {
      details: `${parsed.error.code}; see ${logPath}`,
    })
  } catch (cause) {
    return new DevnetError('DEVNET_NODE_FAILED', `${name} printed an unreadable line`, {
      cause,
      details: first,
    })
  }
}

export interface OcnRunResult {
  /** Exit code; null when a signal (the timeout's) ended it. */
  code: number | null
  stdout: string
  /** The last stdout line as JSON (`--json` prints the result or the error there). */
  result: Record<string, unknown> | undefined
}

/**
 * Runs a one-shot `ocn <args...>` (such as `ocn infer`) to its end, stderr appended to
 * `logPath`; the child is tracked like the nodes, so it never outlives the devnet.
 */
export async function runOcn(
  args: readonly string[],
  options: { logPath: string; timeoutMs: number; signal?: AbortSignal },
): Promise<OcnRunResult> {
  installExitHook()
  const log = createWriteStream(options.logPath, { flags: 'a' })
  const child = spawn(process.execPath, [ocnBinPath(), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: inheritedEnv(),
  })
  live.add(child)
  child.stderr!.pipe(log, { end: false })
  let stdout = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8')
  })
  const kill = () => child.kill('SIGKILL')
  const timer = setTimeout(kill, options.timeoutMs)
  options.signal?.addEventListener('abort', kill, { once: true })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (cause) =>
      reject(new DevnetError('DEVNET_NODE_FAILED', `ocn ${args[0]} could not be spawned`, { cause })),
    )
    child.once('close', (exitCode) => resolve(exitCode))
  }).finally(() => {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', kill)
    live.delete(child)
    log.end()
  })
  const last = stdout.trim().split('\n').at(-1)
  let result: Record<string, unknown> | undefined
  try {
    result = last === undefined || last === '' ? undefined : (JSON.parse(last) as Record<string, unknown>)
  } catch {
    result = undefined
  }
  return { code, stdout, result }
}
