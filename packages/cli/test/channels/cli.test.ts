/**
 * `ocn serve` and `ocn infer` as real child processes against a real anvil: the provider
 * serves, the requester opens a channel and pays three requests, the provider redeems on
 * SIGTERM and holds exactly the price of three requests more. With `--close-on-stop` under a
 * supervisor (stdin closed), the stop closes the channel and refunds the rest in one go.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  type Deployment,
  type DevChain,
  deployProtocol,
  getChannel,
  getTokenBalance,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { encodeNpy } from '@ocn/node'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover/onnx'
import { createWalletClient, http, parseEther } from 'viem'
import { sendTransaction } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const bin = fileURLToPath(new URL('../../dist/bin/ocn.js', import.meta.url))
let dir: string
let chain: DevChain
let deployment: Deployment
let serve: ChildProcess | undefined

const env = () => ({ PATH: process.env.PATH ?? '', HOME: dir })

function ocn(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: env(), cwd: dir, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

const admin = () =>
  createWalletClient({ account: chain.accounts[0]!, chain: chain.chain, transport: http(chain.rpcUrl) })

async function fundedNode(name: string, open: bigint): Promise<{ dataDir: string; address: `0x${string}` }> {
  const dataDir = join(dir, name)
  const init = await ocn(['init', '--data-dir', dataDir, '--json'])
  expect(init.code).toBe(0)
  const address = JSON.parse(init.stdout).address as `0x${string}`
  await writeDeploymentFile(join(dataDir, 'deployment.json'), deployment)
  await sendTransaction(admin(), { to: address, value: parseEther('1') } as Parameters<
    typeof sendTransaction
  >[1])
  if (open > 0n)
    await transferToken(admin(), { token: deployment.addresses.token, to: address, amount: open })
  return { dataDir, address }
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-channels-cli-'))
  chain = await startDevChain()
  deployment = await deployProtocol(admin())
})

afterAll(async () => {
  if (serve && serve.exitCode === null) serve.kill('SIGKILL')
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A tiny linear model (3 -> 2) and a [2, 3] input, written to the test dir. */
async function modelAndInputs(): Promise<{ modelPath: string; inputsPath: string }> {
  const modelPath = join(dir, 'mlp.onnx')
  await writeFile(
    modelPath,
    encodeOnnxModel(
      buildMlpModel({
        layers: [
          {
            inFeatures: 3,
            outFeatures: 2,
            weight: Float32Array.from([1, 0, 0, 1, 1, 1]),
            bias: Float32Array.from([0, 0.5]),
            activation: 'none',
          },
        ],
        softmaxOutput: false,
      }),
    ),
  )
  const inputsPath = join(dir, 'input.npy')
  const x = Float32Array.from([1, 2, 3, 4, 5, 6])
  await writeFile(inputsPath, encodeNpy({ dtype: 'float32', dims: [2, 3], data: new Uint8Array(x.buffer) }))
  return { modelPath, inputsPath }
}

interface ServeReady {
  addresses: string[]
  peerId: string
  paymentChannels: `0x${string}`
  provider: string
}

/** Starts `ocn serve` on a fresh PaymentChannels; `next()` reads its stdout lines. */
async function startServe(
  dataDir: string,
  modelPath: string,
  extra: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: 'ignore' | 'pipe' } = {},
): Promise<{ ready: ServeReady; dialable: string; next: () => Promise<string> }> {
  serve = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--data-dir',
      dataDir,
      '--rpc-url',
      chain.rpcUrl,
      '--model',
      modelPath,
      '--price',
      '0.01',
      '--deploy-channels',
      '--listen',
      '/ip4/127.0.0.1/tcp/0',
      '--no-mdns',
      '--json',
      ...extra,
    ],
    { env: { ...env(), ...options.env }, cwd: dir, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] },
  )
  const lines = createInterface({ input: serve.stdout! })[Symbol.asyncIterator]()
  const next = async () => (await lines.next()).value as string
  const ready = JSON.parse(await next()) as ServeReady
  const address = ready.addresses[0]!
  const dialable = address.includes('/p2p/') ? address : `${address}/p2p/${ready.peerId}`
  return { ready, dialable, next }
}

