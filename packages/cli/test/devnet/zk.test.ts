/**
 * `ocn job submit --verification zk` on a devnet: the zk phase alone (`phases: ['zk']`) builds
 * the classifier's circuit (from the persistent cache when warm), hands it to the honest provider
 * and the requester, and registers its verifier; then the built CLI submits a zk job through the
 * requester's data dir, as a user would. The cheater bids lowest but holds no circuit, so the
 * honest provider proves; the chain checks the Groth16 proof and pays in the same transaction.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getJob, jobMarketAbi } from '@ocn/contracts-client'
import type { JobRecord } from '@ocn/node'
import { buildMlpModel, encodeOnnxModel } from '@ocn/prover'
import { createPublicClient, type Hex, http } from 'viem'
import { getContractEvents } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ZK_CACHE_DIR } from '../../../node/test/fixtures/zk.js'
import { type Devnet, startDevnet } from '../../src/devnet/devnet.js'
import { workloadMlp } from '../../src/devnet/workload.js'
import { devnetZkCacheDir } from '../../src/devnet/zk-phase.js'
import { ocnBin, runOcnIn } from '../ocn.js'

const bin = ocnBin

let dir: string
let devnet: Devnet

const ocn = (args: string[], timeoutMs = 120_000) => runOcnIn(dir, args, { timeoutMs })

const steps: string[] = []

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('build @ocn/cli first: npm run build (at the repository root)')
  dir = await mkdtemp(join(tmpdir(), 'ocn-devnet-zk-'))
  // one honest provider and the cheater; no workload is run, the CLI submits the only job
  devnet = await startDevnet(
    { dir: join(dir, 'net'), phases: ['zk'], providers: 2, cheater: true, nodeLogLevel: 'warn' },
    { onEvent: (e) => e.type === 'step' && steps.push(e.message) },
  )
}, 300_000)

afterAll(async () => {
  await devnet?.stop()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('devnet zk phase with `ocn job submit --verification zk`', () => {
  it('puts the circuit in the honest nodes’ data dirs only, and says where the cache is', () => {
    const zkDir = (name: string) => join(devnet.nodes.find((n) => n.name === name)!.dataDir, 'zk', 'circuits')
    expect(existsSync(zkDir('provider-1'))).toBe(true)
    expect(existsSync(zkDir('requester'))).toBe(true)
    expect(existsSync(zkDir('provider-2'))).toBe(false) // the cheater
    expect(existsSync(zkDir('verifier'))).toBe(false)
    expect(steps.some((s) => s.includes(devnetZkCacheDir()))).toBe(true)
  })

  it('keeps the circuit cache in OCN_ZK_CACHE_DIR, else in the checkout’s gitignored .cache/ocn-zk', () => {
    expect(devnetZkCacheDir({ OCN_ZK_CACHE_DIR: '/srv/zk' })).toBe('/srv/zk')
    // found from the module's location: neither the working directory nor HOME matters
    expect(devnetZkCacheDir({ HOME: '/nowhere' })).toBe(ZK_CACHE_DIR)
  })

  it('settles a zk job submitted from the command line, proved by the honest provider', async () => {
    const requester = devnet.requester
    const modelPath = join(devnet.dir, 'zk', 'classifier-logits.onnx')
    const inputsPath = join(devnet.dir, 'zk', 'input.safetensors')
    const out = await ocn([
      'job',
      'submit',
      '--data-dir',
      requester.dataDir,
      '--model',
      modelPath,
      '--inputs',
      inputsPath,
      '--verification',
      'zk',
      '--timeout',
      '120',
      '--json',
    ])
    expect(out.code, out.stdout + out.stderr).toBe(0)
    const job = JSON.parse(out.stdout) as JobRecord
    expect(job.state).toBe('finalized')
    expect(job.verification).toBe('zk')
    const honest = devnet.nodes.find((n) => n.name === 'provider-1')!
    expect(job.provider?.toLowerCase()).toBe(honest.address.toLowerCase())
    // no challenge window: committed and finalized by the same proof, never challenged
    const states = job.history.map((h) => h.state)
    expect(states).toContain('finalized')
    expect(states).not.toContain('challenged')

    const client = createPublicClient({ chain: devnet.chain.chain, transport: http(devnet.chain.rpcUrl) })
    const { jobMarket } = devnet.deployment.addresses
    const onChain = await getJob(client, { jobMarket, jobId: job.id as Hex })
    expect(onChain.status).toBe('finalized')
    // the leaf count is fixed by the offer's terms at award (one micro-batch here), for zk jobs
    // too; no Merkle root was committed against it: the proof settled the job
    expect(onChain.leafCount).toBe(1)
    const proofs = await getContractEvents(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      eventName: 'ZkResultCommitted',
      args: { jobId: job.id as Hex },
      fromBlock: devnet.deployment.deployBlock,
    })
    expect(proofs).toHaveLength(1)
    expect(proofs[0]!.args.provider?.toLowerCase()).toBe(honest.address.toLowerCase())
    expect(BigInt(onChain.resultRoot)).toBe(proofs[0]!.args.outputCommitment)
  }, 180_000)

  it('refuses a zk job for a model without a registered circuit (the softmax classifier)', async () => {
    const modelPath = join(dir, 'classifier.onnx')
    await writeFile(modelPath, encodeOnnxModel(buildMlpModel(workloadMlp(1))))
    const out = await ocn([
      'job',
      'submit',
      '--data-dir',
      devnet.requester.dataDir,
      '--model',
      modelPath,
      '--inputs',
      join(devnet.dir, 'zk', 'input.safetensors'),
      '--verification',
      'zk',
      '--json',
    ])
    expect(out.code).not.toBe(0)
    expect(out.stdout + out.stderr).toMatch(/no zk verifier registered/)
  }, 60_000)
})
