import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin
let dir: string
let dataDir: string
const children: ChildProcess[] = []

/** Runs the built `ocn` as a real child process with a clean environment. */
const ocn = (args: string[], env: Record<string, string> = {}) => runOcnIn(dir, args, { env })

/** The object `ocn start --json` prints when the node runs. */
interface ReadyLine {
  status: string
  api: string
  address: string
  peerId: string
}

/** Starts `ocn start` and resolves with its readiness object. */
function startDaemon(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; ready: ReadyLine }> {
  const child = spawn(process.execPath, [bin, 'start', '--json', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('\n')) resolve({ child, ready: JSON.parse(out.split('\n')[0]!) as ReadyLine })
    })
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString()
    })
    child.on('exit', (code) => reject(new Error(`ocn start exited with ${code} before ready: ${out} ${err}`)))
  })
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

beforeAll(() => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
})

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ocn-cli-'))
  dataDir = join(dir, 'node')
})

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited(child)
    }
  }
  await rm(dir, { recursive: true, force: true })
})

describe('ocn init', () => {
  it('creates keys, refuses to overwrite them, replaces them with --force', async () => {
    const created = await ocn(['init', '--data-dir', dataDir, '--json'])
    expect(created.code).toBe(0)
    const first = JSON.parse(created.stdout)
    expect(first).toMatchObject({ dataDir, encrypted: false })
    expect(first.address).toMatch(/^0x[0-9a-fA-F]{40}$/)
    expect(first.peerId).toMatch(/^12D3KooW/)
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700)
    // the API token for the console: created once, shown only with --print-url
    expect(first.apiTokenCreated).toBe(true)
    const token = (await readFile(join(dataDir, 'api-token'), 'utf8')).trim()
    const shown = await ocn(['console', '--print-url', '--data-dir', dataDir, '--json'])
    expect(JSON.parse(shown.stdout).url).toBe(`http://127.0.0.1:7410/#token=${token}`)
    expect((await stat(join(dataDir, 'keys', 'evm.key'))).mode & 0o777).toBe(0o600)

    const again = await ocn(['init', '--data-dir', dataDir])
    expect(again.code).toBe(2)
    expect(again.stdout).toBe('')
    expect(again.stderr.trim().split('\n')).toHaveLength(1)
    expect(again.stderr).toMatch(/^error: keys already exist in .*pass --force/)

    const againJson = await ocn(['init', '--data-dir', dataDir, '--json'])
    expect(againJson.code).toBe(2)
    expect(JSON.parse(againJson.stdout).error.code).toBe('KEYS_EXIST')

    const forced = await ocn(['init', '--data-dir', dataDir, '--force', '--json'])
    expect(forced.code).toBe(0)
    expect(JSON.parse(forced.stdout).address).not.toBe(first.address)
  })

  it('encrypts with a passphrase file, and start rejects a wrong passphrase', async () => {
    const file = join(dir, 'pass.txt')
    await writeFile(file, 'open sesame\n')
    const created = await ocn(['init', '--data-dir', dataDir, '--passphrase-file', file, '--json'])
    expect(created.code).toBe(0)
    expect(JSON.parse(created.stdout).encrypted).toBe(true)
    expect(await readFile(join(dataDir, 'keys', 'evm.key'), 'utf8')).not.toContain('"secret"')

    const wrong = await ocn(['start', '--data-dir', dataDir, '--api-port', '0', '--json'], {
      OCN_PASSPHRASE: 'nope',
    })
    expect(wrong.code).toBe(2)
    expect(JSON.parse(wrong.stdout).error.code).toBe('KEYS_WRONG_PASSPHRASE')

    const right = await startDaemon(['--data-dir', dataDir, '--api-port', '0', '--log-level', 'warn'], {
      OCN_PASSPHRASE: 'open sesame',
    })
    expect(right.ready.address).toBe(JSON.parse(created.stdout).address)
    right.child.kill('SIGTERM')
    expect(await exited(right.child)).toBe(0)

    const missing = await ocn(['start', '--data-dir', dataDir, '--api-port', '0'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('OCN_PASSPHRASE')
  })
})

describe('ocn start and ocn status', () => {
  it('runs the daemon, answers status through the local API, and stops on SIGTERM', async () => {
    const init = JSON.parse((await ocn(['init', '--data-dir', dataDir, '--json'])).stdout)
    const { child, ready } = await startDaemon([
      '--data-dir',
      dataDir,
      '--api-port',
      '0',
      '--log-level',
      'warn',
    ])
    expect(ready).toMatchObject({ status: 'running', address: init.address, peerId: init.peerId })
    expect(ready.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    const status = await ocn(['status', '--data-dir', dataDir, '--json'])
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({
      api: ready.api,
      address: init.address,
      services: { state: 'running', api: 'running' },
    })
    const text = await ocn(['status', '--data-dir', dataDir])
    expect(text.stdout).toContain(init.peerId)

    child.kill('SIGTERM')
    expect(await exited(child)).toBe(0)
    expect(existsSync(join(dataDir, 'api.json'))).toBe(false)

    const down = await ocn(['status', '--data-dir', dataDir, '--api-port', String(new URL(ready.api).port)])
    expect(down.code).toBe(2)
    expect(down.stderr).toMatch(
      /^error: cannot reach the node API at http:\/\/127\.0\.0\.1:\d+: is the daemon running/,
    )
  })

  it('restarts on the same data dir after kill -9 (stale runtime file, database lock released)', async () => {
    await ocn(['init', '--data-dir', dataDir])
    const first = await startDaemon(['--data-dir', dataDir, '--api-port', '0', '--log-level', 'warn'])
    first.child.kill('SIGKILL')
    await exited(first.child)
    // The runtime file survives the kill but names a dead process, so status does not trust it.
    expect(existsSync(join(dataDir, 'api.json'))).toBe(true)
    const port = new URL(first.ready.api).port
    const stale = await ocn(['status', '--data-dir', dataDir, '--api-port', port])
    expect(stale.code).toBe(2)
    expect(stale.stderr).toContain('is the daemon running')

    const second = await startDaemon(['--data-dir', dataDir, '--api-port', '0', '--log-level', 'warn'])
    expect(second.ready.status).toBe('running')
    const status = await ocn(['status', '--data-dir', dataDir, '--json'])
    expect(JSON.parse(status.stdout).api).toBe(second.ready.api)
    second.child.kill('SIGINT')
    expect(await exited(second.child)).toBe(0)
  })

  it('refuses to start without keys, or a role without a deployment to run against', async () => {
    const noKeys = await ocn(['start', '--data-dir', dataDir, '--api-port', '0'])
    expect(noKeys.code).toBe(2)
    expect(noKeys.stderr).toMatch(/^error: no key file at .*run `ocn init`/)

    await ocn(['init', '--data-dir', dataDir])
    const role = await ocn([
      'start',
      '--data-dir',
      dataDir,
      '--api-port',
      '0',
      '--role',
      'provider',
      '--json',
    ])
    expect(role.code).toBe(2)
    // a role needs the chain: the missing deployment file is named, with what to do
    expect(JSON.parse(role.stdout).error.code).toBe('CHAIN_DEPLOYMENT_MISSING')
  })
})

describe('ocn config show and usage errors', () => {
  it('shows the effective config with its sources', async () => {
    await writeFile(
      join(dir, 'ocn.json'),
      JSON.stringify({ chain: { confirmations: 4 }, api: { port: 1000 } }),
    )
    const shown = await ocn(['config', 'show', '--config', 'ocn.json', '--api-port', '2000', '--json'], {
      OCN_RPC_URL: 'https://rpc.example.org',
    })
    expect(shown.code).toBe(0)
    const result = JSON.parse(shown.stdout)
    expect(result.configFile).toBe(join(dir, 'ocn.json'))
    expect(result.config).toMatchObject({
      chain: { confirmations: 4, rpcUrl: 'https://rpc.example.org' },
      api: { port: 2000 },
      requester: { maxPrice: '1000000000000000000' },
    })
    expect(result.sources).toMatchObject({
      'chain.confirmations': 'file',
      'chain.rpcUrl': 'env',
      'api.port': 'flag',
    })
  })

  it.each([
    [['frobnicate'], /^error: unknown command "frobnicate"/],
    [['init', '--no-such-flag'], /^error: Unknown option '--no-such-flag'/],
    [['config', 'show', '--api-port', 'x'], /^error: flag --api-port: api\.port must be an integer/],
    [['config', 'show', '--config', 'missing.json'], /^error: cannot read config file/],
    [['status', '--api-url', 'ftp://x'], /^error: --api-url must be an http URL/],
    [['init', 'extra'], /^error: unexpected argument "extra"/],
    [['init', '--encrypt'], /^error: no passphrase: set OCN_PASSPHRASE or pass --passphrase-file/],
  ])('ocn %j fails with one clear line and exit code 2', async (args, message) => {
    const outcome = await ocn(args)
    expect(outcome.code).toBe(2)
    expect(outcome.stderr.trim().split('\n')).toHaveLength(1)
    expect(outcome.stderr).toMatch(message)
  })

  it('prints help, command help and the version', async () => {
    const help = await ocn(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('ocn <command>')
    for (const command of [
      'init',
      'start',
      'status',
      'config show',
      'provider start',
      'verifier start',
      'stake',
      'unstake',
      'balance',
      'market deposit',
      'market withdraw',
      'job submit',
      'job status',
      'job results',
      'devnet',
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))

    const startHelp = await ocn(['start', '--help'])
    expect(startHelp.stdout).toContain('--rpc-url')
    expect(startHelp.stdout).toContain('--no-mdns')

    const version = await ocn(['--version', '--json'])
    expect(JSON.parse(version.stdout).version).toMatch(/^\d+\.\d+\.\d+/)

    const helpWord = await ocn(['help', 'config', 'show'])
    expect(helpWord.code).toBe(0)
    expect(helpWord.stdout).toContain('Usage: ocn config show')
    // --version never runs the command it is attached to.
    const initVersion = await ocn(['init', '--data-dir', dataDir, '--version'])
    expect(initVersion.stdout).toMatch(/^ocn \d+\.\d+\.\d+/)
    expect(existsSync(dataDir)).toBe(false)
    const bare = await ocn([])
    expect(bare.code).toBe(2)
  })
})
