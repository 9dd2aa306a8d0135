/**
 * An in-process OCN network for end-to-end tests: a real anvil with the real contracts, and
 * real daemons (libp2p over TCP on 127.0.0.1, ONNX Runtime worker pools, LevelDB state)
 * built with `createNodeComponents`, exactly as `ocn start` builds them.
 */
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { waitUntil } from '@ocn/cli'
import {
  type CourtParameters,
  CourtPhase,
  type Deployment,
  type DevChain,
  deployProtocol,
  disputeCourtAbi,
  getCourtDispute,
  getJobDisputes,
  getStake,
  getTokenBalance,
  jobMarketAbi,
  type ProtocolWalletClient,
  stake,
  startDevChain,
  transferToken,
  writeDeploymentFile,
} from '@ocn/contracts-client'
import {
  createDaemon,
  createLogger,
  createNodeComponents,
  createSilentLogger,
  type Daemon,
  type DaemonOptions,
  defaultNodeConfig,
  encodeSafetensors,
  type JobRecord,
  type Logger,
  type NodeComponents,
  type NodeConfig,
  type NodeKeys,
  type NodeRole,
  type ProviderFaultPlan,
  type RoleOptions,
} from '@ocn/node'
import { buildMlpModel, buildStatefulVadModel, encodeOnnxModel, type Mlp } from '@ocn/prover'
import {
  type Address,
  createWalletClient,
  type Hex,
  http,
  type PublicActions,
  parseEther,
  publicActions,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

export const OPEN = 10n ** 18n

export interface TestNode {
  name: string
  keys: NodeKeys
  address: Address
  daemon: Daemon
  components: NodeComponents
  config: NodeConfig
  /** the fault plan it was started with (a restart keeps it) */
  faults?: ProviderFaultPlan
}

export interface TestNetwork {
  chain: DevChain
  deployment: Deployment
  dir: string
  /** a wallet client per dev account index */
  wallet(index: number): ReturnType<typeof walletFor>
  nodes: TestNode[]
  stop(): Promise<void>
}

function walletFor(chain: DevChain, key: Hex): ProtocolWalletClient & PublicActions {
  return createWalletClient({
    account: privateKeyToAccount(key),
    chain: chain.chain,
    transport: http(chain.rpcUrl),
    pollingInterval: 100,
  }).extend(publicActions) as unknown as ProtocolWalletClient & PublicActions
}

export async function nodeKeys(evmKey: Hex): Promise<NodeKeys> {
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const account = privateKeyToAccount(evmKey)
  return {
    account,
    privateKey,
    peerId,
    info: {
      address: account.address,
      peerId: peerId.toString(),
      encrypted: false,
      paths: { evm: '', libp2p: '' } as unknown as NodeKeys['info']['paths'],
    },
  }
}

export interface StartNetworkOptions {
  /** chain seconds a commitment stays open to challenges */
  challengeWindow: number
  treasuryIndex: number
  /** DisputeCourt parameters beyond the e2e defaults (E2E_COURT) */
  court?: Partial<CourtParameters>
}

/**
 * The court the e2e networks deploy: a jury of one (the tests run two verifiers, and a
 * challenger never sits on its own dispute), no appeal round (the ruling is final and executes
 * at once), periods short enough for a test.
 */
export const E2E_COURT: Partial<CourtParameters> = {
  jurySize: 1,
  maxRounds: 1,
  drawDelay: 1,
  revealPeriod: 10,
  voteCommitPeriod: 15,
  voteRevealPeriod: 15,
  appealPeriod: 5,
}

/** Seconds between the blocks the nodes run on (startNodes). */
export const BLOCK_TIME_SECONDS = 1

/**
 * Anvil with the protocol deployed. Until startNodes it mines every transaction at once, so the
 * deployment and the funding (some sixty transactions) take seconds, not a block each; startNodes
 * then switches it to a block every BLOCK_TIME_SECONDS, the chain the nodes run on.
 */
/**
 * The review period of a proposed model on the e2e networks (the default is days, which would
 * unlock every contribution stake and pass every deadline): the tests advance anvil's clock by
 * it before approving a model, so the release gate still holds the approval until then. A few
 * seconds: the jump must not end the challenge windows of jobs still in flight (20 to 30 s in
 * the tests), whose finalization would change the providers' records and so the bid ranking.
 */
export const E2E_MODEL_REVIEW_SECONDS = 5

export async function startChain(options: StartNetworkOptions) {
  const chain = await startDevChain()
  const deployer = walletFor(chain, chain.privateKeys[0]!)
  const deployment = await deployProtocol(deployer, {
    treasury: chain.accounts[options.treasuryIndex]!.address,
    court: { ...E2E_COURT, ...options.court },
    params: {
      challengeWindow: options.challengeWindow,
      unbondingDelay: BigInt(options.challengeWindow),
      verifierMinStake: parseEther('100'),
    },
    modelRelease: { minReviewPeriod: E2E_MODEL_REVIEW_SECONDS },
  })
  return { chain, deployment, deployer }
}

/** Sends OPEN from the deployer and stakes `stakeAmount` from the account. */
export async function fundAndStake(
  chain: DevChain,
  deployment: Deployment,
  index: number,
  tokens: bigint,
  stakeAmount: bigint,
): Promise<void> {
  const deployer = walletFor(chain, chain.privateKeys[0]!)
  await transferToken(deployer, {
    token: deployment.addresses.token,
    to: chain.accounts[index]!.address,
    amount: tokens,
  })
  if (stakeAmount > 0n) {
    const wallet = walletFor(chain, chain.privateKeys[index]!)
    const { approveToken } = await import('@ocn/contracts-client')
    await approveToken(wallet, {
      token: deployment.addresses.token,
      spender: deployment.addresses.stakeManager,
      amount: stakeAmount,
    })
    await stake(wallet, { stakeManager: deployment.addresses.stakeManager, amount: stakeAmount })
  }
}

export interface NodeSpec {
  name: string
  accountIndex: number
  roles: NodeRole[]
  configure?: (config: NodeConfig) => void
  /** role options beyond the harness's fast ticks */
  roleOptions?: Partial<RoleOptions>
  /** a provider that cheats: its fault plan (createCheatingFaultPlan) */
  faults?: ProviderFaultPlan
  /** the daemon's own options (the console's files to serve) */
  daemon?: DaemonOptions
}

/**
 * The nodes are silent, unless OCN_E2E_LOG_DIR names a folder: then each node writes its debug
 * log there as JSON lines (<name>.log), to see why a provider did not bid or a job stalled.
 * config.logLevel cannot do this: the daemon takes the logger given here.
 */
function testLogger(name: string): Logger {
  const dir = process.env.OCN_E2E_LOG_DIR
  if (dir === undefined || dir === '') return createSilentLogger()
  const destination = createWriteStream(join(dir, `${name}.log`), { flags: 'a' })
  return createLogger({ level: 'debug', name, format: 'json', destination })
}

export async function startNodes(
  chain: DevChain,
  deployment: Deployment,
  dir: string,
  specs: NodeSpec[],
  existing: TestNode[] = [],
): Promise<TestNode[]> {
  const deploymentFile = join(dir, 'deployment.json')
  await writeDeploymentFile(deploymentFile, deployment)
  // the nodes run on interval mining: blocks keep coming while idle (a reveal waits for a block
  // after its commitment, verifiers draw samples from block hashes); again on a later call is harmless
  await walletFor(chain, chain.privateKeys[0]!).request({
    method: 'evm_setIntervalMining',
    params: [BLOCK_TIME_SECONDS],
  } as never)
  const nodes: TestNode[] = []
  for (const spec of specs) {
    const base = defaultNodeConfig({})
    const config: NodeConfig = {
      ...base,
      dataDir: join(dir, spec.name),
      roles: spec.roles,
      logLevel: 'silent',
      network: {
        listen: ['/ip4/127.0.0.1/tcp/0'],
        announce: [],
        bootstrap:
          existing.length + nodes.length === 0
            ? []
            : [[...existing, ...nodes][0]!.daemon.services.p2p!.listenAddresses()[0]!],
        mdns: false,
      },
      chain: { rpcUrl: chain.rpcUrl, deploymentFile, confirmations: 1 },
      api: { ...base.api, enabled: false },
      requester: { ...base.requester, biddingWindowMs: 1500, maxPrice: OPEN },
    }
    spec.configure?.(config)
    const keys = await nodeKeys(chain.privateKeys[spec.accountIndex]!)
    const components = createNodeComponents(config, keys, {
      roles: { tickIntervalMs: 300, capabilityAdTtlSeconds: 6, ...spec.roleOptions },
      chainPollIntervalMs: 250,
      executorPoolSize: 1,
      ...(spec.faults === undefined ? {} : { providerFaults: spec.faults }),
    })
    const daemon = createDaemon(config, { ...components, logger: testLogger(spec.name) }, spec.daemon)
    await daemon.start()
    nodes.push({
      name: spec.name,
      keys,
      address: keys.account.address,
      daemon,
      components,
      config,
      ...(spec.faults === undefined ? {} : { faults: spec.faults }),
    })
  }
  // a full mesh, so every stream protocol can reach every peer directly
  for (const a of nodes) {
    for (const b of [...existing, ...nodes]) {
      if (a === b) continue
      const addr = b.daemon.services.p2p!.listenAddresses()[0]!
      await a.components.parts.network!.host.dial(multiaddr(addr)).catch(() => {})
    }
  }
  return nodes
}

/** Moves chain time forward (anvil), so deadlines pass without waiting. */
export async function increaseTime(chain: DevChain, seconds: number): Promise<void> {
  const client = walletFor(chain, chain.privateKeys[0]!)
  await client.request({ method: 'evm_increaseTime', params: [seconds] } as never)
  await client.request({ method: 'evm_mine', params: [] } as never)
}

/** Starts a stopped node again on the same data dir and keys (a restart after a crash). */
export async function restartNode(node: TestNode, peers: TestNode[]): Promise<TestNode> {
  const components = createNodeComponents(node.config, node.keys, {
    roles: { tickIntervalMs: 300, capabilityAdTtlSeconds: 6 },
    chainPollIntervalMs: 250,
    executorPoolSize: 1,
    ...(node.faults === undefined ? {} : { providerFaults: node.faults }),
  })
  const daemon = createDaemon(node.config, { ...components, logger: testLogger(node.name) })
  await daemon.start()
  for (const peer of peers) {
    if (peer === node || peer.daemon.status !== 'running') continue
    const addr = peer.daemon.services.p2p!.listenAddresses()[0]!
    await components.parts.network!.host.dial(multiaddr(addr)).catch(() => {})
  }
  node.daemon = daemon
  node.components = components
  return node
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ocn-e2e-'))
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true })
}

