/**
 * The devnet's zk phase: one inference job whose result is proved with Groth16 and checked
 * on-chain. Before the nodes start it builds the circuit of the devnet classifier without its
 * softmax (the circuit proves the logits), copies it into the data dirs of the honest providers
 * and of the requester (never the cheater's, so only honest providers can bid), and registers
 * the verifier with the deployer, who still holds the admin role. The job then goes through the
 * requester's API like any other; afterwards the phase reads the settlement back from the chain.
 *
 * The circuit, the powers of tau and the Groth16 keys are cached across runs (see
 * `devnetZkCacheDir`): a cold cache costs about a minute, a warm one seconds.
 */
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getJob, getZkModel, jobMarketAbi } from '@ocn/contracts-client'
import { defaultZkDir, registerZkVerifier, writeTensorFile } from '@ocn/node'
import { contentHashOf } from '@ocn/protocol'
import {
  buildMlpModel,
  buildZkCircuit,
  deserializeQuantizedMlp,
  encodeOnnxModel,
  loadZkArtifacts,
  quantizedForward,
  quantizeInput,
  vectorCommitment,
  type ZkBuildStage,
  type ZkCircuitArtifacts,
} from '@ocn/prover'
import { type Address, type Hex, parseEventLogs, toHex } from 'viem'
import { getContractEvents, getTransactionReceipt } from 'viem/actions'
import { devnetNodeApi } from './node-client.js'
import type { DevnetAfterContext, DevnetPhase, DevnetPhaseContext, DevnetPhaseReport } from './phase.js'
import { WORKLOAD_FEATURES, type WorkloadJob, workloadMlp } from './workload.js'

export const ZK_JOB_NAME = 'zk-inference'

/** The one sample the zk job classifies: inside the clusters' range, far from the fixed-point limits. */
const ZK_INPUT = [0.75, -1.25, 1.5, -0.5]

/** What prepare leaves in `<dir>/zk/build.json` for the later steps (the phase keeps no state in memory). */
interface ZkBuild {
  cacheDir: string
  circuitDir: string
  circuitHash: string
  modelHash: Hex
  modelCommitment: string
  constraints: number
  ptauPower: number | null
  cached: boolean
  buildSeconds: number
  verifier: Address
  registerTx: Hex
  /** Members whose `<data-dir>/zk` holds the circuit. */
  holders: string[]
}

/** The source checkout this module runs from, if any: the root package.json is the `ocn` workspace. */
function checkoutRoot(from: string): string | undefined {
  let dir = from
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        const json = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown; workspaces?: unknown }
        if (json.name === 'ocn' && Array.isArray(json.workspaces)) return dir
      } catch {
        // an unreadable package.json is not the checkout's root; keep walking up
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * Where the devnet keeps its circuit, ptau and keys between runs: `OCN_ZK_CACHE_DIR` if set;
 * else, when running from a source checkout, its gitignored `.cache/ocn-zk` (the cache the zk
 * tests and `npm run bench:zk` share), found from this module's location so that the working
 * directory and HOME do not matter; else the user cache (`$XDG_CACHE_HOME/ocn/zk`, `~/.cache/ocn/zk`).
 */
export function devnetZkCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.OCN_ZK_CACHE_DIR
  if (given !== undefined && given !== '') return given
  const root = checkoutRoot(dirname(fileURLToPath(import.meta.url)))
  if (root !== undefined) return join(root, '.cache', 'ocn-zk')
  const xdg = env.XDG_CACHE_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'ocn', 'zk')
}

const phaseDir = (context: DevnetPhaseContext) => join(context.dir, 'zk')
const modelFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'classifier-logits.onnx')
const inputFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'input.safetensors')
const buildFile = (context: DevnetPhaseContext) => join(phaseDir(context), 'build.json')

/**
 * Copies one circuit (compiled files plus the one key set that was registered) into a node's
 * `<data-dir>/zk`, laid out as a cache folder. Only that key set: a node that found two key sets
 * for one model commitment could prove with the one whose verifier is not registered.
 */