describe('ocn serve / ocn infer', () => {
  it('serves paid requests over a channel and redeems the vouchers on exit', async () => {
    const provider = await fundedNode('provider', 0n)
    const requester = await fundedNode('requester', parseEther('10'))
    const { modelPath, inputsPath } = await modelAndInputs()
    const { ready, dialable, next } = await startServe(provider.dataDir, modelPath, [])
    expect(ready.provider.toLowerCase()).toBe(provider.address.toLowerCase())

    const infer = await ocn([
      'infer',
      '--data-dir',
      requester.dataDir,
      '--rpc-url',
      chain.rpcUrl,
      '--provider',
      dialable,
      '--provider-address',
      provider.address,
      '--payment-channels',
      ready.paymentChannels,
      '--model',
      modelPath,
      '--inputs',
      inputsPath,
      '--price',
      '0.01',
      '--deposit',
      '1',
      '--requests',
      '3',
      '--output',
      join(dir, 'out.safetensors'),
      '--json',
    ])
    expect(infer.stderr).toBe('')
    expect(infer.code).toBe(0)
    const result = JSON.parse(infer.stdout) as { spent: string; outputs: Record<string, number[]> }
    expect(result.spent).toBe(parseEther('0.03').toString())
    expect(result.outputs.output).toEqual([2, 2])
    expect(existsSync(join(dir, 'out.safetensors'))).toBe(true)

    const exited = new Promise<number | null>((resolve) => serve!.once('exit', resolve))
    serve!.kill('SIGTERM')
    const final = JSON.parse(await next()) as { redeemed: { payout: string }[]; closed: boolean }
    expect(await exited).toBe(0)
    expect(final.closed).toBe(false)
    expect(final.redeemed.map((r) => r.payout)).toEqual([parseEther('0.03').toString()])
    expect(
      await getTokenBalance(admin(), { token: deployment.addresses.token, account: provider.address }),
    ).toBe(parseEther('0.03'))
  })

  it('--close-on-stop closes cooperatively when its supervisor closes stdin: one transaction pays and refunds', async () => {
    const provider = await fundedNode('provider-close', 0n)
    const requester = await fundedNode('requester-close', parseEther('10'))
    const { modelPath, inputsPath } = await modelAndInputs()
    const { ready, dialable, next } = await startServe(provider.dataDir, modelPath, ['--close-on-stop'], {
      env: { OCN_STOP_ON_STDIN_CLOSE: '1' },
      stdin: 'pipe',
    })
    const common = [
      '--data-dir',
      requester.dataDir,
      '--rpc-url',
      chain.rpcUrl,
      '--provider',
      dialable,
      '--payment-channels',
      ready.paymentChannels,
      '--model',
      modelPath,
      '--inputs',
      inputsPath,
      '--price',
      '0.01',
      '--json',
    ]
    const first = await ocn([
      'infer',
      ...common,
      '--provider-address',
      provider.address,
      '--deposit',
      '0.1',
      '--requests',
      '2',
    ])
    expect(first.code).toBe(0)
    const { channelId } = JSON.parse(first.stdout) as { channelId: `0x${string}` }
    // A second run continues the channel: its vouchers go on from the 2 requests signed before.
    const second = await ocn(['infer', ...common, '--channel', channelId, '--requests', '1'])
    expect(second.code).toBe(0)
    expect((JSON.parse(second.stdout) as { spent: string }).spent).toBe(parseEther('0.03').toString())

    const exited = new Promise<number | null>((resolve) => serve!.once('exit', resolve))
    serve!.stdin!.end()
    const final = JSON.parse(await next()) as {
      closed: boolean
      redeemed: { channelId: string; payout: string; transaction: `0x${string}`; gasUsed: string }[]
    }
    expect(await exited).toBe(0)
    expect(final.closed).toBe(true)
    expect(final.redeemed).toHaveLength(1)
    expect(final.redeemed[0]!.channelId).toBe(channelId)
    expect(final.redeemed[0]!.payout).toBe(parseEther('0.03').toString())
    expect(BigInt(final.redeemed[0]!.gasUsed)).toBeGreaterThan(21_000n)

    const state = await getChannel(admin(), { paymentChannels: ready.paymentChannels, channelId })
    expect(state?.finalized).toBe(true)
    expect(state?.paid).toBe(parseEther('0.03'))
    const token = deployment.addresses.token
    // the provider got the vouchers' total, the requester the rest of its 0.1 deposit, at once
    expect(await getTokenBalance(admin(), { token, account: provider.address })).toBe(parseEther('0.03'))
    expect(await getTokenBalance(admin(), { token, account: requester.address })).toBe(
      parseEther('10') - parseEther('0.03'),
    )
    expect(await getTokenBalance(admin(), { token, account: ready.paymentChannels })).toBe(0n)
  })
})
