/**
 * The governance phase: after the other phases have used the deployer's admin role, the
 * protocol goes under OpenGovernor + timelock with devnet-short delays, and one protocol
 * parameter changes the only way it still can, through a proposal run end to end by the real
 * `ocn gov` CLI from a devnet node's data dir (delegate, propose, vote, queue, execute).
 * The deployer's own direct call to the same setter is shown to revert.
 */
import { execFile } from 'node:child_process'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  accessManagerAbi,
  ContractRevertError,
  delegateVotes,
  deployGovernance,
  type GovernanceDeployment,
  getMarketParams,
  getProposalStatus,
  getVotes,
  openGovernorAbi,
  type ProposalState,
  type ProposalStatus,
  ProtocolRole,
  parseDeployment,
  proposalStates,
  setProtocolFee,
} from '@ocn/contracts-client'
import type { Address, Hex } from 'viem'
import { getBlock, getTransactionReceipt, readContract } from 'viem/actions'
import { DevnetError } from './errors.js'
import type { DevnetAfterContext, DevnetPhase, DevnetPhaseReport, DevnetRunningMember } from './phase.js'
import { ocnBinPath } from './processes.js'
import { sleep } from './sleep.js'

/**
 * Delays in seconds (OpenToken's timestamp clock). The devnet mines a block per transaction
 * and one per second, so each second of chain time passes in at most a second. The voting
 * period leaves room for one `ocn gov vote` process to start and land its transaction on a
 * loaded machine (a few seconds); it is also the phase's longest wait.
 */
export const devnetGovernorSettings = {
  votingDelay: 1,
  votingPeriod: 15,
  timelockDelay: 3n,
} as const

/** The parameter the devnet's proposal changes, and by how much (basis points). */
const PARAMETER = 'protocolFeeBps'
const FEE_STEP_BPS = 50

/** One `ocn` command may take this long (process start, RPC, one mined transaction). */
const CLI_TIMEOUT_MS = 30_000

interface CliRun {
  command: string
  ms: number
  json: Record<string, unknown>
}

/** The CLI reads the node's config file; an OCN_* variable of this shell must not override it. */
function cliEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('OCN_')))
}

function phaseError(message: string, details?: string, cause?: unknown): DevnetError {
  return new DevnetError('DEVNET_PHASE_FAILED', message, {
    ...(details === undefined ? {} : { details }),
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Runs `ocn <args> --data-dir <dataDir> --json` as a child process; its JSON reply or a DevnetError. */
function ocnJson(args: readonly string[], dataDir: string, signal?: AbortSignal): Promise<CliRun> {
  const started = Date.now()
  const command = `ocn ${args.join(' ')}`
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [ocnBinPath(), ...args, '--data-dir', dataDir, '--json'],
      {
        env: cliEnv(),
        timeout: CLI_TIMEOUT_MS,
        maxBuffer: 1 << 20,
        ...(signal === undefined ? {} : { signal }),
      },
      (error, stdout, stderr) => {
        let json: Record<string, unknown> | undefined
        try {
          json = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>
        } catch {
          json = undefined
        }
        const failure = json?.error as { code?: string; message?: string } | undefined
        if (error !== null || json === undefined || failure !== undefined) {
          reject(
            phaseError(
              `\`${command}\` failed: ${failure?.message ?? error?.message ?? 'no JSON reply'}`,
              `${failure?.code ?? ''} ${stderr.trim().slice(-500)}`.trim(),
              error ?? undefined,
            ),
          )
          return
        }
        resolvePromise({ command, ms: Date.now() - started, json })
      },
    )
  })
}

/** The deployment file a node reads (its config's `chain.deploymentFile`). */
async function deploymentFileOf(member: DevnetRunningMember): Promise<string> {
  const config = JSON.parse(await readFile(join(member.dataDir, 'config.json'), 'utf8')) as {
    chain?: { deploymentFile?: unknown }
  }
  const file = config.chain?.deploymentFile
  if (typeof file !== 'string') throw phaseError(`${member.name}'s config names no chain.deploymentFile`)
  return resolve(member.dataDir, file)
}

/**
 * Adds the governance entry to the deployment file in place. The file is edited as JSON, not
 * re-serialised from a parsed Deployment, so entries other phases or newer versions wrote
 * there survive; it is replaced atomically so a reader never sees half a file.
 */
