/**
 * Puts an existing protocol deployment under governance: deploys the TimelockController, the
 * OpenGovernor (the timelock's only proposer and canceller) and the Council, moves the
 * council-delegated setters to their own AccessManager role, gives the timelock the admin,
 * parameter, model-curator and attribution roles and takes them away from the deployer (the COURT role stays with the DisputeCourt contract alone). After this the
 * deployer can change nothing: every parameter and model status moves only through a passed
 * proposal after the timelock delay, or through the council within the bounds governance set.
 */
import { type Address, getContractAddress, toFunctionSelector, zeroAddress } from 'viem'
import { getTransactionCount, readContract } from 'viem/actions'
import { type Deployment, writeDeploymentFile } from '../deploy.js'
import { toContractsClientError } from '../errors.js'
import {
  accessManagerAbi,
  councilAbi,
  councilBytecode,
  openGovernorAbi,
  openGovernorBytecode,
  timelockControllerAbi,
  timelockControllerBytecode,
} from '../generated/abis.js'
import { type AccessManagerCall, deploymentSteps } from '../internal.js'
import { ProtocolRole, type ProtocolWalletClient } from '../types.js'
import { GovernanceDeploymentError } from './errors.js'
import {
  type CouncilBounds,
  type CouncilParameterBounds,
  defaultGovernanceOptions,
  type GovernorSettings,
} from './options.js'

/** AccessManager role of the council-delegated setters (held by the Council and the timelock). */
export const OPERATIONS_ROLE = 3n

/** The JobMarket setters the council may call, by parameter name. */
export const councilSetters = {
  challengeWindow: 'setChallengeWindow(uint32)',
  verifierMinStake: 'setVerifierMinStake(uint128)',
} as const satisfies Record<keyof CouncilParameterBounds, string>
export type CouncilParameter = keyof typeof councilSetters

/** Largest value each setter's argument type can carry (the council bound must stay below). */
const setterMax: Record<CouncilParameter, bigint> = {
  challengeWindow: 2n ** 32n - 1n,
  verifierMinStake: 2n ** 128n - 1n,
}

export interface DeployGovernanceParameters {
  /** the protocol to put under governance (from deployProtocol or parseDeployment) */
  deployment: Deployment
  governor?: Partial<GovernorSettings>
  council?: Partial<CouncilParameterBounds>
  /** council members (a multisig is the expected member); may be empty and set later by vote */
  councilMembers?: Address[]
  /** holders of the PARAMETERS role to revoke; defaults to the deployer */
  revokeParameterAdmins?: Address[]
  /** holders of the MODEL_CURATOR role to revoke; defaults to the deployer */
  revokeModelCurators?: Address[]
  /** holders of the ATTRIBUTION role to revoke; defaults to the deployer */
  revokeAttributors?: Address[]
  /** when set, the deployment JSON with the governance addresses added is written there */
  outFile?: string
}

export interface GovernanceDeployment {
  governor: Address
  timelock: Address
  council: Address
  roles: { operations: bigint }
  settings: GovernorSettings
  councilBounds: CouncilParameterBounds
}

export type DeployGovernanceReturnType = GovernanceDeployment

function checkSettings(s: GovernorSettings, bounds: CouncilParameterBounds): void {
  const bad = (what: string) => new GovernanceDeploymentError(`invalid governance setting: ${what}`)
  if (!Number.isInteger(s.votingDelay) || s.votingDelay < 0 || s.votingDelay >= 2 ** 48)
    throw bad('votingDelay')
  if (!Number.isInteger(s.votingPeriod) || s.votingPeriod <= 0 || s.votingPeriod >= 2 ** 32)
    throw bad('votingPeriod')
  if (!Number.isInteger(s.quorumPercent) || s.quorumPercent < 0 || s.quorumPercent > 100)
    throw bad('quorumPercent')
  if (s.proposalThreshold < 0n || s.timelockDelay < 0n) throw bad('proposalThreshold/timelockDelay')
  for (const [name, b] of Object.entries(bounds) as [CouncilParameter, CouncilBounds][]) {
    if (b.min < 0n || b.min > b.max || b.max > setterMax[name]) throw bad(`council.${name} range`)
    if (!Number.isInteger(b.delay) || b.delay <= 0 || b.delay >= 2 ** 32) throw bad(`council.${name} delay`)
    if (!Number.isInteger(b.cooldown) || b.cooldown < 0 || b.cooldown >= 2 ** 32)
      throw bad(`council.${name} cooldown`)
  }
}