/** A deterministic uniform stream in [-0.5, 0.5) (an LCG): fixtures are the same on every run. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31 - 0.5
  }
}

/** An MLP of the given layer widths with weights drawn from `rand`; the last layer is linear. */
function seededMlp(rand: () => number, widths: number[], activation: 'relu' | 'tanh'): Mlp {
  const layers = widths.slice(1).map((outFeatures, i) => ({
    inFeatures: widths[i]!,
    outFeatures,
    weight: Float32Array.from({ length: widths[i]! * outFeatures }, rand),
    bias: Float32Array.from({ length: outFeatures }, rand),
    activation: i === widths.length - 2 ? ('none' as const) : activation,
  }))
  return { layers, softmaxOutput: false }
}

/**
 * A stateful sequence job's files: the VAD-like fixture (audio [batch, 32], state
 * [2, batch, 128] with batch on axis 1, scalar int64 sample rate) and audio of `chunks`
 * chunks of `streams` streams ([chunks, streams, 32]); the state starts as zeros.
 */
export async function writeSequenceFixture(
  dir: string,
  chunks = 4,
  streams = 2,
): Promise<{ modelPath: string; inputsPath: string; state: { output: string; input: string }[] }> {
  const rand = seededRandom(11)
  const modelPath = join(dir, 'vad.onnx')
  const inputsPath = join(dir, 'audio.safetensors')
  await writeFile(modelPath, encodeOnnxModel(buildStatefulVadModel()))
  const audio = Float32Array.from({ length: chunks * streams * 32 }, rand)
  await writeFile(
    inputsPath,
    encodeSafetensors({
      input: { dtype: 'float32', dims: [chunks, streams, 32], data: new Uint8Array(audio.buffer) },
      sr: { dtype: 'int64', dims: [], data: new Uint8Array(new BigInt64Array([16000n]).buffer) },
    }),
  )
  return { modelPath, inputsPath, state: [{ output: 'stateN', input: 'state' }] }
}

