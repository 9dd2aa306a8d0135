/**
 * Deploys the protocol on any EVM JSON-RPC endpoint and wires its permissions through the
 * AccessManager: the parameters role may call the setters of the contracts, and the deployer
 * (AccessManager admin) can hand that role, or
 * the admin role itself, to governance later. The ZkVerifierRegistry's setters stay at the
 * admin role: registering a verifier decides which proofs pay out. The ModelRegistry's status
 * changes go to the MODEL_CURATOR role (JobMarket refuses awards for revoked models).
 * The AttributionPool is deployed with it: the JobMarket is wired to it at construction (paid-out
 * jobs on models with weights send `attributionShareBps` of the price there) and its
 * `setWeights` goes to the ATTRIBUTION role.
 * The DisputeCourt is deployed right after the JobMarket: the StakeManager pins both as its only
 * lockers, the JobMarket's court hooks (`holdForDispute`, `releaseDispute`, `convict`) go to the
 * COURT role, held by the court contract alone, and the court's `setParams` to the PARAMETERS role.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type Address, getContractAddress, parseEther, toFunctionSelector } from 'viem'
import { getBlockNumber, getChainId, getTransactionCount, readContract } from 'viem/actions'
import { deployDatanetRegistry } from './datanet/deploy.js'
import { type DatanetParameters, defaultDatanetParameters } from './datanet/params.js'
import { DeploymentError, toContractsClientError } from './errors.js'
import {
  accessManagerAbi,
  accessManagerBytecode,
  attributionPoolAbi,
  attributionPoolBytecode,
  disputeCourtAbi,
  disputeCourtBytecode,
  jobMarketAbi,
  jobMarketBytecode,
  jobMarketExtensionAbi,
  jobMarketExtensionBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  openTokenAbi,
  openTokenBytecode,
  stakeManagerAbi,
  stakeManagerBytecode,
  zkVerifierRegistryAbi,
  zkVerifierRegistryBytecode,
} from './generated/abis.js'
import { deploymentSteps } from './internal.js'
import { deployModelMonitor } from './release/deploy.js'
import {
  defaultModelMonitorParameters,
  defaultModelReleaseParameters,
  type ModelMonitorParameters,
  type ModelReleaseParameters,
} from './release/params.js'
import { type ProtocolAddresses, ProtocolRole, type ProtocolWalletClient } from './types.js'

export interface MarketParameters {
  /** protocol fee on each payout, basis points */
  protocolFeeBps: number
  /** fraction of the collateral slashed from a provider caught cheating, basis points */
  cheatSlashBps: number
  /** fraction of the collateral slashed from a provider that never committed, basis points */
  noShowSlashBps: number
  /** challenger's share of a cheat slash, basis points (the rest goes to the treasury) */
  challengerRewardBps: number
  /** seconds a commitment stays open to challenges */
  challengeWindow: number
  /** OPEN a verifier must have staked to challenge */
  verifierMinStake: bigint
  /** seconds between an unbonding request and the withdrawal; at least `challengeWindow` */
  unbondingDelay: bigint
  /** share of a paid-out job's price sent to the AttributionPool when its model has weights
   * there, basis points; at most MAX_ATTRIBUTION_SHARE_BPS, and with `protocolFeeBps` at most
   * 10 000. Deployment files written before the pool existed read as 0. */
  attributionShareBps: number
  /** OPEN: a paid-out job priced below this does not count toward the provider's `completed`
   * record (it is still paid), so a requester cannot buy its own sock puppet a record for a
   * trifle. Deployment files written before it existed read as 0. */
  minRecordPrice: bigint
}

/** Upper bound of `attributionShareBps` (JobMarket.MAX_ATTRIBUTION_SHARE_BPS). */
export const MAX_ATTRIBUTION_SHARE_BPS = 5_000

export const defaultMarketParameters: MarketParameters = {
  protocolFeeBps: 250,
  cheatSlashBps: 10_000,
  noShowSlashBps: 2_000,
  challengerRewardBps: 5_000,
  challengeWindow: 600,
  verifierMinStake: parseEther('100'),
  unbondingDelay: 7n * 24n * 3600n,
  attributionShareBps: 1_000,
  // Kills the price-0 self-award while every devnet job still counts: its cheapest is a one-sample
  // zk job at the 0.0001 OPEN per-sample floor (packages/cli/src/devnet). Raise it by governance
  // once real prices are known: each record a sock puppet buys costs it the fee on this price.
  minRecordPrice: parseEther('0.0001'),
}