async function installCircuit(artifacts: ZkCircuitArtifacts, dataDir: string): Promise<void> {
  const source = dirname(artifacts.dir)
  const target = join(defaultZkDir(dataDir), 'circuits', artifacts.circuitHash)
  await mkdir(target, { recursive: true })
  const parts = [
    artifacts.circuitPath,
    artifacts.r1csPath,
    artifacts.symPath,
    dirname(artifacts.wasmPath),
    artifacts.dir,
  ]
  for (const part of parts) await cp(part, join(target, relative(source, part)), { recursive: true })
}

async function prepare(context: DevnetPhaseContext): Promise<undefined> {
  const { step, admin, deployment, members } = context
  await mkdir(phaseDir(context), { recursive: true })
  const modelBytes = encodeOnnxModel(buildMlpModel(workloadMlp(1, { softmaxOutput: false })))
  await writeFile(modelFile(context), modelBytes)
  await writeTensorFile(inputFile(context), {
    input: {
      dtype: 'float32',
      dims: [1, WORKLOAD_FEATURES],
      data: new Uint8Array(Float32Array.from(ZK_INPUT).buffer),
    },
  })

  const cacheDir = devnetZkCacheDir()
  const started = Date.now()
  let cold = false
  const building = new Set<ZkBuildStage>()
  step(`zk: building the classifier's circuit (cache ${cacheDir})`)
  const built = await buildZkCircuit({
    modelPath: modelFile(context),
    cacheDir,
    ...(context.signal === undefined ? {} : { signal: context.signal }),
    onProgress: ({ stage, message }) => {
      // One line per stage that does real work; the stages the cache answers stay quiet.
      if (message.includes('cached') || building.has(stage)) return
      if (stage !== 'compile' && stage !== 'ptau' && stage !== 'setup') return
      building.add(stage)
      const note = cold ? '' : ' (one-time setup, about a minute; cached for later runs)'
      cold = true
      step(`zk: ${message}${note}`)
    },
  })
  const { artifacts } = built
  const buildSeconds = (Date.now() - started) / 1000

  // Honest providers and the requester get the circuit; the cheater cannot prove, so never bids.
  const holders = members.filter(
    (m) => !m.cheater && (m.roles.includes('provider') || m.roles.includes('requester')),
  )
  for (const member of holders) await installCircuit(artifacts, member.dataDir)

  const modelHash = contentHashOf(modelBytes)
  step(`zk: registering the verifier of ${artifacts.constraints} constraints for the model`)
  const { verifier, registerTx } = await registerZkVerifier(admin, {
    artifacts,
    modelHash,
    zkVerifierRegistry: deployment.addresses.zkVerifierRegistry,
  })
  const record: ZkBuild = {
    cacheDir,
    circuitDir: artifacts.dir,
    circuitHash: artifacts.circuitHash,
    modelHash,
    modelCommitment: artifacts.modelCommitment,
    constraints: artifacts.constraints,
    ptauPower: artifacts.ptau.power ?? null,
    cached: !cold,
    buildSeconds: Math.round(buildSeconds * 10) / 10,
    verifier,
    registerTx,
    holders: holders.map((m) => m.name),
  }
  await writeFile(buildFile(context), `${JSON.stringify(record, null, 2)}\n`)
  return undefined
}

async function jobs(context: DevnetPhaseContext): Promise<WorkloadJob[]> {
  return [
    {
      name: ZK_JOB_NAME,
      kind: 'inference',
      verification: 'zk',
      modelPath: modelFile(context),
      // zk jobs take one sample: the circuit proves one forward pass
      inputsPath: inputFile(context),
    },
  ]
}

/** The requester checks the proof's output vector against the settled commitment after finalization. */
async function requesterVerdict(api: string, jobId: string, signal?: AbortSignal): Promise<boolean | null> {
  const requester = devnetNodeApi(api).client
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline && signal?.aborted !== true) {
    const record = await requester.job(jobId, { timeoutMs: 5_000 }).catch(() => undefined)
    const results = (record?.detail as { results?: { verified?: boolean } } | undefined)?.results
    if (results?.verified !== undefined) return results.verified
    await new Promise((r) => setTimeout(r, 250))
  }
  return null
}

