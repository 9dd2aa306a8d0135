/**
 * `ocn job submit|status|results` as child processes against a real devnet (anvil, real
 * node processes over TCP): the happy path, and every way a user can get it wrong, each
 * with a clear error and nothing lost (no job recorded, no OPEN moved). On the same devnet,
 * @ocn/client (the SDK the CLI uses) makes every call of its own, and `ocn doctor` checks a
 * running provider against the real chain and its real sockets.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClientError, createOcnClient, type JobEvent, NodeApiError, settledJobStates } from '@ocn/client'
import { encodeSafetensors, readTensorFiles } from '@ocn/node'
import { buildStatefulVadModel, encodeOnnxModel } from '@ocn/prover'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createWorkload,
  type Devnet,
  devnetNodeApi,
  startDevnet,
  type Workload,
} from '../../src/devnet/index.js'
import { doctorChecks, everyCheckOk } from '../doctor/checks.js'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin
let dir: string
let devnet: Devnet
let workload: Workload
let api: string
/** The jobs the CLI put on the market, for the SDK's test to read and follow. */
const submittedIds: { inference?: string; training?: string } = {}

const ocn = (args: string[]) => runOcnIn(dir, args, { timeoutMs: 120_000 })

async function requesterState(): Promise<{ jobs: number; token: bigint }> {
  const client = devnetNodeApi(api).client
  return { jobs: (await client.jobs()).length, token: (await client.balances()).token }
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-job-cli-'))
  devnet = await startDevnet({ dir: join(dir, 'net'), cheater: false, providers: 2, nodeLogLevel: 'warn' })
  api = devnet.requester.api
  workload = await createWorkload(join(dir, 'workload'), {
    inferenceJobs: 1,
    trainingJob: true,
    samplesPerJob: 16,
    microBatchSize: 4,
  })
}, 180_000)