/** The DisputeCourt's parameters (DisputeCourt.CourtParams); durations in seconds. */
export interface CourtParameters {
  /** OPEN a challenger posts at `commitChallenge`; an appeal costs this times 2^(appeal number); at most uint96 */
  challengeBond: bigint
  /** OPEN of the challenger's free stake locked for the dispute */
  challengerStakeAtRisk: bigint
  /** part of `challengerStakeAtRisk` a false challenger loses, basis points */
  falseChallengeSlashBps: number
  /** jurors' share of a convicted provider's penalty and of a loser's bonds and slash, basis points */
  juryShareBps: number
  /** jurors in the first round (odd, at most 15); an appeal draws 2n+1 */
  jurySize: number
  /** rounds per dispute, the first included (1 to 3) */
  maxRounds: number
  /** blocks between a reveal or appeal and the block whose hash draws the jury (1 to 128) */
  drawDelay: number
  /** OPEN a juror must lock to join the pool */
  jurorMinStake: bigint
  /** OPEN a juror loses for voting against the final ruling or not revealing */
  jurorPenalty: bigint
  /** seconds a challenger has to reveal its challenge */
  revealPeriod: number
  /** seconds drawn jurors have to commit their votes */
  voteCommitPeriod: number
  /** seconds to reveal the votes after the commit period */
  voteRevealPeriod: number
  /** seconds after a ruling in which the losing party may appeal */
  appealPeriod: number
  /**
   * OPEN of its bond a challenger pays (to the treasury) to concede its challenge before any jury
   * is drawn; more than 0 and at most `challengeBond`
   */
  concessionFee: bigint
}

/**
 * Devnet defaults (blocks every second): a dispute runs its course in a few minutes. The bond and
 * stake at risk make a false challenge cost 10 + 25 OPEN; a juror risks 10 of its 100 OPEN per
 * seat; a fifth of the penalty of a convicted provider pays the jury. A first jury of 5 makes the
 * appeal jury 11: the larger the deciding jury, the less often a random draw hands a stake
 * minority its majority (with 3 and 7, colluders holding 5 of 11 equal stakes won 35 % of the
 * appeal rounds; docs/lifecycle.md, "Colluding jurors").
 */
export const defaultCourtParameters: CourtParameters = {
  challengeBond: parseEther('10'),
  challengerStakeAtRisk: parseEther('50'),
  falseChallengeSlashBps: 5_000,
  juryShareBps: 2_000,
  jurySize: 5,
  maxRounds: 2,
  drawDelay: 2,
  jurorMinStake: parseEther('100'),
  jurorPenalty: parseEther('10'),
  revealPeriod: 60,
  voteCommitPeriod: 120,
  voteRevealPeriod: 60,
  appealPeriod: 180,
  // a verifier that challenged an unreachable provider in good faith and then saw the leaf served
  // pays 1 OPEN instead of 10 + 25 (docs/lifecycle.md, "Conceding a challenge")
  concessionFee: parseEther('1'),
}

export interface DeployProtocolParameters {
  /** receives the whole OPEN supply; defaults to the deployer */
  tokenHolder?: Address
  /** defaults to one billion OPEN (18 decimals) */
  tokenSupply?: bigint
  /** receives fees and slashes; defaults to the deployer */
  treasury?: Address
  /** granted the PARAMETERS role; defaults to the deployer */
  parameterAdmin?: Address
  /** granted the MODEL_CURATOR role (approve, deprecate, reject, revoke models); defaults to the deployer */
  modelCurator?: Address
  /** granted the ATTRIBUTION role (`AttributionPool.setWeights`); defaults to the deployer */
  attributor?: Address
  params?: Partial<MarketParameters>
  court?: Partial<CourtParameters>
  /** ModelRegistry release gate; defaults to `defaultModelReleaseParameters` */
  modelRelease?: Partial<ModelReleaseParameters>
  /** ModelMonitor thresholds; defaults to `defaultModelMonitorParameters` */
  modelMonitor?: Partial<ModelMonitorParameters>
  /** DatanetRegistry parameters; defaults to `defaultDatanetParameters` */
  datanet?: Partial<DatanetParameters>
  /** when set, the deployment JSON is written there */
  outFile?: string
}