async function recordGovernance(file: string, governance: GovernanceDeployment): Promise<void> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  raw.governance = {
    governor: governance.governor,
    timelock: governance.timelock,
    council: governance.council,
  }
  const partial = `${file}.governance.tmp`
  await writeFile(partial, `${JSON.stringify(raw, null, 2)}\n`)
  await rename(partial, file)
}

async function isAdmin(context: DevnetAfterContext, account: Address): Promise<boolean> {
  const [member] = await readContract(context.admin, {
    address: context.deployment.addresses.accessManager,
    abi: accessManagerAbi,
    functionName: 'hasRole',
    args: [ProtocolRole.admin, account],
  })
  return member
}

/** Who votes, from which data dir, on which change; and every `ocn` run so far. */
interface GovernanceRun {
  context: DevnetAfterContext
  started: number
  voter: DevnetRunningMember
  deploymentFile: string
  before: number
  target: number
  cli: CliRun[]
  /** Runs `ocn <args>` from the voter's data dir and records it; its JSON reply. */
  ocn(...args: string[]): Promise<Record<string, unknown>>
}

async function planRun(context: DevnetAfterContext): Promise<GovernanceRun> {
  const { admin, deployment, signal } = context
  const started = Date.now()
  const { jobMarket, stakeManager } = deployment.addresses
  // The requester is the voter: it holds OPEN, stakes none, and is idle after the workload.
  const voter = context.nodes.find((n) => n.roles.includes('requester')) ?? context.nodes[0]
  if (voter === undefined) throw phaseError('no running node to vote from')
  const deploymentFile = await deploymentFileOf(voter)
  const before = (await getMarketParams(admin, { jobMarket, stakeManager }))[PARAMETER]
  const target = before + FEE_STEP_BPS <= 10_000 ? before + FEE_STEP_BPS : before - FEE_STEP_BPS
  const cli: CliRun[] = []
  const ocn = async (...args: string[]): Promise<Record<string, unknown>> => {
    const result = await ocnJson(args, voter.dataDir, signal)
    cli.push(result)
    return result.json
  }
  return { context, started, voter, deploymentFile, before, target, cli, ocn }
}

/** Governance in charge: where its contracts are recorded and who holds the admin role now. */
interface Handover {
  governance: GovernanceDeployment
  /** The voter's own `ocn gov delegate`, still running (awaited before it proposes). */
  delegating: Promise<Record<string, unknown>>
  fileNamesGovernance: boolean
  /** What the deployer's own setProtocolFee came to: the revert's error name. */
  directCall: string
  timelockAdmin: boolean
  deployerAdmin: boolean
}

async function handOverAdmin(run: GovernanceRun): Promise<Handover> {
  const { context, voter, deploymentFile, target } = run
  const { admin, deployment } = context
  const { token, jobMarket } = deployment.addresses
  // Delegating is the token's business, so the voter's own delegation runs while governance
  // is deployed (from another account: no nonce is shared). Marked handled here so that a
  // failure elsewhere first does not leave an unhandled rejection; awaited later.
  context.step(`governance: ${voter.name} delegates to itself (ocn gov delegate)`)
  const delegating = run.ocn('gov', 'delegate')
  delegating.catch(() => undefined)

  // On a devnet the deployer holds the undistributed supply; its votes go to the voter so
  // that one node's proposal can reach the quorum (4 % of the supply). No OPEN moves.
  context.step('governance: the deployer delegates its votes to the requester')
  await delegateVotes(admin, { token, delegatee: voter.address })

  context.step('governance: deploying governor, timelock and council; the admin role goes to the timelock')
  const governance = await deployGovernance(admin, {
    deployment,
    governor: devnetGovernorSettings,
  })
  await recordGovernance(deploymentFile, governance)
  const recorded = parseDeployment(await readFile(deploymentFile, 'utf8')).governance
  const fileNamesGovernance =
    recorded !== undefined &&
    recorded.governor.toLowerCase() === governance.governor.toLowerCase() &&
    recorded.timelock.toLowerCase() === governance.timelock.toLowerCase()

  // The deployer tries the change itself: the simulation reverts, nothing is sent.
  let directCall: string
  try {
    await setProtocolFee(admin, { jobMarket, protocolFeeBps: target })
    directCall = 'succeeded'
  } catch (error) {
    directCall = error instanceof ContractRevertError ? error.errorName : String(error)
  }
  const [timelockAdmin, deployerAdmin] = await Promise.all([
    isAdmin(context, governance.timelock),
    isAdmin(context, admin.account.address),
  ])
  return { governance, delegating, fileNamesGovernance, directCall, timelockAdmin, deployerAdmin }
}