export async function deployGovernance(
  client: ProtocolWalletClient,
  parameters: DeployGovernanceParameters,
): Promise<DeployGovernanceReturnType> {
  const { deployment } = parameters
  const deployer = client.account.address
  const settings: GovernorSettings = { ...defaultGovernanceOptions.governor, ...parameters.governor }
  const councilBounds: CouncilParameterBounds = { ...defaultGovernanceOptions.council, ...parameters.council }
  checkSettings(settings, councilBounds)
  const { accessManager, token, jobMarket } = deployment.addresses
  const revoke = parameters.revokeParameterAdmins ?? [deployment.deployer]
  const revokeCurators = parameters.revokeModelCurators ?? [deployment.deployer]
  const revokeAttributors = parameters.revokeAttributors ?? [deployment.deployer]
  const modelCuratorRole = deployment.roles.modelCurator
  const attributionRole = deployment.roles.attribution

  try {
    const { deploy, manage: manageOn } = deploymentSteps(
      client,
      (message, details) => new GovernanceDeploymentError(message, details === undefined ? {} : { details }),
    )

    const [isAdmin] = await readContract(client, {
      address: accessManager,
      abi: accessManagerAbi,
      functionName: 'hasRole',
      args: [ProtocolRole.admin, deployer],
    })
    if (!isAdmin) {
      throw new GovernanceDeploymentError('the deploying account is not the AccessManager admin', {
        details: `${deployer} lacks role 0 on ${accessManager}`,
      })
    }

    // The governor is the timelock's only proposer; its address is known from the nonce before
    // it exists, so the timelock is born with no admin at all (it administers itself).
    const nonce = await getTransactionCount(client, { address: deployer, blockTag: 'pending' })
    const predictedGovernor = getContractAddress({ from: deployer, nonce: BigInt(nonce + 1) })
    const timelock = await deploy('TimelockController', {
      abi: timelockControllerAbi,
      bytecode: timelockControllerBytecode,
      // executor zero address: anyone may execute a proposal once it is ready
      args: [settings.timelockDelay, [predictedGovernor], [zeroAddress], zeroAddress],
      nonce,
    })
    const governor = await deploy('OpenGovernor', {
      abi: openGovernorAbi,
      bytecode: openGovernorBytecode,
      args: [
        token,
        timelock,
        settings.votingDelay,
        settings.votingPeriod,
        settings.proposalThreshold,
        BigInt(settings.quorumPercent),
      ],
      nonce: nonce + 1,
    })
    if (governor.toLowerCase() !== predictedGovernor.toLowerCase()) {
      throw new GovernanceDeploymentError('OpenGovernor landed at an unexpected address', {
        details: `expected ${predictedGovernor}, got ${governor}; was another transaction sent from the deployer meanwhile?`,
      })
    }

    const parameters_ = Object.keys(councilSetters) as CouncilParameter[]
    const council = await deploy('Council', {
      abi: councilAbi,
      bytecode: councilBytecode,
      args: [
        timelock,
        parameters.councilMembers ?? [],
        parameters_.map((name) => ({
          target: jobMarket,
          selector: toFunctionSelector(councilSetters[name]),
          min: councilBounds[name].min,
          max: councilBounds[name].max,
          cooldown: councilBounds[name].cooldown,
          delay: councilBounds[name].delay,
        })),
      ],
    })

    const manage = (functionName: AccessManagerCall, args: readonly unknown[]) =>
      manageOn(accessManager, functionName, args)
    await manage('setTargetFunctionRole', [
      jobMarket,
      parameters_.map((name) => toFunctionSelector(councilSetters[name])),
      OPERATIONS_ROLE,
    ])
    await manage('grantRole', [OPERATIONS_ROLE, council, 0])
    await manage('grantRole', [OPERATIONS_ROLE, timelock, 0])
    await manage('grantRole', [ProtocolRole.parameters, timelock, 0])
    // Model approval and revocation move to governance too. Not to the council: its changes
    // carry one bounded uint128 value, and a model id is a 32-byte hash no range can describe,
    // so a fast council revocation would mean an unbounded power. Older deployments without a
    // ModelRegistry have no such role.
    if (modelCuratorRole !== undefined) await manage('grantRole', [modelCuratorRole, timelock, 0])
    // Attribution weights decide who is paid from the pool, and like a model id a weights root is
    // a 32-byte hash no council range can bound: structural, so the timelock only. Deployments
    // from before the AttributionPool have no such role.
    if (attributionRole !== undefined) await manage('grantRole', [attributionRole, timelock, 0])
    // No role decides a dispute: the DisputeCourt's juries do, and the COURT role is the court's.
    await manage('grantRole', [ProtocolRole.admin, timelock, 0])
    for (const holder of revoke) {
      if (holder.toLowerCase() === timelock.toLowerCase()) continue
      await manage('revokeRole', [ProtocolRole.parameters, holder])
    }
    if (modelCuratorRole !== undefined) {
      for (const holder of revokeCurators) {
        if (holder.toLowerCase() === timelock.toLowerCase()) continue
        await manage('revokeRole', [modelCuratorRole, holder])
      }
    }
    if (attributionRole !== undefined) {
      for (const holder of revokeAttributors) {
        if (holder.toLowerCase() === timelock.toLowerCase()) continue
        await manage('revokeRole', [attributionRole, holder])
      }
    }
    // last: after this the deployer has no power left over the protocol
    await manage('renounceRole', [ProtocolRole.admin, deployer])

    const [deployerStillAdmin] = await readContract(client, {
      address: accessManager,
      abi: accessManagerAbi,
      functionName: 'hasRole',
      args: [ProtocolRole.admin, deployer],
    })
    const [timelockAdmin] = await readContract(client, {
      address: accessManager,
      abi: accessManagerAbi,
      functionName: 'hasRole',
      args: [ProtocolRole.admin, timelock],
    })
    if (deployerStillAdmin || !timelockAdmin) {
      throw new GovernanceDeploymentError('AccessManager admin did not move to the timelock')
    }
    if (parameters.outFile !== undefined) {
      await writeDeploymentFile(parameters.outFile, {
        ...deployment,
        governance: { governor, timelock, council },
      })
    }
    return { governor, timelock, council, roles: { operations: OPERATIONS_ROLE }, settings, councilBounds }
  } catch (err) {
    if (err instanceof GovernanceDeploymentError) throw err
    const cause = toContractsClientError(err, 'deployGovernance')
    throw new GovernanceDeploymentError('deploying governance failed', { details: cause.shortMessage, cause })
  }
}