export interface Deployment {
  chainId: number
  addresses: ProtocolAddresses
  /** block of the first deployment transaction (where watchers start) */
  deployBlock: bigint
  deployer: Address
  /** `modelCurator`, `attribution` and `court` are absent in files written before those roles existed */
  roles: { parameters: bigint; modelCurator?: bigint; attribution?: bigint; court?: bigint }
  params: MarketParameters
  /** absent in files written before the DisputeCourt existed */
  courtParams?: CourtParameters
  /** set once `deployGovernance` has put the protocol under governance */
  governance?: GovernanceAddresses
}

/** Where the governance contracts of a deployment live (written by `deployGovernance`). */
export interface GovernanceAddresses {
  governor: Address
  timelock: Address
  council: Address
}

export type DeployProtocolReturnType = Deployment

const MARKET_PARAMETER_FUNCTIONS = [
  'setProtocolFee(uint16)',
  'setSlashFractions(uint16,uint16)',
  'setChallengerRewardShare(uint16)',
  'setChallengeWindow(uint32)',
  'setVerifierMinStake(uint128)',
  'setTreasury(address)',
  'setAttributionShare(uint16)',
  'setMinRecordPrice(uint64)',
]
const ATTRIBUTION_FUNCTIONS = ['setWeights(bytes32,bytes32,bytes32)']
const COURT_FUNCTIONS = [
  'holdForDispute(bytes32)',
  'releaseDispute(bytes32)',
  'convict(bytes32,address,address,uint16)',
]
const COURT_PARAMETER_FUNCTIONS = [
  'setParams((uint96,uint96,uint16,uint16,uint8,uint8,uint8,uint96,uint96,uint32,uint32,uint32,uint32,uint96))',
]
const STAKE_PARAMETER_FUNCTIONS = ['setUnbondingDelay(uint64)']
const MODEL_CURATOR_FUNCTIONS = [
  'approveModel(bytes32)',
  'deprecateModel(bytes32)',
  'rejectModel(bytes32)',
  'revokeModel(bytes32)',
]