/**
 * A small MLP (8 -> 16 -> 4, ReLU) and 64 input samples written as model.onnx / inputs.safetensors;
 * another seed gives other weights (another model hash) of the same shape.
 */
export async function writeFixture(
  dir: string,
  seed = 7,
): Promise<{ modelPath: string; inputsPath: string }> {
  const rand = seededRandom(seed)
  const mlp = seededMlp(rand, [8, 16, 4], 'relu')
  const modelPath = join(dir, 'model.onnx')
  const inputsPath = join(dir, 'inputs.safetensors')
  await writeFile(modelPath, encodeOnnxModel(buildMlpModel(mlp)))
  const input = Float32Array.from({ length: 64 * 8 }, rand)
  await writeFile(
    inputsPath,
    encodeSafetensors({ input: { dtype: 'float32', dims: [64, 8], data: new Uint8Array(input.buffer) } }),
  )
  return { modelPath, inputsPath }
}

/** A 3-class blobs dataset (x float32 [64, 2], y int64 [64]) and a training spec (MLP 2-8-3, Adam, 2 epochs). */
export async function writeTrainingFixture(
  dir: string,
): Promise<{ inputsPath: string; trainingSpecPath: string }> {
  const n = 64
  const x = new Float32Array(n * 2)
  const y = new BigInt64Array(n)
  const centres = [
    [-2, 0],
    [2, 0],
    [0, 2],
  ] as const
  const rand = seededRandom(11)
  for (let i = 0; i < n; i++) {
    const c = i % 3
    x[2 * i] = centres[c]![0] + rand()
    x[2 * i + 1] = centres[c]![1] + rand()
    y[i] = BigInt(c)
  }
  const inputsPath = join(dir, 'blobs.safetensors')
  await writeFile(
    inputsPath,
    encodeSafetensors({
      x: { dtype: 'float32', dims: [n, 2], data: new Uint8Array(x.buffer) },
      y: { dtype: 'int64', dims: [n], data: new Uint8Array(y.buffer) },
    }),
  )
  const trainingSpecPath = join(dir, 'training.json')
  await writeFile(
    trainingSpecPath,
    JSON.stringify({
      kind: 'training',
      model: { architecture: { inputFeatures: 2, hiddenLayers: [8], outputs: 3, activation: 'tanh' } },
      loss: 'softmax-cross-entropy',
      optimizer: { type: 'adam', learningRate: 0.02, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
      batchSize: 16,
      epochs: 2,
      seed: 'e2e-blobs',
      checkpointInterval: 2,
      data: { features: 'x', targets: 'y' },
    }),
  )
  return { inputsPath, trainingSpecPath }
}

/**
 * Fine-tuning a "pretrained" network: a 2-8-3 tanh MLP (MatMul + Add, as most exporters write
 * dense layers) with seeded weights, the blobs dataset of writeTrainingFixture, and training
 * specs that fine-tune it: LoRA adapters (rank 2) on both weights, and a generated head on the
 * backbone's hidden layer.
 */
export async function writeFinetuneFixture(dir: string): Promise<{
  modelPath: string
  inputsPath: string
  loraSpecPath: string
  headSpecPath: string
  mlp: Mlp
}> {
  const mlp = seededMlp(seededRandom(23), [2, 8, 3], 'tanh')
  const modelPath = join(dir, 'pretrained.onnx')
  const model = buildMlpModel(mlp, { style: 'matmul-add' })
  await writeFile(modelPath, encodeOnnxModel(model))
  // the head reads the hidden layer: the output of the backbone's Tanh
  const hidden = model.graph.nodes.find((n) => n.opType === 'Tanh')!.outputs[0]!
  const { inputsPath } = await writeTrainingFixture(dir)
  const common = {
    kind: 'training',
    loss: 'softmax-cross-entropy',
    optimizer: { type: 'adam', learningRate: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    batchSize: 16,
    epochs: 2,
    seed: 'e2e-finetune',
    checkpointInterval: 2,
    data: { features: 'x', targets: 'y' },
  }
  const loraSpecPath = join(dir, 'lora.json')
  await writeFile(
    loraSpecPath,
    JSON.stringify({
      ...common,
      model: { baseModel: true, lora: { targets: ['layer0.weight', 'layer1.weight'], rank: 2, alpha: 4 } },
    }),
  )
  const headSpecPath = join(dir, 'head.json')
  await writeFile(
    headSpecPath,
    JSON.stringify({
      ...common,
      model: {
        baseModel: true,
        head: { features: hidden, hiddenLayers: [4], outputs: 3, activation: 'tanh' },
      },
    }),
  )
  return { modelPath, inputsPath, loraSpecPath, headSpecPath, mlp }
}

/** Polls `probe` until it returns a value (the devnet's `waitUntil`: one poller for tests and tools). */
export const waitFor = waitUntil

/**
 * Waits until the job is in one of `states` at `node`. With `followReoffers` (a requester's
 * record), a job that died and was offered again under a new id is followed there (a loaded
 * machine can miss a bidding window); the record returned carries the id it ended under.
 */
export async function jobIn(
  node: TestNode,
  jobId: string,
  states: JobRecord['state'][],
  options: { followReoffers?: boolean } = {},
): Promise<JobRecord> {
  let id = jobId
  const what = `${node.name}: job ${jobId.slice(0, 10)}${options.followReoffers ? ' (or its re-offer)' : ''}`
  return waitFor(`${what} in ${states.join('|')}`, async () => {
    const job = await node.daemon.state.getJob(id)
    const next = (job?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
    if (options.followReoffers && next !== undefined) id = next
    else if (job !== undefined && states.includes(job.state)) return job
    return undefined
  })
}

/** Whether every one of `verifiers` holds a passed report on the job. */
async function everyVerifierPassed(verifiers: readonly TestNode[], jobId: string): Promise<boolean> {
  for (const verifier of verifiers) {
    const record = await verifier.daemon.state.getJob(jobId)
    if ((record?.detail as { report?: { passed: boolean } } | undefined)?.report?.passed !== true)
      return false
  }
  return true
}

/**
 * Waits until the job is finalized at `node`, like jobIn; with `followReoffers`, the job it was
 * offered again as, when a loaded machine missed its bidding window (the record's id says which).
 * Once every verifier has checked the job and passed it, the rest of its challenge window has
 * nothing left to catch: chain time jumps past it (anvil) instead of the test waiting it out.
 * Until then the window runs in real time, so a slow verifier still has all of it.
 */
export async function finalizedOncePassed(
  chain: DevChain,
  node: TestNode,
  verifiers: readonly TestNode[],
  jobId: string,
  options: { windowSeconds: number; timeoutMs?: number; followReoffers?: boolean },
): Promise<JobRecord> {
  let id = jobId
  let forwarded: string | undefined
  return waitFor(
    `${node.name}: job ${jobId.slice(0, 10)}${options.followReoffers ? ' (or its re-offer)' : ''} finalized`,
    async () => {
      const job = await node.daemon.state.getJob(id)
      const next = (job?.detail as { reofferedAs?: string } | undefined)?.reofferedAs
      if (options.followReoffers && next !== undefined) id = next
      else if (job?.state === 'finalized') return job
      else if (forwarded !== id && (await everyVerifierPassed(verifiers, id))) {
        await increaseTime(chain, options.windowSeconds)
        forwarded = id
      }
      return undefined
    },
    options.timeoutMs,
  )
}

/** How a jury convicted a job's provider, read back from the chain once every dispute on it closed. */
export interface JuryConviction {
  disputeId: bigint
  challenger: Address
  leafIndex: number
  /** the convicting round's jurors and their revealed votes (1 guilty, 2 not guilty, 0 none) */
  jurors: { address: Address; vote: number }[]
  penalty: bigint
  challengerReward: bigint
  /** per lowercased juror address, over every dispute on the job: paid shares and lost penalties */
  juryPaid: Map<string, bigint>
  juryPenalized: Map<string, bigint>
}

/** Waits until a jury convicted the job's provider and every dispute on the job is closed. */
export async function juryConviction(
  chain: DevChain,
  deployment: Deployment,
  jobId: Hex,
  timeoutMs = 120_000,
): Promise<JuryConviction> {
  const client = walletFor(chain, chain.privateKeys[0]!)
  const disputeCourt = deployment.addresses.disputeCourt!
  const ids = await waitFor(
    `a jury conviction on ${jobId.slice(0, 10)} with every dispute closed`,
    async () => {
      const all = await getJobDisputes(client, { disputeCourt, jobId })
      if (all.length === 0) return undefined
      for (const disputeId of all) {
        if ((await getCourtDispute(client, { disputeCourt, disputeId })).phase !== CourtPhase.closed)
          return undefined
      }
      return all
    },
    timeoutMs,
  )
  const fromBlock = deployment.deployBlock
  const [convicted] = await client.getContractEvents({
    address: deployment.addresses.jobMarket,
    abi: jobMarketAbi,
    eventName: 'ProviderConvicted',
    args: { jobId },
    fromBlock,
  })
  if (convicted === undefined) throw new Error(`no jury convicted the provider of ${jobId}`)
  const executed = await client.getContractEvents({
    address: disputeCourt,
    abi: disputeCourtAbi,
    eventName: 'DisputeExecuted',
    args: { jobId },
    fromBlock,
  })
  const disputeId = executed.find((e) => e.args.convicted)!.args.disputeId!
  const dispute = await getCourtDispute(client, { disputeCourt, disputeId })
  const drawn = await client.getContractEvents({
    address: disputeCourt,
    abi: disputeCourtAbi,
    eventName: 'JuryDrawn',
    args: { disputeId },
    fromBlock,
  })
  const revealed = await client.getContractEvents({
    address: disputeCourt,
    abi: disputeCourtAbi,
    eventName: 'VoteRevealed',
    args: { disputeId },
    fromBlock,
  })
  const jurors = (drawn.at(-1)?.args.jurors ?? []).map((address) => ({
    address,
    vote: revealed.find((r) => r.args.juror?.toLowerCase() === address.toLowerCase())?.args.choice ?? 0,
  }))
  const sums = async (eventName: 'JurorPaid' | 'JurorPenalized') => {
    const out = new Map<string, bigint>()
    for (const id of ids) {
      const logs = await client.getContractEvents({
        address: disputeCourt,
        abi: disputeCourtAbi,
        eventName,
        args: { disputeId: id },
        fromBlock,
      })
      for (const l of logs) {
        const key = l.args.juror!.toLowerCase()
        out.set(key, (out.get(key) ?? 0n) + l.args.amount!)
      }
    }
    return out
  }
  return {
    disputeId,
    challenger: dispute.challenger,
    leafIndex: dispute.leafIndex,
    jurors,
    penalty: convicted.args.penalty!,
    challengerReward: convicted.args.challengerReward!,
    juryPaid: await sums('JurorPaid'),
    juryPenalized: await sums('JurorPenalized'),
  }
}

/**
 * What the conviction moved to each of `verifiers` (token: reward and jury shares; staked: lost
 * penalties) and to the treasury: the expectations the tests check to the wei.
 */
export function convictionFlows(c: JuryConviction, verifiers: readonly Address[]) {
  const of = (m: Map<string, bigint>, a: Address) => m.get(a.toLowerCase()) ?? 0n
  const total = (m: Map<string, bigint>) => [...m.values()].reduce((x, y) => x + y, 0n)
  return {
    verifier: Object.fromEntries(
      verifiers.map((v) => [
        v,
        {
          token:
            (v.toLowerCase() === c.challenger.toLowerCase() ? c.challengerReward : 0n) + of(c.juryPaid, v),
          staked: -of(c.juryPenalized, v),
        },
      ]),
    ) as Record<Address, { token: bigint; staked: bigint }>,
    treasury: c.penalty - c.challengerReward - total(c.juryPaid) + total(c.juryPenalized),
  }
}

export async function tokenBalances(chain: DevChain, deployment: Deployment, addresses: Address[]) {
  const client = walletFor(chain, chain.privateKeys[0]!)
  const out: Record<string, { token: bigint; staked: bigint; locked: bigint }> = {}
  for (const address of addresses) {
    const s = await getStake(client, { stakeManager: deployment.addresses.stakeManager, account: address })
    out[address] = {
      token: await getTokenBalance(client, { token: deployment.addresses.token, account: address }),
      staked: s.staked,
      locked: s.locked,
    }
  }
  return out
}

export { walletFor }
