/**
 * Deploys the DatanetRegistry beside the protocol: its parameter setter goes to the PARAMETERS
 * role, and the registry itself gets the AttributionPool's ATTRIBUTION role, which is how a
 * finalized job's committed weights reach the pool with no trusted hand (whoever else holds the
 * role, the timelock after `deployGovernance`, keeps only the override).
 */
import { type Address, toFunctionSelector } from 'viem'
import { datanetRegistryAbi, datanetRegistryBytecode } from '../generated/abis.js'
import type { deploymentSteps } from '../internal.js'
import { ProtocolRole } from '../types.js'
import type { DatanetParameters } from './params.js'

const DATANET_PARAMETER_FUNCTIONS = ['setParams((uint96,uint96,uint32,uint32,uint16,uint16,uint8))']

export async function deployDatanetRegistry(
  steps: Pick<ReturnType<typeof deploymentSteps>, 'deploy' | 'manage'>,
  addresses: {
    accessManager: Address
    token: Address
    jobMarket: Address
    modelRegistry: Address
    attributionPool: Address
  },
  params: DatanetParameters,
): Promise<Address> {
  const { accessManager, token, jobMarket, modelRegistry, attributionPool } = addresses
  const registry = await steps.deploy('DatanetRegistry', {
    abi: datanetRegistryAbi,
    bytecode: datanetRegistryBytecode,
    args: [accessManager, token, jobMarket, modelRegistry, attributionPool, params],
  })
  await steps.manage(accessManager, 'setTargetFunctionRole', [
    registry,
    DATANET_PARAMETER_FUNCTIONS.map((s) => toFunctionSelector(s)),
    ProtocolRole.parameters,
  ])
  await steps.manage(accessManager, 'grantRole', [ProtocolRole.attribution, registry, 0])
  return registry
}