export async function deployProtocol(
  client: ProtocolWalletClient,
  parameters: DeployProtocolParameters = {},
): Promise<DeployProtocolReturnType> {
  const deployer = client.account.address
  const params: MarketParameters = { ...defaultMarketParameters, ...parameters.params }
  const courtParams: CourtParameters = { ...defaultCourtParameters, ...parameters.court }
  if (params.unbondingDelay < BigInt(params.challengeWindow)) {
    throw new DeploymentError('unbondingDelay must be at least challengeWindow', {
      details: `unbondingDelay ${params.unbondingDelay} < challengeWindow ${params.challengeWindow}`,
    })
  }
  const tokenHolder = parameters.tokenHolder ?? deployer
  const tokenSupply = parameters.tokenSupply ?? parseEther('1000000000')
  const treasury = parameters.treasury ?? deployer
  const parameterAdmin = parameters.parameterAdmin ?? deployer
  const modelCurator = parameters.modelCurator ?? deployer
  const attributor = parameters.attributor ?? deployer
  const share = params.attributionShareBps
  if (
    !Number.isInteger(share) ||
    share < 0 ||
    share > MAX_ATTRIBUTION_SHARE_BPS ||
    share + params.protocolFeeBps > 10_000
  ) {
    throw new DeploymentError(
      `attributionShareBps must be an integer from 0 to ${MAX_ATTRIBUTION_SHARE_BPS}, and at most 10000 with protocolFeeBps`,
      { details: `attributionShareBps ${share}, protocolFeeBps ${params.protocolFeeBps}` },
    )
  }

  try {
    const chainId = await getChainId(client)
    const deployBlock = await getBlockNumber(client, { cacheTime: 0 })

    // Each transaction is mined before the next is sent, so nonces are sequential and the
    // JobMarket's and the DisputeCourt's addresses can be known before they exist (the
    // StakeManager pins both immutably).
    const steps = deploymentSteps(
      client,
      (message, details) => new DeploymentError(message, details === undefined ? {} : { details }),
    )
    const { deploy, manage: manageOn } = steps

    const accessManager = await deploy('AccessManager', {
      abi: accessManagerAbi,
      bytecode: accessManagerBytecode,
      args: [deployer],
    })
    const token = await deploy('OpenToken', {
      abi: openTokenAbi,
      bytecode: openTokenBytecode,
      args: [tokenHolder, tokenSupply],
    })
    const zkVerifierRegistry = await deploy('ZkVerifierRegistry', {
      abi: zkVerifierRegistryAbi,
      bytecode: zkVerifierRegistryBytecode,
      args: [accessManager],
    })
    const modelRegistry = await deploy('ModelRegistry', {
      abi: modelRegistryAbi,
      bytecode: modelRegistryBytecode,
      args: [accessManager, token, { ...defaultModelReleaseParameters, ...parameters.modelRelease }],
    })
    const attributionPool = await deploy('AttributionPool', {
      abi: attributionPoolAbi,
      bytecode: attributionPoolBytecode,
      args: [accessManager, token],
    })
    const nonce = await getTransactionCount(client, { address: deployer, blockTag: 'pending' })
    // nonce: the StakeManager, + 1 the JobMarket's extension (it needs the StakeManager's
    // address), + 2 the JobMarket, + 3 the DisputeCourt
    const predictedMarket = getContractAddress({ from: deployer, nonce: BigInt(nonce + 2) })
    const predictedCourt = getContractAddress({ from: deployer, nonce: BigInt(nonce + 3) })
    const stakeManager = await deploy('StakeManager', {
      abi: stakeManagerAbi,
      bytecode: stakeManagerBytecode,
      args: [token, predictedMarket, predictedCourt, accessManager, params.unbondingDelay],
      nonce,
    })
    const jobMarketExtension = await deploy('JobMarketExtension', {
      abi: jobMarketExtensionAbi,
      bytecode: jobMarketExtensionBytecode,
      args: [token, stakeManager, zkVerifierRegistry, modelRegistry, attributionPool],
      nonce: nonce + 1,
    })
    const jobMarket = await deploy('JobMarket', {
      abi: jobMarketAbi,
      bytecode: jobMarketBytecode,
      args: [
        token,
        stakeManager,
        zkVerifierRegistry,
        modelRegistry,
        accessManager,
        treasury,
        {
          protocolFeeBps: params.protocolFeeBps,
          cheatSlashBps: params.cheatSlashBps,
          noShowSlashBps: params.noShowSlashBps,
          challengerRewardBps: params.challengerRewardBps,
          challengeWindow: params.challengeWindow,
          treasuryAccrued: 0n,
        },
        params.verifierMinStake,
        params.minRecordPrice,
        { pool: attributionPool, shareBps: share },
        jobMarketExtension,
      ],
      nonce: nonce + 2,
    })
    if (jobMarket.toLowerCase() !== predictedMarket.toLowerCase()) {
      throw new DeploymentError('JobMarket landed at an unexpected address', {
        details: `expected ${predictedMarket}, got ${jobMarket}; was another transaction sent from the deployer meanwhile?`,
      })
    }

    const disputeCourt = await deploy('DisputeCourt', {
      abi: disputeCourtAbi,
      bytecode: disputeCourtBytecode,
      args: [token, stakeManager, jobMarket, accessManager, courtParams],
      nonce: nonce + 3,
    })
    if (disputeCourt.toLowerCase() !== predictedCourt.toLowerCase()) {
      throw new DeploymentError('DisputeCourt landed at an unexpected address', {
        details: `expected ${predictedCourt}, got ${disputeCourt}; was another transaction sent from the deployer meanwhile?`,
      })
    }

    const manage = (functionName: 'setTargetFunctionRole' | 'grantRole', args: readonly unknown[]) =>
      manageOn(accessManager, functionName, args)
    const selectors = (signatures: string[]) => signatures.map((s) => toFunctionSelector(s))
    await manage('setTargetFunctionRole', [
      jobMarket,
      selectors(MARKET_PARAMETER_FUNCTIONS),
      ProtocolRole.parameters,
    ])
    await manage('setTargetFunctionRole', [jobMarket, selectors(COURT_FUNCTIONS), ProtocolRole.court])
    await manage('setTargetFunctionRole', [
      disputeCourt,
      selectors(COURT_PARAMETER_FUNCTIONS),
      ProtocolRole.parameters,
    ])
    await manage('setTargetFunctionRole', [
      stakeManager,
      selectors(STAKE_PARAMETER_FUNCTIONS),
      ProtocolRole.parameters,
    ])
    await manage('setTargetFunctionRole', [
      modelRegistry,
      selectors(MODEL_CURATOR_FUNCTIONS),
      ProtocolRole.modelCurator,
    ])
    await manage('setTargetFunctionRole', [
      attributionPool,
      selectors(ATTRIBUTION_FUNCTIONS),
      ProtocolRole.attribution,
    ])
    await manage('grantRole', [ProtocolRole.modelCurator, modelCurator, 0])
    await manage('grantRole', [ProtocolRole.parameters, parameterAdmin, 0])
    await manage('grantRole', [ProtocolRole.attribution, attributor, 0])
    // the court contract only: no account can hold a dispute open or convict a provider
    await manage('grantRole', [ProtocolRole.court, disputeCourt, 0])

    const datanetRegistry = await deployDatanetRegistry(
      steps,
      { accessManager, token, jobMarket, modelRegistry, attributionPool },
      { ...defaultDatanetParameters, ...parameters.datanet },
    )

    const modelMonitor = await deployModelMonitor(
      steps,
      { accessManager, jobMarket, disputeCourt, modelRegistry },
      { ...defaultModelMonitorParameters, ...parameters.modelMonitor },
    )

    const wiredMarket = await readContract(client, {
      address: stakeManager,
      abi: stakeManagerAbi,
      functionName: 'jobMarket',
    })
    if (wiredMarket.toLowerCase() !== jobMarket.toLowerCase()) {
      throw new DeploymentError('StakeManager is wired to the wrong JobMarket', { details: wiredMarket })
    }
    const wiredPool = await readContract(client, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'attributionPool',
    })
    if (wiredPool.toLowerCase() !== attributionPool.toLowerCase()) {
      throw new DeploymentError('JobMarket is wired to the wrong AttributionPool', { details: wiredPool })
    }

    const deployment: Deployment = {
      chainId,
      addresses: {
        accessManager,
        token,
        stakeManager,
        jobMarket,
        zkVerifierRegistry,
        modelRegistry,
        attributionPool,
        disputeCourt,
        datanetRegistry,
        modelMonitor,
      },
      deployBlock,
      deployer,
      roles: {
        parameters: ProtocolRole.parameters,
        modelCurator: ProtocolRole.modelCurator,
        attribution: ProtocolRole.attribution,
        court: ProtocolRole.court,
      },
      params,
      courtParams,
    }
    if (parameters.outFile !== undefined) await writeDeploymentFile(parameters.outFile, deployment)
    return deployment
  } catch (err) {
    if (err instanceof DeploymentError) throw err
    const cause = toContractsClientError(err, 'deployProtocol')
    throw new DeploymentError('deploying the protocol failed', { details: cause.shortMessage, cause })
  }
}

