// The JobMarket runs every selector it does not hold in its JobMarketExtension by delegatecall
// (JobMarketState.sol). What must hold for that to be safe: the market refuses an extension
// built with other immutables (it would move another token or lock stake elsewhere on the
// market's storage), the extension called directly governs nothing, the market's fallback
// passes the extension's errors through by name, and a selector neither contract has reverts.
import { encodeFunctionData, type Hex, parseEther, toFunctionSelector } from 'viem'
import { call, deployContract, readContract, waitForTransactionReceipt } from 'viem/actions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ContractRevertError,
  expire,
  jobMarketAbi,
  jobMarketBytecode,
  jobMarketExtensionAbi,
  jobMarketExtensionBytecode,
  setProtocolFee,
  toContractsClientError,
} from '../src/index.js'
import { expectRevert, type Protocol, setupProtocol } from './helpers.js'

let p: Protocol

beforeAll(async () => {
  p = await setupProtocol()
})

afterAll(async () => {
  await p?.chain.stop()
})

/** Deploys with `args`, returning the revert as a typed error (or the address). */
async function deployOrRevert(
  abi: readonly unknown[],
  bytecode: Hex,
  args: readonly unknown[],
): Promise<ContractRevertError | Hex> {
  try {
    const hash = await deployContract(p.admin, { abi, bytecode, args } as Parameters<
      typeof deployContract
    >[1])
    const receipt = await waitForTransactionReceipt(p.admin, { hash })
    if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error('deployment reverted')
    return receipt.contractAddress
  } catch (err) {
    const typed = toContractsClientError(err)
    if (typed instanceof ContractRevertError) return typed
    throw err
  }
}

describe('JobMarket extension', () => {
  it('is the extension the deployment built, with the same immutables as the market', async () => {
    const { jobMarket, token, stakeManager } = p.deployment.addresses
    const extension = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'extension',
    })
    expect(extension).not.toBe(jobMarket)
    for (const [name, expected] of [
      ['token', token],
      ['stakeManager', stakeManager],
    ] as const) {
      const own = await readContract(p.admin, {
        address: extension,
        abi: jobMarketExtensionAbi,
        functionName: name,
      })
      expect(own.toLowerCase()).toBe(expected.toLowerCase())
    }
  })

  it('the market refuses an extension built for another stake manager', async () => {
    const { jobMarket, token, zkVerifierRegistry, modelRegistry, attributionPool, accessManager } =
      p.deployment.addresses
    // built with the token's address where the StakeManager belongs: code that would lock and
    // slash stake in a contract the market does not use
    const wrong = await deployOrRevert(jobMarketExtensionAbi, jobMarketExtensionBytecode, [
      token,
      token,
      zkVerifierRegistry,
      modelRegistry,
      attributionPool,
    ])
    expect(typeof wrong).toBe('string')
    const params = await readContract(p.admin, {
      address: jobMarket,
      abi: jobMarketAbi,
      functionName: 'params',
    })
    const result = await deployOrRevert(jobMarketAbi, jobMarketBytecode, [
      token,
      p.deployment.addresses.stakeManager,
      zkVerifierRegistry,
      modelRegistry,
      accessManager,
      p.treasury.account.address,
      { ...params, treasuryAccrued: 0n },
      parseEther('1'),
      0n,
      { pool: attributionPool, shareBps: 0 },
      wrong as Hex,
    ])
    expect(result).toBeInstanceOf(ContractRevertError)
    expect((result as ContractRevertError).errorName).toBe('InvalidParameter')
    expect((result as ContractRevertError).args).toEqual(['extension'])
  })

  it('called directly, the extension governs nothing: it has no authority of its own', async () => {
    const extension = await readContract(p.admin, {
      address: p.deployment.addresses.jobMarket,
      abi: jobMarketAbi,
      functionName: 'extension',
    })
    // the deployer holds the AccessManager's admin role, which may call any unconfigured target
    const err = await expectRevert(
      setProtocolFee(p.admin, { jobMarket: extension, protocolFeeBps: 100 }),
      'AccessManagedUnauthorized',
    )
    expect(err.args[0]).toBe(p.admin.account.address)
  })

  it("passes the extension's errors through the market by name", async () => {
    // expire runs in the extension: a job never awarded is refused with the extension's error
    const jobId = `0x${'ab'.repeat(32)}` as Hex
    const err = await expectRevert(
      expire(p.other, { jobMarket: p.deployment.addresses.jobMarket, jobId }),
      'InvalidJobStatus',
    )
    expect(err.args).toEqual([jobId, 0])
  })

  it('a selector neither contract holds reverts, and ether is refused', async () => {
    const { jobMarket } = p.deployment.addresses
    const data = `${toFunctionSelector('noSuchFunction(uint256)')}${'00'.repeat(32)}` as Hex
    await expect(call(p.admin, { to: jobMarket, data })).rejects.toThrow()
    const valid = encodeFunctionData({ abi: jobMarketAbi, functionName: 'challengeWindow' })
    await expect(call(p.admin, { to: jobMarket, data: valid, value: 1n })).rejects.toThrow()
    const window = await call(p.admin, { to: jobMarket, data: valid })
    expect(BigInt(window.data ?? '0x0')).toBe(BigInt(p.deployment.params.challengeWindow))
  })
})