afterAll(async () => {
  await devnet?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('ocn doctor', () => {
  it("passes a running provider's real checks, and fails an RPC URL with nothing behind it", async () => {
    const provider = devnet.nodes.find((n) => n.name === 'provider-1')!
    const doctor = (args: string[]) => ocn(['doctor', '--data-dir', provider.dataDir, ...args])

    const healthy = await doctor(['--json'])
    const report = JSON.parse(healthy.stdout) as {
      ok: boolean
      checks: { name: string; status: string; message: string; fix?: string }[]
    }
    const check = (name: string) => report.checks.find((c) => c.name === name)!
    expect(healthy.code).toBe(0)
    expect(report.ok).toBe(true)
    // the disk may only warn on a crowded test machine; every other check is the node's own
    expect(report.checks.filter((c) => c.name !== 'disk').map((c) => [c.name, c.status])).toEqual(
      everyCheckOk(doctorChecks.filter((name) => name !== 'disk')),
    )
    expect(['ok', 'warn']).toContain(check('disk').status)
    expect(check('chain').message).toBe(
      `chain ${devnet.deployment.chainId} at ${devnet.chain.rpcUrl} matches the deployment`,
    )
    // the provider's stake from the devnet's set-up, free because no job runs yet
    expect(check('funds').message).toMatch(/free stake [1-9][\d.,]* OPEN$/)
    // the running node's libp2p port (its multiaddr less /p2p/<peer id>) took a real connection
    const listen = provider.listen[0]!.split('/p2p/')[0]!
    expect(listen).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/[1-9]\d*$/)
    expect(check('listen').message).toBe(`listen addresses usable: ${listen}`)

    const deadRpc = ['--rpc-url', 'http://127.0.0.1:1']
    const failed = await doctor([...deadRpc, '--json'])
    expect(failed.code).toBe(1)
    const failedReport = JSON.parse(failed.stdout) as typeof report
    expect(failedReport.ok).toBe(false)
    const chain = failedReport.checks.find((c) => c.name === 'chain')!
    expect(chain).toMatchObject({ status: 'fail', message: expect.stringContaining('http://127.0.0.1:1') })
    expect(chain.fix).toBeTruthy()
    expect(failedReport.checks.find((c) => c.name === 'funds')!.status).toBe('skip')

    const text = await doctor(deadRpc)
    expect(text.code).toBe(1)
    const lines = text.stdout.trimEnd().split('\n')
    const at = lines.findIndex((line) => line.startsWith('FAIL chain'))
    expect(at).toBeGreaterThanOrEqual(0)
    expect(lines[at + 1]!.trim()).toBe(`fix: ${chain.fix}`)
    expect(lines.at(-1)).toBe('1 check(s) failed')
  }, 30_000)
})

describe('ocn job', () => {
  it('refuses bad input with a clear error and loses nothing', async () => {
    const before = await requesterState()
    const inference = workload.jobs[0]!
    const training = workload.jobs[1]!
    const submit = ['job', 'submit', '--api-url', api, '--json']

    const missing = await ocn([...submit, '--model', 'nope.onnx', '--inputs', inference.inputsPath])
    expect(missing.code).toBe(2)
    expect(JSON.parse(missing.stdout).error).toEqual({
      code: 'JOB_FILE_MISSING',
      message: `no model file at ${join(dir, 'nope.onnx')} (--model)`,
    })

    const usage = await ocn([...submit, '--model', inference.modelPath])
    expect(JSON.parse(usage.stdout).error.code).toBe('CLI_USAGE')

    // The training dataset (tensors x, y) does not fit the classifier's input.
    const mismatch = await ocn([...submit, '--model', inference.modelPath, '--inputs', training.inputsPath])
    expect(mismatch.code).toBe(2)
    const mismatchError = JSON.parse(mismatch.stdout).error
    expect(mismatchError.code).toBe('API_JOB_REJECTED')
    expect(mismatchError.message).toContain('the inputs do not match the model')
    expect(mismatchError.message).toContain('ROLE_INPUT_MISMATCH')

    // An ONNX file that is not a model.
    const garbage = join(dir, 'garbage.onnx')
    await writeFile(garbage, 'not a model')
    const broken = await ocn([...submit, '--model', garbage, '--inputs', inference.inputsPath])
    expect(JSON.parse(broken.stdout).error.code).toBe('API_JOB_REJECTED')

    // More than the requester holds (10 000 OPEN).
    const poor = await ocn([
      ...submit,
      '--model',
      inference.modelPath,
      '--inputs',
      inference.inputsPath,
      '--max-price',
      '20000',
    ])
    expect(poor.code).toBe(2)
    expect(JSON.parse(poor.stdout).error.message).toContain('not enough OPEN to escrow the max price')

    const badPrice = await ocn([
      ...submit,
      '--model',
      inference.modelPath,
      '--inputs',
      inference.inputsPath,
      '--max-price',
      'lots',
    ])
    expect(JSON.parse(badPrice.stdout).error.code).toBe('CHAIN_INVALID_AMOUNT')

    // A streaming VAD (audio [batch, 32], state [2, batch, 128], scalar sr): its axes are
    // inferred, so a wrong --input-axis is the first blocker, named with the flag that fixes it.
    const vad = join(dir, 'vad.onnx')
    const vadInputs = join(dir, 'vad.safetensors')
    await writeFile(vad, encodeOnnxModel(buildStatefulVadModel()))
    await writeFile(
      vadInputs,
      encodeSafetensors({
        input: { dtype: 'float32', dims: [3, 32], data: new Uint8Array(3 * 32 * 4) },
        state: { dtype: 'float32', dims: [2, 3, 128], data: new Uint8Array(2 * 3 * 128 * 4) },
        sr: { dtype: 'int64', dims: [], data: new Uint8Array(8) },
      }),
    )
    const scalarAxis = await ocn([...submit, '--model', vad, '--inputs', vadInputs, '--input-axis', 'sr=0'])
    const scalarError = JSON.parse(scalarAxis.stdout).error
    expect(scalarError.code).toBe('API_JOB_REJECTED')
    expect(scalarError.message).toContain('input sr is a scalar, so it has no batch axis')
    expect(scalarError.message).toContain('--input-axis sr=broadcast')
    const noValue = await ocn([...submit, '--model', vad, '--inputs', vadInputs, '--input-axis', 'sr'])
    expect(JSON.parse(noValue.stdout).error).toMatchObject({
      code: 'CLI_USAGE',
      message: '--input-axis takes <input>=<axis|broadcast> (got "sr")',
    })

    const unknown = await ocn(['job', 'status', `0x${'00'.repeat(32)}`, '--api-url', api])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(
      /^error: the node at http:\/\/127\.0\.0\.1:\d+ knows no job 0x0+; ask the requester/,
    )

    const noOut = await ocn(['job', 'results', `0x${'00'.repeat(32)}`, '--api-url', api, '--json'])
    expect(JSON.parse(noOut.stdout).error.code).toBe('CLI_USAGE')

    const down = await ocn(['job', 'status', '0x01', '--api-url', 'http://127.0.0.1:1', '--json'])
    expect(JSON.parse(down.stdout).error.code).toBe('API_UNREACHABLE')

    expect(await requesterState()).toEqual(before)
  })

  it('submits a job, follows it to settlement and shows its status', async () => {
    const inference = workload.jobs[0]!
    const submitted = await ocn([
      'job',
      'submit',
      '--api-url',
      api,
      '--model',
      inference.modelPath,
      '--inputs',
      inference.inputsPath,
      '--micro-batch',
      '4',
      '--max-price',
      '0.5',
    ])
    expect(submitted.stderr).toBe('')
    expect(submitted.code).toBe(0)
    expect(submitted.stdout).toMatch(/^submitted job 0x[0-9a-f]{64}\n/)
    expect(submitted.stdout).toContain('committed (result committed; the verification window is open)')
    expect(submitted.stdout).toContain('state      finalized')
    const id = /submitted job (0x[0-9a-f]{64})/.exec(submitted.stdout)![1]!
    submittedIds.inference = id

    const status = await ocn(['job', 'status', id, '--api-url', api, '--json'])
    const job = JSON.parse(status.stdout)
    expect(job).toMatchObject({
      id,
      state: 'finalized',
      kind: 'inference',
      verification: 'replay',
      role: 'requester',
    })
    expect(job.history.map((h: { state: string }) => h.state)).toEqual([
      'offered',
      'bidding',
      'awarded',
      'committed',
      'finalized',
    ])
    expect(BigInt(job.price)).toBeLessThanOrEqual(500_000_000_000_000_000n)

    // The outputs the requester fetched and checked, downloaded and hash-checked again.
    const results = await ocn(['job', 'results', id, '--api-url', api, '--out', 'results', '--json'])
    expect(results.stderr).toBe('')
    const files = JSON.parse(results.stdout).files
    expect(files).toHaveLength(1)
    expect(files[0]).toMatchObject({
      name: 'outputs.safetensors',
      path: join(dir, 'results', 'outputs.safetensors'),
    })
    const outputs = await readTensorFiles([files[0].path])
    expect(Object.values(outputs)[0]).toMatchObject({ dtype: 'float32', dims: [16, 3] })
  })

  it('submits a training job with --training and returns at once with --no-wait', async () => {
    const training = workload.jobs.find((j) => j.kind === 'training')!
    const submitted = await ocn([
      'job',
      'submit',
      '--api-url',
      api,
      '--model',
      training.modelPath,
      '--inputs',
      training.inputsPath,
      '--training',
      training.trainingSpecPath!,
      '--no-wait',
      '--json',
    ])
    expect(submitted.code).toBe(0)
    const { jobId } = JSON.parse(submitted.stdout)
    expect(jobId).toMatch(/^0x[0-9a-f]{64}$/)
    submittedIds.training = jobId
    const status = await ocn(['job', 'status', jobId, '--api-url', api, '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ id: jobId, kind: 'training', role: 'requester' })
  })

  it('@ocn/client: cancels a follow, follows a job to settlement, reads everything, stakes to the wei', async () => {
    const inferenceId = submittedIds.inference!
    const trainingId = submittedIds.training!
    const user = new URL(api).username
    const client = createOcnClient({ url: api, ...(user === '' ? {} : { token: decodeURIComponent(user) }) })

    // Cancellation: a follow that would never end by itself stops at the caller's abort.
    const controller = new AbortController()
    const cancelled: JobEvent[] = []
    const following = (async () => {
      for await (const event of client.follow(trainingId, {
        signal: controller.signal,
        until: () => false,
      })) {
        cancelled.push(event)
        controller.abort()
      }
    })()
    await expect(following).rejects.toMatchObject({ code: 'CLIENT_ABORTED' })
    expect(cancelled.map((e) => e.type)).toEqual(['snapshot'])

    // The iterator ends by itself once the job settles (the training job the CLI submitted).
    const events: JobEvent[] = []
    for await (const event of client.follow(trainingId)) events.push(event)
    const last = events.at(-1)!.job
    expect(settledJobStates).toContain(last.state)
    expect(last.state).toBe('finalized')
    expect(events.slice(1).every((e) => e.type === 'update')).toBe(true)

    const status = await client.status()
    expect(status.roles).toContain('requester')
    expect(status.chain?.blockNumber).toMatch(/^\d+$/)
    // the deployment it talks to, as the console's network page shows it
    expect(status.chain?.deployment?.contracts.jobMarket).toBe(devnet.deployment.addresses.jobMarket)
    expect(status.chain?.deployment?.deployBlock).toBe(devnet.deployment.deployBlock.toString())
    expect((await client.peers()).length).toBeGreaterThan(0)
    // what the console's network page reads: peers with gossip scores, topics, the devnet's board
    const network = await client.network()
    expect(network.peers.length).toBeGreaterThan(0)
    expect(network.topics.length).toBeGreaterThan(0)
    const board = await client.devnet()
    expect(board.nodes.map((n) => n.name)).toEqual(expect.arrayContaining(['requester', 'provider-1']))
    expect(Array.isArray(await client.offers())).toBe(true)
    const jobs = await client.jobs({ role: 'requester' })
    expect(jobs.map((j) => j.id)).toEqual(expect.arrayContaining([inferenceId, trainingId]))
    expect((await client.job(inferenceId)).state).toBe('finalized')
    expect((await client.bids(inferenceId)).some((b) => b.status === 'accepted')).toBe(true)
    const results = await client.results(inferenceId)
    const file = results.files[0]!
    const downloaded = await client.download(inferenceId, file.name)
    expect(downloaded).toMatchObject({ name: file.name, verified: true, hash: file.hash })
    expect(downloaded.bytes.length).toBe(file.bytes)

    // Typed errors: refused here before sending, or the node's own code.
    await expect(client.job('no such id!')).rejects.toBeInstanceOf(ClientError)
    await expect(client.job(`0x${'00'.repeat(32)}`)).rejects.toMatchObject({
      code: 'API_NOT_FOUND',
      status: 404,
    })
    const refused = client.submit({
      kind: 'inference',
      modelPath: join(dir, 'nope.onnx'),
      inputsPath: file.name,
    })
    await expect(refused).rejects.toBeInstanceOf(NodeApiError)
    await expect(refused).rejects.toMatchObject({ code: 'API_BAD_REQUEST', status: 400 })
    await expect(client.stake(0n)).rejects.toMatchObject({ code: 'CLIENT_INVALID_INPUT' })

    // Stake and unstake one base unit; the balances move by exactly that.
    const before = await client.balances()
    const staked = await client.stake(1n)
    expect(staked.transaction).toMatch(/^0x[0-9a-f]{64}$/)
    expect(staked.balances.staked).toBe(before.staked + 1n)
    expect(staked.balances.token).toBe(before.token - 1n)
    const unstaked = await client.unstake(1n)
    expect(unstaked.balances.staked).toBe(before.staked)
    expect(unstaked.balances.token).toBe(before.token - 1n)
  }, 240_000)
})