/** Writes a deployment as JSON (bigints as decimal strings). */
export async function writeDeploymentFile(path: string, deployment: Deployment): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const json = JSON.stringify(deployment, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)
  await writeFile(path, `${json}\n`)
}

/** Reads a deployment file written by `writeDeploymentFile`. */
export function parseDeployment(json: string): Deployment {
  let raw: {
    chainId?: unknown
    addresses?: Record<string, unknown>
    deployBlock?: unknown
    deployer?: unknown
    roles?: Record<string, unknown>
    params?: Record<string, unknown>
    governance?: Record<string, unknown>
    courtParams?: Record<string, unknown>
  }
  try {
    raw = JSON.parse(json)
  } catch (err) {
    throw new DeploymentError('deployment file is not JSON', { cause: err })
  }
  const address = (v: unknown, name: string): Address => {
    if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(v)) {
      throw new DeploymentError(`deployment file: ${name} is not an address`)
    }
    return v as Address
  }
  const big = (v: unknown, name: string): bigint => {
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new DeploymentError(`deployment file: ${name} missing`)
    return BigInt(v)
  }
  const num = (v: unknown, name: string): number => Number(big(v, name))
  const a = raw.addresses ?? {}
  const p = raw.params ?? {}
  // Deployments written before the ModelRegistry existed have neither entry.
  const modelRegistry =
    a.modelRegistry === undefined
      ? {}
      : { modelRegistry: address(a.modelRegistry, 'addresses.modelRegistry') }
  const modelCurator =
    raw.roles?.modelCurator === undefined
      ? {}
      : { modelCurator: big(raw.roles.modelCurator, 'roles.modelCurator') }
  // Nor do those written before the AttributionPool: their JobMarket routes nothing (share 0).
  const attributionPool =
    a.attributionPool === undefined
      ? {}
      : { attributionPool: address(a.attributionPool, 'addresses.attributionPool') }
  const attributionRole =
    raw.roles?.attribution === undefined
      ? {}
      : { attribution: big(raw.roles.attribution, 'roles.attribution') }
  // Nor do those written before the DisputeCourt: no court address, role or parameters.
  const disputeCourt =
    a.disputeCourt === undefined ? {} : { disputeCourt: address(a.disputeCourt, 'addresses.disputeCourt') }
  const datanetRegistry =
    a.datanetRegistry === undefined
      ? {}
      : { datanetRegistry: address(a.datanetRegistry, 'addresses.datanetRegistry') }
  const modelMonitor =
    a.modelMonitor === undefined ? {} : { modelMonitor: address(a.modelMonitor, 'addresses.modelMonitor') }
  const courtRole = raw.roles?.court === undefined ? {} : { court: big(raw.roles.court, 'roles.court') }
  const courtParams = raw.courtParams === undefined ? {} : { courtParams: parseCourtParams(raw.courtParams) }
  return {
    chainId: num(raw.chainId, 'chainId'),
    addresses: {
      accessManager: address(a.accessManager, 'addresses.accessManager'),
      token: address(a.token, 'addresses.token'),
      stakeManager: address(a.stakeManager, 'addresses.stakeManager'),
      jobMarket: address(a.jobMarket, 'addresses.jobMarket'),
      zkVerifierRegistry: address(a.zkVerifierRegistry, 'addresses.zkVerifierRegistry'),
      ...modelRegistry,
      ...attributionPool,
      ...disputeCourt,
      ...datanetRegistry,
      ...modelMonitor,
    },
    deployBlock: big(raw.deployBlock, 'deployBlock'),
    deployer: address(raw.deployer, 'deployer'),
    roles: {
      parameters: big(raw.roles?.parameters, 'roles.parameters'),
      ...modelCurator,
      ...attributionRole,
      ...courtRole,
    },
    ...courtParams,
    // Deployments written before governance (or never put under it) have no such entry.
    ...(raw.governance === undefined || raw.governance === null
      ? {}
      : {
          governance: {
            governor: address(raw.governance.governor, 'governance.governor'),
            timelock: address(raw.governance.timelock, 'governance.timelock'),
            council: address(raw.governance.council, 'governance.council'),
          },
        }),
    params: {
      protocolFeeBps: num(p.protocolFeeBps, 'params.protocolFeeBps'),
      cheatSlashBps: num(p.cheatSlashBps, 'params.cheatSlashBps'),
      noShowSlashBps: num(p.noShowSlashBps, 'params.noShowSlashBps'),
      challengerRewardBps: num(p.challengerRewardBps, 'params.challengerRewardBps'),
      challengeWindow: num(p.challengeWindow, 'params.challengeWindow'),
      verifierMinStake: big(p.verifierMinStake, 'params.verifierMinStake'),
      unbondingDelay: big(p.unbondingDelay, 'params.unbondingDelay'),
      attributionShareBps:
        p.attributionShareBps === undefined ? 0 : num(p.attributionShareBps, 'params.attributionShareBps'),
      minRecordPrice: p.minRecordPrice === undefined ? 0n : big(p.minRecordPrice, 'params.minRecordPrice'),
    },
  }
}

function parseCourtParams(c: Record<string, unknown>): CourtParameters {
  const big = (name: keyof CourtParameters): bigint => {
    const v = c[name]
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new DeploymentError(`deployment file: courtParams.${name} missing`)
    }
    return BigInt(v)
  }
  const num = (name: keyof CourtParameters): number => Number(big(name))
  return {
    challengeBond: big('challengeBond'),
    challengerStakeAtRisk: big('challengerStakeAtRisk'),
    falseChallengeSlashBps: num('falseChallengeSlashBps'),
    juryShareBps: num('juryShareBps'),
    jurySize: num('jurySize'),
    maxRounds: num('maxRounds'),
    drawDelay: num('drawDelay'),
    jurorMinStake: big('jurorMinStake'),
    jurorPenalty: big('jurorPenalty'),
    revealPeriod: num('revealPeriod'),
    voteCommitPeriod: num('voteCommitPeriod'),
    voteRevealPeriod: num('voteRevealPeriod'),
    appealPeriod: num('appealPeriod'),
    concessionFee: big('concessionFee'),
  }
}
