import {
  ContractsClientError,
  ContractsClientErrorCode,
  type ContractsClientErrorOptions,
  DeploymentError,
} from '../errors.js'
import {
  accessManagerAbi,
  councilAbi,
  jobMarketAbi,
  openGovernorAbi,
  stakeManagerAbi,
  timelockControllerAbi,
} from '../generated/abis.js'

/** Deploying or wiring governance failed (code DEPLOYMENT): a DeploymentError of its own name. */
export class GovernanceDeploymentError extends DeploymentError {
  override name = 'GovernanceDeploymentError'
}

/** A governance action got an argument it cannot use (code INVALID_ARGUMENT). */
export class GovernanceArgumentError extends ContractsClientError {
  override name = 'GovernanceArgumentError'
  constructor(shortMessage: string, options: ContractsClientErrorOptions = {}) {
    super(ContractsClientErrorCode.INVALID_ARGUMENT, shortMessage, options)
  }
}

/**
 * Every custom error a governance call can revert with: the governor's and timelock's own, the
 * council's, and those of the protocol contracts a proposal or council change ends up calling
 * (they bubble up), so reverts arrive decoded with name and arguments.
 */
export const governanceErrorsAbi = [
  ...openGovernorAbi,
  ...timelockControllerAbi,
  ...councilAbi,
  ...accessManagerAbi,
  ...jobMarketAbi,
  ...stakeManagerAbi,
].filter((item) => item.type === 'error')
