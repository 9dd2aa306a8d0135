import { OcnError } from '@ocn/protocol'
/**
 * Errors of @ocn/contracts-client: one base class with a stable `code`, in viem's spirit
 * (`shortMessage`, `details`, `cause`). Reverts are decoded against every protocol contract's
 * custom errors, so a revert bubbling up from the StakeManager through the JobMarket still
 * arrives with its name and arguments.
 */
import { ContractFunctionRevertedError, decodeErrorResult, type Hex, BaseError as ViemBaseError } from 'viem'
import {
  accessManagerAbi,
  attributionPoolAbi,
  datanetRegistryAbi,
  disputeCourtAbi,
  jobMarketAbi,
  modelMonitorAbi,
  modelRegistryAbi,
  openTokenAbi,
  stakeManagerAbi,
  zkVerifierRegistryAbi,
} from './generated/abis.js'

export const ContractsClientErrorCode = {
  /** a transaction or call reverted; see ContractRevertError.errorName */
  CONTRACT_REVERT: 'CONTRACT_REVERT',
  /** the RPC endpoint failed or answered something unusable */
  RPC: 'RPC',
  /** deploying or wiring the protocol failed */
  DEPLOYMENT: 'DEPLOYMENT',
  /** the embedded anvil could not be started or stopped */
  DEV_CHAIN: 'DEV_CHAIN',
  /** the event watcher could not make progress */
  WATCHER: 'WATCHER',
  /** the caller passed something invalid */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  ABORTED: 'ABORTED',
} as const
export type ContractsClientErrorCode =
  (typeof ContractsClientErrorCode)[keyof typeof ContractsClientErrorCode]

export interface ContractsClientErrorOptions {
  details?: string | undefined
  cause?: unknown
}

export class ContractsClientError extends OcnError<ContractsClientErrorCode> {
  override name = 'ContractsClientError'
}

/** A contract call reverted. `errorName` is the Solidity custom error (or `Error`/`Panic`). */
export class ContractRevertError extends ContractsClientError {
  override name = 'ContractRevertError'
  readonly errorName: string
  readonly args: readonly unknown[]
  /** raw revert data, when the node returned it */
  readonly data: Hex | undefined
  readonly functionName: string | undefined

  constructor(params: {
    errorName: string
    args: readonly unknown[]
    data?: Hex | undefined
    functionName?: string | undefined
    cause?: unknown
  }) {
    const argText = params.args
      .map((a) => (typeof a === 'bigint' ? a.toString() : JSON.stringify(a)))
      .join(', ')
    super(
      ContractsClientErrorCode.CONTRACT_REVERT,
      `${params.functionName ?? 'call'} reverted with ${params.errorName}(${argText})`,
      { cause: params.cause },
    )
    this.errorName = params.errorName
    this.args = params.args
    this.data = params.data
    this.functionName = params.functionName
  }
}

export class DevChainError extends ContractsClientError {
  override name = 'DevChainError'
  constructor(shortMessage: string, options: ContractsClientErrorOptions = {}) {
    super(ContractsClientErrorCode.DEV_CHAIN, shortMessage, options)
  }
}

export class DeploymentError extends ContractsClientError {
  override name = 'DeploymentError'
  constructor(shortMessage: string, options: ContractsClientErrorOptions = {}) {
    super(ContractsClientErrorCode.DEPLOYMENT, shortMessage, options)
  }
}

export class WatcherError extends ContractsClientError {
  override name = 'WatcherError'
  constructor(shortMessage: string, options: ContractsClientErrorOptions = {}) {
    super(ContractsClientErrorCode.WATCHER, shortMessage, options)
  }
}

/** Every custom error any protocol contract can revert with (inner calls bubble up). */
export const protocolErrorsAbi = [
  ...jobMarketAbi,
  ...datanetRegistryAbi,
  ...modelMonitorAbi,
  ...zkVerifierRegistryAbi,
  ...modelRegistryAbi,
  ...stakeManagerAbi,
  ...openTokenAbi,
  ...accessManagerAbi,
  // a JobMarket payout deposits into the pool, so its errors can bubble up through a settlement
  ...attributionPoolAbi,
  // the court's calls into the JobMarket and the StakeManager bubble up through it
  ...disputeCourtAbi,
].filter((item) => item.type === 'error')

/** Decodes raw revert data against the protocol's errors; undefined when unknown. */
export function decodeRevertData(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  try {
    const decoded = decodeErrorResult({ abi: protocolErrorsAbi, data })
    return { errorName: decoded.errorName, args: decoded.args ?? [] }
  } catch {
    return undefined
  }
}

function findRevertData(err: unknown): Hex | undefined {
  let current: unknown = err
  for (let depth = 0; current !== undefined && current !== null && depth < 16; depth++) {
    if (current instanceof ContractFunctionRevertedError && current.raw) return current.raw
    const data = (current as { data?: unknown }).data
    if (typeof data === 'string' && data.startsWith('0x') && data.length >= 10) return data as Hex
    if (typeof data === 'object' && data !== null) {
      const nested = (data as { data?: unknown }).data
      if (typeof nested === 'string' && nested.startsWith('0x') && nested.length >= 10) return nested as Hex
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Turns a viem error from a reverted call into a ContractRevertError (name and args decoded
 * against all protocol errors); other errors become ContractsClientError with code RPC, and
 * our own errors pass through unchanged.
 */
export function toContractsClientError(err: unknown, functionName?: string): ContractsClientError {
  if (err instanceof ContractsClientError) return err
  const data = findRevertData(err)
  if (data !== undefined) {
    const decoded = decodeRevertData(data)
    if (decoded) return new ContractRevertError({ ...decoded, data, functionName, cause: err })
  }
  if (err instanceof ViemBaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError)
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? (reverted.reason === undefined ? 'UnknownRevert' : 'Error')
      const args = reverted.data?.args ?? (reverted.reason === undefined ? [] : [reverted.reason])
      return new ContractRevertError({ errorName: name, args, data: reverted.raw, functionName, cause: err })
    }
    return new ContractsClientError(ContractsClientErrorCode.RPC, err.shortMessage, {
      details: err.details,
      cause: err,
    })
  }
  const message = err instanceof Error ? err.message : String(err)
  return new ContractsClientError(ContractsClientErrorCode.RPC, message, { cause: err })
}
