/**
 * `ocn serve` and `ocn infer` as real child processes against a real anvil: the provider
 * serves, the requester opens a channel and pays three requests, the provider redeems on
 * SIGTERM and holds exactly the price of three requests more.
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
  getTokenBalance,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover/onnx'
import { createWalletClient, http, parseEther } from 'viem'
import { sendTransaction } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeNpy } from '../../src/executor/index.js'

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
  if (!existsSync(bin)) throw new Error('build @ocn/node first: npx tsc -p packages/node/tsconfig.json')
  dir = await mkdtemp(join(tmpdir(), 'ocn-channels-cli-'))
  chain = await startDevChain()
  deployment = await deployProtocol(admin())
})

afterAll(async () => {
  if (serve && serve.exitCode === null) serve.kill('SIGKILL')
  await chain?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn serve / ocn infer', () => {
  it('serves paid requests over a channel and redeems the vouchers on exit', async () => {
    const provider = await fundedNode('provider', 0n)
    const requester = await fundedNode('requester', parseEther('10'))
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

    const rpc = ['--rpc-url', chain.rpcUrl]
    serve = spawn(
      process.execPath,
      [
        bin,
        'serve',
        '--data-dir',
        provider.dataDir,
        ...rpc,
        '--model',
        modelPath,
        '--price',
        '0.01',
        '--deploy-channels',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--no-mdns',
        '--json',
      ],
      { env: env(), cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const lines = createInterface({ input: serve.stdout! })[Symbol.asyncIterator]()
    const ready = JSON.parse((await lines.next()).value as string) as {
      addresses: string[]
      peerId: string
      paymentChannels: string
      provider: string
    }
    expect(ready.provider.toLowerCase()).toBe(provider.address.toLowerCase())

    const infer = await ocn([
      'infer',
      '--data-dir',
      requester.dataDir,
      ...rpc,
      '--provider',
      ready.addresses[0]!.includes('/p2p/')
        ? ready.addresses[0]!
        : `${ready.addresses[0]}/p2p/${ready.peerId}`,
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
    serve.kill('SIGTERM')
    const final = JSON.parse((await lines.next()).value as string) as { redeemed: { payout: string }[] }
    expect(await exited).toBe(0)
    expect(final.redeemed.map((r) => r.payout)).toEqual([parseEther('0.03').toString()])
    expect(
      await getTokenBalance(admin(), { token: deployment.addresses.token, account: provider.address }),
    ).toBe(parseEther('0.03'))
  })
})