async function afterWorkload(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const build = JSON.parse(await readFile(buildFile(context), 'utf8')) as ZkBuild
  const client = context.admin
  const { jobMarket, zkVerifierRegistry } = context.deployment.addresses
  const job = context.jobs.find((j) => j.name === ZK_JOB_NAME)
  const provider = job?.provider ?? null
  const node = context.nodes.find(
    (n) => provider !== null && n.address.toLowerCase() === provider.toLowerCase(),
  )
  const registered = await getZkModel(client, { zkVerifierRegistry, modelHash: build.modelHash })

  let onChain: Awaited<ReturnType<typeof getJob>> | undefined
  let commitTx: Hex | null = null
  let gasUsed: bigint | null = null
  let settledInProofTx = false
  let replayCommits = 0
  if (job !== undefined && job.id !== '') {
    const jobId = job.id as Hex
    onChain = await getJob(client, { jobMarket, jobId })
    const fromBlock = context.deployment.deployBlock
    const proofs = await getContractEvents(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      eventName: 'ZkResultCommitted',
      args: { jobId },
      fromBlock,
    })
    // ZkResultCommitted exists only for zk-mode jobs; a replay-style commitment would have
    // opened a challenge window, which a zk job never has
    replayCommits = (
      await getContractEvents(client, {
        address: jobMarket,
        abi: jobMarketAbi,
        eventName: 'ResultCommitted',
        args: { jobId },
        fromBlock,
      })
    ).length
    const proof = proofs[0]
    if (proof !== undefined) {
      commitTx = proof.transactionHash
      const receipt = await getTransactionReceipt(client, { hash: commitTx })
      gasUsed = receipt.gasUsed
      settledInProofTx = parseEventLogs({
        abi: jobMarketAbi,
        logs: receipt.logs,
        eventName: 'JobFinalized',
      }).some((log) => log.args.jobId.toLowerCase() === jobId.toLowerCase())
    }
  }

  // The settled output commitment must be the model's own output on the input, computed here
  // from the circuit's integer model: the proof bound the provider to exactly this function.
  const artifacts = loadZkArtifacts(build.circuitDir)
  const model = deserializeQuantizedMlp(artifacts.model)
  const expectedRoot = toHex(vectorCommitment(quantizedForward(model, quantizeInput(model, ZK_INPUT))), {
    size: 32,
  })
  const requester = context.nodes.find((n) => n.roles.includes('requester'))
  const verified =
    job !== undefined && job.status === 'finalized' && requester !== undefined
      ? await requesterVerdict(requester.api, job.id, context.signal)
      : null

  const checks = {
    jobSettled:
      job?.status === 'finalized' &&
      onChain?.status === 'finalized' &&
      settledInProofTx &&
      replayCommits === 0,
    notByCheater: node !== undefined && !node.cheater && build.holders.includes(node.name),
    resultIsModelOutput:
      onChain !== undefined && onChain.resultRoot.toLowerCase() === expectedRoot.toLowerCase(),
    requesterVerifiedOutput: verified === true,
    verifierRegistered: registered?.verifier.toLowerCase() === build.verifier.toLowerCase(),
  }
  const report = {
    job: job?.id ?? null,
    status: job?.status ?? 'missing',
    provider: node?.name ?? provider,
    modelHash: build.modelHash,
    modelCommitment: build.modelCommitment,
    constraints: build.constraints,
    ptauPower: build.ptauPower,
    verifier: build.verifier,
    commitZkResult: commitTx === null ? null : { transaction: commitTx, gasUsed },
    resultRoot: onChain?.resultRoot ?? null,
    circuitCache: { dir: build.cacheDir, warm: build.cached, buildSeconds: build.buildSeconds },
  }
  const lines = [
    `${ZK_JOB_NAME} (4-16-3 classifier, ${build.constraints} constraints): ${report.status}` +
      (node === undefined ? '' : ` by ${node.name}`),
    commitTx === null
      ? 'no commitZkResult transaction found'
      : `proof checked on-chain and paid in one transaction ${commitTx} (${gasUsed} gas), no challenge window`,
    `circuit ${build.cached ? 'from the cache' : `built in ${build.buildSeconds} s`} at ${build.cacheDir}`,
  ]
  return { report, checks, lines }
}

export const zkPhase: DevnetPhase = { name: 'zk', prepare, jobs, afterWorkload }
