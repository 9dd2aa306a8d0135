/**
 * Wires the gated model release: the ModelRegistry's gate setter to the PARAMETERS role, the
 * rulings on objections and reinstatement to the MODEL_CURATOR role (the timelock after
 * `deployGovernance`), and the ModelMonitor, deployed here, as the only holder of the
 * MODEL_MONITOR role that may suspend a model.
 */
import { type Address, toFunctionSelector } from 'viem'
import { modelMonitorAbi, modelMonitorBytecode } from '../generated/abis.js'
import type { deploymentSteps } from '../internal.js'
import { ProtocolRole } from '../types.js'
import type { ModelMonitorParameters } from './params.js'

const selectors = (signatures: string[]) => signatures.map((s) => toFunctionSelector(s))

export async function deployModelMonitor(
  steps: Pick<ReturnType<typeof deploymentSteps>, 'deploy' | 'manage'>,
  addresses: { accessManager: Address; jobMarket: Address; disputeCourt: Address; modelRegistry: Address },
  params: ModelMonitorParameters,
): Promise<Address> {
  const { accessManager, jobMarket, disputeCourt, modelRegistry } = addresses
  const monitor = await steps.deploy('ModelMonitor', {
    abi: modelMonitorAbi,
    bytecode: modelMonitorBytecode,
    args: [accessManager, jobMarket, disputeCourt, modelRegistry, params],
  })
  const manage = (functionName: 'setTargetFunctionRole' | 'grantRole', args: readonly unknown[]) =>
    steps.manage(accessManager, functionName, args)
  await manage('setTargetFunctionRole', [
    modelRegistry,
    selectors(['setReleaseParams((uint32,uint96))']),
    ProtocolRole.parameters,
  ])
  await manage('setTargetFunctionRole', [
    modelRegistry,
    selectors(['resolveObjection(bytes32,bool)', 'reinstateModel(bytes32)']),
    ProtocolRole.modelCurator,
  ])
  await manage('setTargetFunctionRole', [
    modelRegistry,
    selectors(['suspendModel(bytes32)']),
    ProtocolRole.modelMonitor,
  ])
  await manage('setTargetFunctionRole', [
    monitor,
    selectors(['setParams((uint32,uint16,uint16))']),
    ProtocolRole.parameters,
  ])
  // the monitor contract only: no account can suspend a model
  await manage('grantRole', [ProtocolRole.modelMonitor, monitor, 0])
  return monitor
}