interface Transition {
  state: ProposalState
  block: string
  chainTime: string
  atMs: number
}

/** Watches one proposal on the chain and records each state it is seen in. */
class ProposalWatch {
  readonly transitions: Transition[] = []
  proposalId: bigint | undefined

  constructor(
    private readonly context: DevnetAfterContext,
    private readonly governor: Address,
    private readonly started: number,
  ) {}

  /** Reads the proposal's state (now, or at a past block) and records it when it changed. */
  async observe(blockNumber?: bigint): Promise<ProposalState> {
    const { admin } = this.context
    const proposalId = this.proposalId
    if (proposalId === undefined) throw phaseError('no proposal yet')
    const at = blockNumber === undefined ? {} : { blockNumber }
    const [index, block] = await Promise.all([
      readContract(admin, {
        address: this.governor,
        abi: openGovernorAbi,
        functionName: 'state',
        args: [proposalId],
        ...at,
      }),
      getBlock(admin, blockNumber === undefined ? { blockTag: 'latest' } : { blockNumber }),
    ])
    const state = proposalStates[index]
    if (state === undefined) throw phaseError(`unknown proposal state ${index}`)
    if (this.transitions.at(-1)?.state !== state)
      this.transitions.push({
        state,
        block: block.number.toString(),
        chainTime: block.timestamp.toString(),
        atMs: Date.now() - this.started,
      })
    return state
  }

  /** Polls until the proposal reaches `wanted` (chain time passes by a block a second). */
  async reach(wanted: ProposalState, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs
    for (;;) {
      const state = await this.observe()
      if (state === wanted) return
      if (Date.now() > deadline)
        throw phaseError(`proposal ${this.proposalId} did not become ${wanted} in time (it is ${state})`)
      await sleep(200, this.context.signal)
    }
  }

  /** Waits until the latest block's time reaches `time`. */
  async untilChainTime(time: bigint, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs
    const chainTime = async () => (await getBlock(this.context.admin, { blockTag: 'latest' })).timestamp
    while ((await chainTime()) < time) {
      if (Date.now() > deadline) throw phaseError(`the chain did not reach time ${time} in time`)
      await sleep(200, this.context.signal)
    }
  }
}

/** The proposal's run through `ocn gov`, and the replies the report shows. */
interface ProposalOutcome {
  proposalId: bigint
  transitions: Transition[]
  status: ProposalStatus
  delegated: Record<string, unknown>
  voted: Record<string, unknown>
  queued: Record<string, unknown>
}

/** Propose, vote, queue and execute through `ocn gov`, waiting for each state on the chain. */
async function passProposal(run: GovernanceRun, handover: Handover): Promise<ProposalOutcome> {
  const { context, voter, before, target, ocn } = run
  const { admin } = context
  const { governance } = handover
  const watch = new ProposalWatch(context, governance.governor, run.started)

  const delegated = await handover.delegating
  // Votes count from one second before the proposal: a block later than the delegation's
  // is enough (the deployment's transactions are usually past it already).
  const delegation = await getTransactionReceipt(admin, { hash: delegated.transaction as Hex })
  const delegatedAt = (await getBlock(admin, { blockNumber: delegation.blockNumber })).timestamp
  await watch.untilChainTime(delegatedAt + 1n, 10_000)

  context.step(`governance: ${voter.name} proposes ${PARAMETER} ${before} -> ${target} (ocn gov propose)`)
  const proposed = await ocn(
    'gov',
    'propose',
    '--set',
    `${PARAMETER}=${target}`,
    '-m',
    `Devnet: set the protocol fee to ${target} bps`,
  )
  const proposalId = BigInt(proposed.proposalId as string)
  watch.proposalId = proposalId
  // Its state in the block that created it: the chain may be past the snapshot already by
  // the time this process has read the CLI's reply.
  const created = await getTransactionReceipt(admin, { hash: proposed.transaction as Hex })
  await watch.observe(created.blockNumber)
  await watch.reach('active', 15_000)

  context.step(`governance: ${voter.name} votes for (ocn gov vote)`)
  const voted = await ocn('gov', 'vote', proposalId.toString(), 'for', '--reason', 'devnet demonstration')
  await watch.reach('succeeded', (devnetGovernorSettings.votingPeriod + 10) * 1000)

  context.step('governance: queueing in the timelock (ocn gov queue)')
  const queued = await ocn('gov', 'queue', proposalId.toString())
  await watch.observe()
  const eta = BigInt(queued.eta as string)
  // Executable once a mined block's time reaches the eta; waiting for the chain to get
  // there avoids a simulation against a block that is still one second short.
  await watch.untilChainTime(eta, (Number(devnetGovernorSettings.timelockDelay) + 10) * 1000)

  context.step('governance: executing (ocn gov execute)')
  await ocn('gov', 'execute', proposalId.toString())
  await watch.observe()
  const status = await getProposalStatus(admin, { governor: governance.governor, proposalId })
  return { proposalId, transitions: watch.transitions, status, delegated, voted, queued }
}

const EXPECTED_STATES: readonly ProposalState[] = ['pending', 'active', 'succeeded', 'queued', 'executed']

/** The phase's checks, from what the handover and the proposal left on the chain. */
function governanceChecks(
  run: GovernanceRun,
  handover: Handover,
  outcome: ProposalOutcome,
  after: number,
): Record<string, boolean> {
  const states = outcome.transitions.map((t) => t.state)
  return {
    deploymentFileNamesGovernance: handover.fileNamesGovernance,
    adminIsTimelock:
      handover.timelockAdmin &&
      !handover.deployerAdmin &&
      handover.directCall === 'AccessManagedUnauthorized',
    proposalExecuted: outcome.status.state === 'executed' && states.join() === EXPECTED_STATES.join(),
    parameterChanged: run.before !== run.target && after === run.target,
  }
}

async function run(context: DevnetAfterContext): Promise<DevnetPhaseReport> {
  const plan = await planRun(context)
  const handover = await handOverAdmin(plan)
  const outcome = await passProposal(plan, handover)

  const { admin, deployment } = context
  const { token, jobMarket, stakeManager } = deployment.addresses
  const { voter, before, deploymentFile } = plan
  const { governance, directCall } = handover
  const { proposalId, status, transitions } = outcome
  const after = (await getMarketParams(admin, { jobMarket, stakeManager }))[PARAMETER]
  const voterVotes = await getVotes(admin, { token, account: voter.address })
  const states = transitions.map((t) => t.state)
  return {
    report: {
      governor: governance.governor,
      timelock: governance.timelock,
      council: governance.council,
      settings: {
        votingDelaySeconds: governance.settings.votingDelay,
        votingPeriodSeconds: governance.settings.votingPeriod,
        timelockDelaySeconds: governance.settings.timelockDelay,
        quorumPercent: governance.settings.quorumPercent,
      },
      deploymentFile,
      voter: { name: voter.name, address: voter.address, votes: voterVotes },
      parameter: PARAMETER,
      before,
      after,
      proposalId: proposalId.toString(),
      transitions,
      voteWeight: outcome.voted.weight,
      votes: { for: status.votes.for, against: status.votes.against, abstain: status.votes.abstain },
      quorum: status.quorum,
      delegatedVotes: outcome.delegated.votes,
      eta: outcome.queued.eta,
      directCall: { by: admin.account.address, setProtocolFee: plan.target, result: directCall },
      cli: plan.cli.map((c) => ({ command: c.command, ms: c.ms })),
      durationMs: Date.now() - plan.started,
    },
    checks: governanceChecks(plan, handover, outcome, after),
    lines: [
      `governance: proposal ${proposalId} set ${PARAMETER} ${before} -> ${after} through ocn gov (${states.join(' -> ')})`,
      `governance: admin is the timelock ${governance.timelock}; the deployer's own setProtocolFee reverts (${directCall})`,
    ],
  }
}

export const governancePhase: DevnetPhase = {
  name: 'governance',
  afterWorkload: run,
}
